"""Scenarios: what the simulated person does with an inquiry, and when.

The scenario rule (documented behaviour of the sandbox)
=======================================================

Every inquiry gets a scenario when it is created: an *outcome* and a *delay* (how long the
person takes, in sandbox seconds).

1. If the create request's `note` contains `sandbox-outcome=<outcome>`, that outcome is used;
   `<outcome>` is one of `approved`, `declined`, `completed`, `failed`, `needs_review`,
   `review_approved`, `review_declined`, `expired`, `abandoned` (`-` may stand for `_`). Any
   other value is refused with 422. If the note contains `sandbox-after=<seconds>`, that is the
   delay. Example note: `"sandbox-outcome=review_declined sandbox-after=40"`.
2. Otherwise the outcome is drawn from `SandboxConfig.outcome_mix` (default approved 0.6,
   declined 0.2, needs_review 0.1, failed 0.1) and the delay from `SandboxConfig.delay_range_s`
   (default 5-120 s), both *deterministically* from the inquiry id (SHA-256 of the id mapped
   onto the weights and the range), so the same id always gets the same scenario.

With C = creation time, D = delay, `decision_after_s` and `review_after_s` from the config:

| outcome           | C + D/3    | C + D                   | + decision_after_s | + review_after_s |
| ----------------- | ---------- | ----------------------- | ------------------ | ---------------- |
| `approved`        | pending    | completed, checks pass  | approved           |                  |
| `declined`        | pending    | completed, selfie fails | declined           |                  |
| `completed`       | pending    | completed, checks pass  |                    |                  |
| `failed`          | pending    | failed, id fails        |                    |                  |
| `needs_review`    | pending    | completed, flagged      | needs_review       |                  |
| `review_approved` | pending    | completed, flagged      | needs_review       | approved         |
| `review_declined` | pending    | completed, flagged      | needs_review       | declined         |
| `abandoned`       | pending    | (never finishes)        |                    |                  |
| `expired`         | never starts; its `expires-at` is C + D and it expires then             |

"flagged": an optional check fails, so the verifications still pass. "id fails": the government
id is expired (a required check). "selfie fails": the selfie does not match (a required check).
At "pending" a `verification/government-id` is created (`initiated`); at C + D it is submitted
and passes or fails, and a `verification/selfie` is created, submitted and passes or fails.
A declined or failed inquiry always has at least one failed *required* check.

Every inquiry still `created` or `pending` at its `expires-at` (creation + 24 h, or
`meta.expiration-after-create-interval-seconds`) expires then, cancelling initiated
verifications. Resuming an expired inquiry re-plans the rest from the resume time R: the person
finishes at R + 2D/3 and the decision steps follow as above; the new `expires-at` is R +
`meta.expiration-after-resume-interval-seconds` (default `expiry_s`, 24 h), which is all an
`expired` or `abandoned` scenario waits for. Any manual action (approve, decline,
mark-for-review, expire, redact, or any simulate action) ends the scenario: afterwards only
expiry moves the inquiry on its own.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

__all__ = [
    "Finish",
    "Outcome",
    "PlannedStep",
    "Scenario",
    "StepKind",
    "choose_scenario",
    "plan_steps",
]


class Outcome(StrEnum):
    """Where a scenario ends."""

    approved = "approved"
    declined = "declined"
    completed = "completed"
    failed = "failed"
    needs_review = "needs_review"
    review_approved = "review_approved"
    review_declined = "review_declined"
    expired = "expired"
    abandoned = "abandoned"


class StepKind(StrEnum):
    """A scheduled step of a scenario."""

    start = "start"  #: the person opens the flow: pending, government id initiated
    finish = "finish"  #: the person is done: verifications decided, completed or failed
    decide = "decide"  #: the automatic decision: approved, declined or needs_review
    review = "review"  #: the reviewer's decision after needs_review


class Finish(StrEnum):
    """How the verifications turn out at the finish step."""

    passed = "passed"  #: every check passes
    flagged = "flagged"  #: an optional check fails; verifications still pass
    selfie_failed = "selfie_failed"  #: the selfie comparison (required) fails
    id_failed = "id_failed"  #: the government id is expired (required); the inquiry fails


@dataclass(frozen=True, slots=True)
class Scenario:
    """What the simulated person does: the outcome and how long they take."""

    outcome: Outcome
    delay_s: float
    source: str
    """`note` when the create note chose it, `mix` when drawn from the config."""

    def to_json(self) -> dict[str, Any]:
        """JSON-ready description (admin views)."""
        return {"outcome": self.outcome.value, "delay_s": self.delay_s, "source": self.source}


@dataclass(frozen=True, slots=True)
class PlannedStep:
    """One step to apply at a sandbox time."""

    at: datetime
    kind: StepKind
    result: str
    """For `finish` a `Finish` value; for `decide`/`review` the status to set."""


_OUTCOME_RE: Final = re.compile(r"sandbox-outcome=([A-Za-z_\-]+)")
_AFTER_RE: Final = re.compile(r"sandbox-after=(\d+(?:\.\d+)?)")
_FINISH: Final[Mapping[Outcome, Finish]] = {
    Outcome.approved: Finish.passed,
    Outcome.completed: Finish.passed,
    Outcome.declined: Finish.selfie_failed,
    Outcome.failed: Finish.id_failed,
    Outcome.needs_review: Finish.flagged,
    Outcome.review_approved: Finish.flagged,
    Outcome.review_declined: Finish.flagged,
}
_DECISION: Final[Mapping[Outcome, str]] = {
    Outcome.approved: "approved",
    Outcome.declined: "declined",
    Outcome.needs_review: "needs_review",
    Outcome.review_approved: "needs_review",
    Outcome.review_declined: "needs_review",
}
_REVIEW: Final[Mapping[Outcome, str]] = {
    Outcome.review_approved: "approved",
    Outcome.review_declined: "declined",
}


def _unit(inquiry_id: str, salt: str) -> float:
    """A number in [0, 1) fixed by the inquiry id."""
    digest = hashlib.sha256(f"{salt}:{inquiry_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def choose_scenario(
    inquiry_id: str,
    note: str | None,
    *,
    mix: Mapping[str, float],
    delay_range_s: tuple[float, float],
) -> Scenario:
    """Apply the scenario rule of this module to a new inquiry.

    Args:
        inquiry_id: the new inquiry's id (seeds the deterministic draws).
        note: the create request's note, which may name the outcome and delay.
        mix: outcome weights for inquiries whose note names no outcome.
        delay_range_s: delay range for inquiries whose note names no delay.

    Raises:
        ValueError: the note names an unknown outcome.
    """
    note = note or ""
    low, high = delay_range_s
    after = _AFTER_RE.search(note)
    delay = float(after.group(1)) if after else low + (high - low) * _unit(inquiry_id, "delay")
    named = _OUTCOME_RE.search(note)
    if named:
        value = named.group(1).replace("-", "_").lower()
        try:
            return Scenario(Outcome(value), delay, "note")
        except ValueError:
            raise ValueError(f"unknown sandbox-outcome {named.group(1)!r}") from None
    draw = _unit(inquiry_id, "outcome") * sum(mix.values())
    chosen = None
    for outcome in Outcome:  # declaration order keeps the draw independent of dict order
        weight = mix.get(outcome.value, 0.0)
        if weight <= 0:
            continue
        chosen = outcome
        if draw < weight:
            break
        draw -= weight
    if chosen is None:
        raise ValueError("outcome mix has no positive weight")
    return Scenario(chosen, delay, "mix")


def plan_steps(
    scenario: Scenario,
    anchor: datetime,
    *,
    started: bool,
    decision_after_s: float,
    review_after_s: float,
) -> list[PlannedStep]:
    """The scenario's steps from `anchor` on, in time order.

    Args:
        scenario: the inquiry's scenario.
        anchor: creation time, or the resume time of a resumed inquiry.
        started: whether the person already started (a resumed inquiry is pending).
        decision_after_s: wait from finish to the automatic decision.
        review_after_s: wait in needs_review before a review decision.
    """
    outcome, delay = scenario.outcome, scenario.delay_s
    if outcome is Outcome.expired:
        return []
    steps = []
    if not started:
        steps.append(PlannedStep(anchor + timedelta(seconds=delay / 3), StepKind.start, ""))
    if outcome is Outcome.abandoned:
        return steps
    finish_at = anchor + timedelta(seconds=delay if not started else delay * 2 / 3)
    steps.append(PlannedStep(finish_at, StepKind.finish, _FINISH[outcome].value))
    decision = _DECISION.get(outcome)
    if decision is None:
        return steps
    decide_at = finish_at + timedelta(seconds=decision_after_s)
    steps.append(PlannedStep(decide_at, StepKind.decide, decision))
    review = _REVIEW.get(outcome)
    if review is not None:
        review_at = decide_at + timedelta(seconds=review_after_s)
        steps.append(PlannedStep(review_at, StepKind.review, review))
    return steps

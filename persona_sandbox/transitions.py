"""The inquiry status rules: which action may run from which status, and what it leads to.

| action            | allowed from                                   | status after         |
| ----------------- | ---------------------------------------------- | -------------------- |
| start             | created                                        | pending              |
| complete, fail    | created, pending (created is started first)    | completed, failed    |
| expire            | created, pending                               | expired              |
| mark_for_review   | created, pending, completed, failed, expired   | needs_review         |
| approve, decline  | every status but approved and declined         | approved, declined   |
| resume            | created, pending, expired                      | expired -> pending   |
| one_time_link     | created, pending (expired: resume first)       | unchanged            |
| verification      | created, pending (created is started)          | pending              |

Refusals are Persona's 409 (the state does not allow the action); any action on a redacted
inquiry is a 422 (redacting twice is refused by the redact handler with 409 "Inquiry already
redacted"). Simulate-action lists are checked as a whole before anything changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

from persona_sandbox.errors import RefusalError, conflict, unprocessable
from persona_sandbox.records import InquiryRecord

__all__ = ["ALLOWED_FROM", "LIVE", "Action", "check_sequence", "ensure_allowed"]

#: Statuses in which the person may still act, and in which an inquiry expires.
LIVE: Final = frozenset({"created", "pending"})
_ALL: Final = frozenset(
    {"created", "pending", "completed", "failed", "expired", "needs_review", "approved", "declined"}
)


class Action(StrEnum):
    """Everything that can change an inquiry's status."""

    start = "start"
    complete = "complete"
    fail = "fail"
    expire = "expire"
    mark_for_review = "mark_for_review"
    approve = "approve"
    decline = "decline"
    resume = "resume"
    one_time_link = "one_time_link"
    verification = "verification"


ALLOWED_FROM: Final[Mapping[Action, frozenset[str]]] = {
    Action.start: frozenset({"created"}),
    Action.complete: LIVE,
    Action.fail: LIVE,
    Action.expire: LIVE,
    Action.mark_for_review: _ALL - {"needs_review", "approved", "declined"},
    Action.approve: _ALL - {"approved", "declined"},
    Action.decline: _ALL - {"approved", "declined"},
    Action.resume: frozenset({"created", "pending", "expired"}),
    Action.one_time_link: LIVE,
    Action.verification: LIVE,
}
_AFTER: Final[Mapping[Action, str]] = {
    Action.start: "pending",
    Action.complete: "completed",
    Action.fail: "failed",
    Action.expire: "expired",
    Action.mark_for_review: "needs_review",
    Action.approve: "approved",
    Action.decline: "declined",
    Action.verification: "pending",
}

_VERBS: Final[Mapping[Action, str]] = {
    Action.mark_for_review: "mark for review",
    Action.one_time_link: "generate a one-time link for",
    Action.verification: "create a verification on",
}


def _refusal(action: Action, status: str) -> RefusalError:
    if action is Action.mark_for_review and status in ("approved", "declined"):
        return conflict(
            "Inquiries that are already approved or declined cannot be marked for review"
        )
    if action is Action.one_time_link and status == "expired":
        return conflict("Cannot generate a one-time link for an expired inquiry; resume it first")
    allowed = ", ".join(sorted(ALLOWED_FROM[action]))
    verb = _VERBS.get(action, action.value)
    return conflict(f"Cannot {verb} an inquiry with status {status!r} (allowed from: {allowed})")


def ensure_allowed(action: Action, inquiry: InquiryRecord) -> None:
    """Refuse an action the inquiry's state does not allow.

    Raises:
        RefusalError: 422 for a redacted inquiry, 409 for a status that does not allow it.
    """
    if inquiry.redacted_at is not None:
        raise unprocessable(f"Inquiry {inquiry.id} has been redacted")
    if inquiry.status not in ALLOWED_FROM[action]:
        raise _refusal(action, inquiry.status)


def check_sequence(actions: list[tuple[Action, str]], inquiry: InquiryRecord) -> None:
    """Refuse a list of simulate actions if any step is not allowed where it lands.

    Args:
        actions: (action, simulate action name) in request order.
        inquiry: the inquiry they would run on.

    Raises:
        RefusalError: naming the first refused action and its index.
    """
    if inquiry.redacted_at is not None:
        raise unprocessable(f"Inquiry {inquiry.id} has been redacted")
    status = inquiry.status
    for index, (action, name) in enumerate(actions):
        if status not in ALLOWED_FROM[action]:
            refusal = _refusal(action, status)
            refusal.details = f"meta.simulate-actions[{index}] {name}: {refusal.details}"
            raise refusal
        status = _AFTER.get(action, status)

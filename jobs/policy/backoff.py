"""When to check an inquiry again, and when to give up (pure policy, never sleeps).

Status checks back off exponentially with full jitter, from `POLL_MIN_INTERVAL_S` to
`POLL_MAX_INTERVAL_S`: people take seconds to minutes, so early checks are cheap and later ones
rare, and jitter keeps many inquiries created together from checking together. While a human
reviews (`needs_review`) the cadence is the slower `POLL_REVIEW_INTERVAL_S`. Polling ends at a
deadline: while the person can still act, the inquiry's own `expires-at` plus a grace period
(after that Persona has expired it); afterwards, a long horizon for reviews.

A job retrying after a failure waits `retry_delay`, the one rule for that: the wait a 429
asked for (plus a little jitter), else the same full-jitter shape with the job's own base and
cap. Failed attempts are counted from 1, so the wait after the first failure is
`retry_delay(1, ...)`, and it is the job's shortest. A rate-limit refusal is a wait, not a
failure (`counts_as_failure`): a job counts its own failures (`jobs.state.attempts`, never
arq's `job_try`, which also counts waits and re-runs) and gives up by its `RetryBudget`: so
many failures, or a deadline after its first run, whichever comes first.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from jobs.persona.errors import RateLimitedError, clamp_server_wait
from jobs.policy.status import PERSON_ACTIVE, InquiryStatus, parse_status

__all__ = [
    "PollPolicy",
    "RetryBudget",
    "counts_as_failure",
    "full_jitter",
    "retry_delay",
]

#: Without an `expires-at`, assume Persona's default: 24 hours after creation.
DEFAULT_EXPIRY = timedelta(hours=24)


def full_jitter(doublings: int, *, base_s: float, cap_s: float, rng: random.Random) -> float:
    """A delay drawn uniformly from [base, min(cap, base * 2**doublings)].

    The shape under both the polling cadence and `retry_delay`; callers say how far along they
    are in their own numbering.

    Args:
        doublings: how often the ceiling has doubled: 0 for the first wait (exactly `base_s`).
        base_s: the shortest wait.
        cap_s: the longest wait.
        rng: the random source (seeded in tests).
    """
    ceiling = min(cap_s, base_s * 2 ** min(max(doublings, 0), 62))
    return rng.uniform(base_s, max(base_s, ceiling))


def _asked_wait(error: BaseException | None, rng: random.Random) -> float | None:
    """The wait a rate-limit refusal asks for, jittered by up to a second; None otherwise.

    The jitter spreads the workers a window deferred together; the wait does not grow with the
    attempts, because a rate limit is not the job's failure. It is never longer than
    `MAX_SERVER_WAIT_S` (plus the jitter), whatever the error was built with.
    """
    if not isinstance(error, RateLimitedError):
        return None
    return clamp_server_wait(error.wait_s) + rng.uniform(0, 1)


def counts_as_failure(error: BaseException) -> bool:
    """Whether an attempt that ended with `error` failed (a rate-limit refusal is a wait)."""
    return not isinstance(error, RateLimitedError)


def retry_delay(
    attempt: int,
    *,
    base_s: float,
    cap_s: float,
    rng: random.Random,
    error: BaseException | None = None,
) -> float:
    """Seconds a job waits before it runs again after a failed attempt.

    Args:
        attempt: the failed attempts so far, this one included (at least 1).
        base_s: the job's shortest wait, after its first failed attempt.
        cap_s: the job's longest wait.
        rng: the random source (seeded in tests).
        error: what the attempt failed with: a `RateLimitedError` is waited out
            (`RateLimitedError.wait_s`) instead of backing off.
    """
    asked = _asked_wait(error, rng)
    if asked is not None:
        return asked
    return full_jitter(attempt - 1, base_s=base_s, cap_s=cap_s, rng=rng)


@dataclass(frozen=True, slots=True)
class RetryBudget:
    """How a job retries: its backoff, and when it stops (failures or deadline, first wins)."""

    base_s: float
    """The shortest wait, after the first failure."""
    cap_s: float
    """The longest wait between two failed attempts."""
    deadline_s: float
    """No try starts this long after the job's first run; waits count towards it."""
    max_failures: int | None = None
    """Failed attempts that end the job; None leaves it to the deadline alone."""

    def next_try(
        self,
        failures: int,
        error: BaseException,
        *,
        first_run_at: float,
        now: float,
        rng: random.Random,
    ) -> float | None:
        """Seconds until the next try after an attempt ended with `error`; None: give up.

        Args:
            failures: the job's failed attempts so far, `error`'s included when it counts
                (`counts_as_failure`).
            error: what the attempt ended with.
            first_run_at: when the job first ran (unix seconds).
            now: the current time (unix seconds).
            rng: the random source (seeded in tests).
        """
        if self.max_failures is not None and failures >= self.max_failures:
            return None
        delay = retry_delay(
            max(failures, 1), base_s=self.base_s, cap_s=self.cap_s, rng=rng, error=error
        )
        if now + delay >= first_run_at + self.deadline_s:
            return None
        return delay


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """The polling cadence and deadline rules, from settings."""

    min_interval_s: float
    max_interval_s: float
    review_interval_s: float
    deadline_grace_s: float
    review_horizon_s: float = 30 * 86_400.0

    def next_delay(
        self, attempt: int, status: str, rng: random.Random, *, error: BaseException | None = None
    ) -> float:
        """Seconds until the next status check after check number `attempt` (0-based).

        A check that failed with a rate-limit refusal (`error`) waits that out, as `retry_delay`
        does; any other failure keeps the cadence.
        """
        asked = _asked_wait(error, rng)
        if asked is not None:
            return asked
        if parse_status(status) is InquiryStatus.needs_review:
            # A human is looking: check rarely, with a little jitter to spread the load.
            return self.review_interval_s * rng.uniform(0.9, 1.1)
        return full_jitter(attempt, base_s=self.min_interval_s, cap_s=self.max_interval_s, rng=rng)

    def deadline(
        self,
        status: str,
        *,
        expires_at: datetime | None,
        created_at: datetime | None,
        followed_since: datetime,
    ) -> datetime:
        """The moment polling gives up on this inquiry.

        While the person can still act, that is the inquiry's expiry plus a grace period (Persona
        then reports `expired`, which ends polling by default). Once the person is done, the
        wait is for a decision, bounded by the review horizon.
        """
        parsed = parse_status(status)
        grace = timedelta(seconds=self.deadline_grace_s)
        if parsed in PERSON_ACTIVE:
            return (expires_at or (created_at or followed_since) + DEFAULT_EXPIRY) + grace
        if parsed is InquiryStatus.expired:
            # Only a resume revives it, and a resume puts it back under polling anew.
            return (expires_at or followed_since) + grace
        return followed_since + timedelta(seconds=self.review_horizon_s)

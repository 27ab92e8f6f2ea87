"""A retrying job's own record of its failed attempts, so that waiting never counts as failing.

arq's `job_try` goes up on every pickup: after a failure, but also after each wait for a rate
limit window (a 429, or the shared limiter deferring the job), each re-run after a Redis error
and each re-run after a deploy. A budget counted in `job_try` ends jobs that never failed: eight
429 windows used to end an action with `job.failed`. Jobs that retry therefore count their own
failures here, only when an attempt really failed, and end by a deadline measured from their
first run; arq's `max_tries` for them sits far above anything they reach (`worker.arq_settings`).

One hash per job id (`{KEY_PREFIX}attempts:{job_id}`): `first_run_at` (unix seconds, written by the
first run only) and `failures`. It expires `ttl_s` after its last change and is dropped when the
job has its answer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

from redis.asyncio import Redis

from jobs.policy.backoff import RetryBudget, counts_as_failure
from jobs.state.keys import KeySpace

__all__ = ["ATTEMPTS_TTL_S", "AttemptLedger", "Attempts"]

#: How long a job's record outlives its last change: longer than any job's deadline.
ATTEMPTS_TTL_S: Final = 2 * 86_400

# KEYS[1] the job's hash. ARGV: now, ttl. Returns {first_run_at, failures}.
_BEGIN: Final = """
redis.call('HSETNX', KEYS[1], 'first_run_at', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return redis.call('HMGET', KEYS[1], 'first_run_at', 'failures')
"""


@dataclass(frozen=True, slots=True)
class Attempts:
    """Where one job stands: when it first ran and how many attempts failed so far."""

    first_run_at: float
    failures: int

    def past(self, deadline_s: float, now: float) -> bool:
        """Whether `now` is `deadline_s` or more after the first run."""
        return now >= self.first_run_at + deadline_s


class AttemptLedger:
    """Reads and counts the failed attempts of jobs, over a decoding Redis client."""

    def __init__(self, redis: Redis, keys: KeySpace, *, ttl_s: int = ATTEMPTS_TTL_S) -> None:
        self._redis = redis
        self._keys = keys
        self._ttl_s = ttl_s
        self._begin = redis.register_script(_BEGIN)

    async def begin(self, job_id: str, now: float) -> Attempts:
        """Open (or reopen, on a re-run) the job's record; where it stands."""
        key = self._keys.attempts(job_id)
        first, failures = await self._begin(keys=[key], args=[repr(now), self._ttl_s])
        return Attempts(float(first), int(failures or 0))

    async def failed(self, job_id: str) -> int:
        """Count one failed attempt; the failures so far, this one included."""
        key = self._keys.attempts(job_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hincrby(key, "failures", 1)
            pipe.expire(key, self._ttl_s)
            count, _ = await pipe.execute()
        return int(count)

    async def next_try(
        self,
        job_id: str,
        attempts: Attempts,
        error: BaseException,
        budget: RetryBudget,
        *,
        now: float,
        rng: random.Random,
    ) -> float | None:
        """Count the attempt that ended with `error` (unless it was a wait) and ask `budget`.

        Returns:
            Seconds until the job runs again, or None when it must give up.
        """
        failures = await self.failed(job_id) if counts_as_failure(error) else attempts.failures
        return budget.next_try(
            failures, error, first_run_at=attempts.first_run_at, now=now, rng=rng
        )

    async def clear(self, job_id: str) -> None:
        """Forget the job's record once it has its answer."""
        await self._redis.delete(self._keys.attempts(job_id))

"""How long a SIGKILLed worker's jobs take to come back, measured from Redis alone.

arq marks a job as taken with `arq:in-progress:<id>`, set once with a lifetime of the longest
job timeout plus 10 s and deleted when the job finishes or retries. A killed worker deletes
nothing, so its jobs stay taken until that key expires (arq #402); then another worker picks
them up, which increments `arq:retry:<id>`.

At each kill every in-progress job is recorded with its key's remaining lifetime and its retry
counter. A job whose key vanished well before that lifetime ran out belonged to a live worker
(it finished or retried); one whose key lasted its whole lifetime belonged to the killed worker,
and it "came back" when its retry counter went up (or it finished). Live workers' jobs end at
least 10 s before their key would expire (the job timeout is 10 s shorter), so the two cannot be
confused. Cron jobs (the polling tick, the sweep) keep their key on purpose and are left out.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Final

from redis.asyncio import Redis

from jobs.state.keys import ARQ_IN_PROGRESS_PREFIX, ARQ_JOB_PREFIX, is_cron_job_id

__all__ = ["KillTracker", "RecoveryFigures"]

RETRY_PREFIX: Final = "arq:retry:"
#: Slack when deciding that a key expired rather than was deleted (poll period + clock noise).
_EXPIRY_SLACK_S: Final = 1.5


@dataclass
class _Stranded:
    job_id: str
    killed_at: float
    expires_at: float
    retry_before: int
    gone_at: float | None = None
    back_after_s: float | None = None
    live: bool = False


@dataclass(frozen=True, slots=True)
class RecoveryFigures:
    """What the kills did to the jobs they interrupted."""

    kills: int
    jobs_in_flight: int
    """Jobs of killed workers (stranded until their in-progress key expired)."""
    jobs_back: int
    """Of those, how many another worker picked up again (or finished) before the run ended."""
    max_back_s: float | None
    median_back_s: float | None
    bound_s: float
    """arq's in-progress lifetime: JOB_TIMEOUT_S + 10 s."""


@dataclass
class KillTracker:
    """Records the jobs in flight at each kill and watches them come back."""

    bound_s: float
    kills: int = 0
    _tracked: dict[tuple[int, str], _Stranded] = field(default_factory=dict)

    async def killed(self, redis: Redis) -> None:
        """Snapshot every in-progress job right after a worker was killed."""
        self.kills += 1
        now = time.monotonic()
        job_ids = [
            key.removeprefix(ARQ_IN_PROGRESS_PREFIX)
            async for key in redis.scan_iter(match=ARQ_IN_PROGRESS_PREFIX + "*", count=1000)
        ]
        job_ids = [job_id for job_id in job_ids if not is_cron_job_id(job_id)]
        if not job_ids:
            return
        async with redis.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.pttl(ARQ_IN_PROGRESS_PREFIX + job_id)
                pipe.get(RETRY_PREFIX + job_id)
            answers = await pipe.execute()
        for index, job_id in enumerate(job_ids):
            pttl, retry = answers[2 * index], answers[2 * index + 1]
            if pttl is None or int(pttl) < 0:
                continue
            self._tracked[(self.kills, job_id)] = _Stranded(
                job_id=job_id,
                killed_at=now,
                expires_at=now + int(pttl) / 1000,
                retry_before=int(retry or 0),
            )

    async def watch(self, redis: Redis) -> None:
        """Look once at every job not yet back (call it every fraction of a second)."""
        open_ = [item for item in self._tracked.values() if item.back_after_s is None]
        open_ = [item for item in open_ if not item.live]
        if not open_:
            return
        async with redis.pipeline(transaction=False) as pipe:
            for item in open_:
                pipe.exists(ARQ_IN_PROGRESS_PREFIX + item.job_id)
                pipe.get(RETRY_PREFIX + item.job_id)
                pipe.exists(ARQ_JOB_PREFIX + item.job_id)
            answers = await pipe.execute()
        now = time.monotonic()
        for index, item in enumerate(open_):
            in_progress, retry, job = answers[3 * index : 3 * index + 3]
            if not in_progress and item.gone_at is None:
                item.gone_at = now
                if now < item.expires_at - _EXPIRY_SLACK_S:
                    item.live = True  # released by a live worker, long before expiry
                    continue
            if int(retry or 0) > item.retry_before or not job:
                if item.gone_at is not None and item.gone_at < item.expires_at - _EXPIRY_SLACK_S:
                    item.live = True
                    continue
                item.back_after_s = now - item.killed_at

    def figures(self) -> RecoveryFigures:
        """The figures so far (jobs never seen back count as in flight, not back)."""
        stranded = [item for item in self._tracked.values() if not item.live]
        # A job whose key has not expired yet when the run ends cannot be classified; a job
        # still unclassified long after its expiry is a stranded one that never came back.
        now = time.monotonic()
        stranded = [
            item
            for item in stranded
            if item.back_after_s is not None or now > item.expires_at + _EXPIRY_SLACK_S
        ]
        back = sorted(item.back_after_s for item in stranded if item.back_after_s is not None)
        return RecoveryFigures(
            kills=self.kills,
            jobs_in_flight=len(stranded),
            jobs_back=len(back),
            max_back_s=round(back[-1], 2) if back else None,
            median_back_s=round(statistics.median(back), 2) if back else None,
            bound_s=self.bound_s,
        )

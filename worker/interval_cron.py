"""arq cron jobs on an interval shorter than a second, or one that does not divide a minute.

arq's cron matches calendar fields, so its finest step is one second. The polling tick runs
every `POLL_TICK_S`, which may be a fraction of a second (the tests' fast sandbox) or any number
of seconds. `IntervalCron` keeps everything else of arq's cron (the job id `{name}:{unix ms}`,
so every worker enqueues each tick under the same id and arq runs it once) and only changes how
the next run is found: the next multiple of the interval since the epoch, after both the last
run and now. All workers land on the same instants without talking to each other, and a worker
that fell behind skips the ticks it missed instead of running them all at once.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from arq import cron
from arq.cron import CronJob
from arq.typing import WorkerCoroutine

__all__ = ["IntervalCron", "interval_cron", "next_instant"]


def next_instant(after: float, interval_s: float) -> float:
    """The first multiple of `interval_s` (since the epoch) strictly after `after`."""
    return (math.floor(after / interval_s) + 1) * interval_s


@dataclass
class IntervalCron(CronJob):
    """An arq `CronJob` that runs every `interval_s` seconds, on a grid shared by all workers."""

    interval_s: float = 1.0

    def calculate_next(self, prev_run: datetime) -> None:
        """The next grid instant after the last run, and never one already in the past."""
        after = max(prev_run.timestamp(), time.time())
        self.next_run = datetime.fromtimestamp(
            next_instant(after, self.interval_s), prev_run.tzinfo
        )


def interval_cron(
    coroutine: WorkerCoroutine, *, name: str, interval_s: float, **options: Any
) -> IntervalCron:
    """Like `arq.cron`, for an interval (`options`: timeout, max_tries, keep_result...)."""
    base = cron(coroutine, name=name, **options)
    return IntervalCron(
        **dataclasses.asdict(base) | {"coroutine": coroutine}, interval_s=interval_s
    )

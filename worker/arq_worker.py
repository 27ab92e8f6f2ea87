"""arq's `Worker`, with a heartbeat that survives a Redis that refuses writes for a while.

Every iteration of arq's main loop ends in `heart_beat`: it writes the health-check key and
enqueues the cron jobs that fall due (the polling tick, every `POLL_TICK_S`, and the sweep). In
arq that is not guarded, so one refused write (`OOM`, `READONLY` during a failover, `MISCONF`
while snapshots fail) or a dropped connection ends the worker's main loop. Here such a passing
error (`worker.redis_retry.is_passing`) is logged and the loop goes on: the tick or sweep that
could not be enqueued is simply the next one, and jobs keep running meanwhile.

The heartbeat also tells the operator console that this worker is alive, every
`WORKER_BEAT_S` at most (`jobs.state.history.beat`): arq's own health key is one per queue,
so it cannot say how many workers serve it.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from typing import Any

from arq.worker import Worker, get_kwargs
from redis.exceptions import RedisError

from jobs.state.history import WORKER_BEAT_S, beat
from jobs.state.keys import KeySpace
from settings import Settings
from worker.lifecycle import BUDGET_KEY, SETTINGS_KEY
from worker.rate_budget import RateBudget
from worker.redis_retry import is_passing

__all__ = ["PersonaWorker", "create_worker"]

logger = logging.getLogger(__name__)


class PersonaWorker(Worker):
    """arq's worker whose heartbeat outlives passing Redis errors (module docstring)."""

    _console_name: str = ""
    _console_beat_at: float = 0.0

    async def heart_beat(self) -> None:
        """arq's heartbeat; a passing Redis error skips this beat instead of ending the loop."""
        try:
            await super().heart_beat()
            await self._console_beat()
        except RedisError as exc:
            if not is_passing(exc):
                raise
            logger.warning("heartbeat skipped: Redis refused it (%s)", type(exc).__name__)

    async def _console_beat(self) -> None:
        """Record that this worker is alive, at most every `WORKER_BEAT_S`."""
        settings = self.ctx.get(SETTINGS_KEY)
        now = time.time()
        if not isinstance(settings, Settings) or now - self._console_beat_at < WORKER_BEAT_S:
            return
        if not self._console_name:
            self._console_name = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._console_beat_at = now
        budget = self.ctx.get(BUDGET_KEY)
        per_minute = budget.per_minute if isinstance(budget, RateBudget) else None
        keys = KeySpace(settings.key_prefix)
        await beat(self.pool, keys, self._console_name, now, per_minute=per_minute)


def create_worker(settings_cls: Any, **overrides: Any) -> PersonaWorker:
    """arq's `create_worker`, building a `PersonaWorker` from a `WorkerSettings` class."""
    return PersonaWorker(**{**get_kwargs(settings_cls), **overrides})

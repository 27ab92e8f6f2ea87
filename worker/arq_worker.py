"""arq's `Worker`, with a heartbeat that survives a Redis that refuses writes for a while.

Every iteration of arq's main loop ends in `heart_beat`: it writes the health-check key and
enqueues the cron jobs that fall due (the polling tick, every `POLL_TICK_S`, and the sweep). In
arq that is not guarded, so one refused write (`OOM`, `READONLY` during a failover, `MISCONF`
while snapshots fail) or a dropped connection ends the worker's main loop. Here such a passing
error (`worker.redis_retry.is_passing`) is logged and the loop goes on: the tick or sweep that
could not be enqueued is simply the next one, and jobs keep running meanwhile.
"""

from __future__ import annotations

import logging
from typing import Any

from arq.worker import Worker, get_kwargs
from redis.exceptions import RedisError

from worker.redis_retry import is_passing

__all__ = ["PersonaWorker", "create_worker"]

logger = logging.getLogger(__name__)


class PersonaWorker(Worker):
    """arq's worker whose heartbeat outlives passing Redis errors (module docstring)."""

    async def heart_beat(self) -> None:
        """arq's heartbeat; a passing Redis error skips this beat instead of ending the loop."""
        try:
            await super().heart_beat()
        except RedisError as exc:
            if not is_passing(exc):
                raise
            logger.warning("heartbeat skipped: Redis refused it (%s)", type(exc).__name__)


def create_worker(settings_cls: Any, **overrides: Any) -> PersonaWorker:
    """arq's `create_worker`, building a `PersonaWorker` from a `WorkerSettings` class."""
    return PersonaWorker(**{**get_kwargs(settings_cls), **overrides})

"""A job whose Redis command fails runs again; arq must not fail (and delete) it for that.

Inside a job, a Redis `ConnectionError` or `TimeoutError` (a restart, a failover, a command
in flight when the connection broke, a server that stopped answering) is an ordinary exception
to arq: it stores a failure result and deletes the job, and nothing re-runs it. When Redis is
back by the time arq records that (a fast restart, a failover to a ready replica), the request
is lost: a create job ends without an event until the sweep gives up on it (`CREATE_STALE_S`)
and its inquiry is orphaned; a polling chain breaks until the sweep notices. The same holds for
an error reply that means Redis cannot take writes right now: `OOM` (out of memory under
`noeviction`), `READONLY` (a replica, e.g. during a failover) and `MISCONF` (snapshots failing
under `stop-writes-on-bgsave-error`), which clear by themselves or by an operator's hand.

Every job here is safe to run again (deterministic job ids, idempotency keys derived from the
job, publication deduped in one Lua script), so the answer to all of these is arq's `Retry`
after a short jittered pause, which re-queues the job under the same id; any other error reply
is a bug and fails the job. When Redis is still away, arq cannot record the retry either; the
job then keeps its in-progress key and comes back when it expires, like a killed worker's.

`retry_on_redis_errors` wraps the registered functions of an arq settings dict; cron jobs are
left alone (the sweep runs again on its own schedule, and arq gives crons one try).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import random
import re
from typing import Any, Final

from arq import Retry
from arq.typing import WorkerCoroutine
from arq.worker import Function
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError, ReadOnlyError, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from jobs.pipeline.requests import as_worker_coroutine

__all__ = ["REDIS_RETRY_DEFER_S", "is_passing", "retry_on_redis_errors", "retrying"]

logger = logging.getLogger(__name__)

#: Mean pause before the job runs again (jittered ±50 % so a restart does not stampede).
REDIS_RETRY_DEFER_S: Final = 1.0
_RNG: Final = random.Random()
#: Error replies that mean "no writes now", possibly inside redis-py's note on a pipeline
#: (`Command # 1 (...) of pipeline caused error: ("MISCONF ...",)`). redis-py strips the code
#: from the replies it has a class for (`OutOfMemoryError`, `ReadOnlyError`), not from MISCONF.
_NO_WRITES_NOW: Final = re.compile(r"""(?:^|caused error: \(?["']?)(?:OOM|READONLY|MISCONF) """)


def is_passing(exc: RedisError) -> bool:
    """Whether a Redis error is a passing condition worth running the job again for."""
    if isinstance(exc, RedisConnectionError | RedisTimeoutError | OutOfMemoryError | ReadOnlyError):
        return True
    return isinstance(exc, ResponseError) and bool(_NO_WRITES_NOW.search(str(exc)))


def retrying(name: str, coroutine: WorkerCoroutine) -> WorkerCoroutine:
    """Wrap one job coroutine so passing Redis errors (`is_passing`) become arq `Retry`."""

    @functools.wraps(coroutine)
    async def run(ctx: dict[Any, Any], /, *args: Any, **kwargs: Any) -> Any:
        try:
            return await coroutine(ctx, *args, **kwargs)
        except RedisError as exc:
            if not is_passing(exc):
                raise
            defer = REDIS_RETRY_DEFER_S * _RNG.uniform(0.5, 1.5)
            # The type only: a pipeline's error message quotes its commands, values included.
            logger.warning(
                "job %s hit a passing Redis error (%s); it runs again in %.1fs",
                name,
                type(exc).__name__,
                defer,
            )
            raise Retry(defer=defer) from exc

    return as_worker_coroutine(run)


def retry_on_redis_errors(attributes: dict[str, Any]) -> dict[str, Any]:
    """The arq settings with every registered function wrapped (a new dict)."""
    wrapped = dict(attributes)
    wrapped["functions"] = [
        dataclasses.replace(entry, coroutine=retrying(entry.name, entry.coroutine))
        if isinstance(entry, Function)
        else entry
        for entry in attributes.get("functions", ())
    ]
    return wrapped

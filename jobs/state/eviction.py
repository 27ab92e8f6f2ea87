"""The start-up check that Redis will never evict our keys.

Redis is the system of record: the request records, the in-flight index, the results stream's
dedupe markers and arq's job keys all live there, some with a TTL and some without. Under any
`maxmemory-policy` other than `noeviction` (managed services default to `volatile-lru` or
`allkeys-lru`), a Redis that reaches `maxmemory` deletes keys silently, and the requests they
held are lost without an event. Under `noeviction` it refuses writes instead, which the jobs
already ride out (`worker.redis_retry`).

So the worker and the web process refuse to start unless Redis reports `noeviction`, or
`REDIS_ALLOW_EVICTION=true` says to start anyway (then with a warning at every start). The
policy is read with `INFO memory`, which managed services allow where they disable `CONFIG`.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from redis.asyncio import Redis

from jobs.errors import ConfigError
from jobs.state.redis_typing import resolved

__all__ = ["SAFE_POLICY", "check_eviction_policy"]

logger = logging.getLogger(__name__)

#: The one policy under which Redis never deletes a key to make room.
SAFE_POLICY: Final = "noeviction"
_OVERRIDE: Final = "REDIS_ALLOW_EVICTION"
_FIX: Final = (
    f"set it to {SAFE_POLICY} (CONFIG SET maxmemory-policy {SAFE_POLICY}, or your provider's "
    f"parameter group), or set {_OVERRIDE}=true to start anyway"
)


async def check_eviction_policy(redis: Redis, *, allow_eviction: bool) -> None:
    """Refuse to start on a Redis that may evict keys, unless `allow_eviction` says otherwise.

    Args:
        redis: any client on the process's Redis (decoded or not).
        allow_eviction: `REDIS_ALLOW_EVICTION`; when true, log a warning instead of refusing.

    Raises:
        ConfigError: Redis reports a policy other than `noeviction`, or none at all (a server
            whose `INFO` lacks the field cannot promise to keep our keys either).
    """
    info: dict[str, Any] = await resolved(redis.info("memory"))
    policy = info.get("maxmemory_policy")
    if policy == SAFE_POLICY:
        return
    if policy is None:
        problem = "Redis did not report its maxmemory-policy (INFO memory), so it may evict keys"
    else:
        problem = f"Redis maxmemory-policy is {policy}"
    if not allow_eviction:
        raise ConfigError(f"{problem}; {_FIX}")
    logger.warning(
        "%s and %s=true: when Redis reaches maxmemory it deletes keys, and the requests, "
        "records and queued jobs they hold are lost without an event",
        problem,
        _OVERRIDE,
    )

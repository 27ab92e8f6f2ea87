"""The start-up check that one `KEY_PREFIX` serves one deployment.

The prefix scopes everything a deployment shares between its processes: the request ledger,
the due set and the tick's lease, the limiter, the sweep's lock. The queue (`QUEUE_NAME`) and
the results stream (`RESULTS_STREAM`) are settings of their own. Two deployments that set the
same prefix but different queues would share one due set: the tick of one would enqueue the
other's fetches onto its own queue, and answer its requests with its own Persona key and on its
own stream. Nothing would fail; requests would be answered in the wrong place.

So the first process to start under a prefix records its queue and stream there
(`{KEY_PREFIX}deployment`, no TTL), and every later worker or web process compares: a process
whose queue or stream differs refuses to start, and the message names the fix. The default
queue and stream derive from the prefix, so only explicit settings can differ.
"""

from __future__ import annotations

from typing import Any, Final

from redis.asyncio import Redis

from jobs.errors import ConfigError
from jobs.state.keys import KeySpace

__all__ = ["claim_prefix"]

# Record the queue and stream under the prefix unless some are recorded; return those recorded.
# KEYS: the deployment hash. ARGV: queue, stream.
_CLAIM: Final = """
if redis.call('HSETNX', KEYS[1], 'queue', ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], 'stream', ARGV[2])
end
return {redis.call('HGET', KEYS[1], 'queue'), redis.call('HGET', KEYS[1], 'stream') or ''}
"""


async def claim_prefix(redis: Redis, keys: KeySpace, *, queue_name: str, stream: str) -> None:
    """Record this deployment's queue and stream under its prefix, or refuse another's.

    Raises:
        ConfigError: another deployment's queue or stream owns the prefix.
    """
    claim = redis.register_script(_CLAIM)
    recorded: list[Any] = await claim(keys=[keys.deployment], args=[queue_name, stream])
    owner_queue, owner_stream = [
        value.decode() if isinstance(value, bytes) else str(value) for value in recorded
    ]
    if (owner_queue, owner_stream) == (queue_name, stream):
        return
    raise ConfigError(
        f"KEY_PREFIX {keys.prefix!r} belongs to the deployment whose QUEUE_NAME is "
        f"{owner_queue!r} and RESULTS_STREAM {owner_stream!r}, not {queue_name!r} and "
        f"{stream!r}; give each deployment its own KEY_PREFIX, or, if this deployment moved "
        f"to a new queue or stream, drain the old one and delete {keys.deployment!r}"
    )

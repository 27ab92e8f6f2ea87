"""Result payloads from webhooks, waiting for their fetch, and the time of the last result.

One small hash per inquiry (`KeySpace.payload`), written by the web process when a signed
terminal event carries everything a result needs (`jobs.webhooks.payload`) and read by
`fetch_verification`, which then publishes without an API read. It lives in a key of its own
rather than in the fetch job's arguments because the fetch's job id is one per answer round:
the polling tick or a decision may have enqueued that fetch before the webhook arrived, and
the payload must reach it all the same.

Times order everything, so a late or redelivered event never replaces what is newer:

- `at`, `status`, `doc`: the newest payload offered (its inquiry's `updated-at`);
- `pub`: the inquiry time of the last result published, from a payload or a read.

A payload older than the stored one, or not newer than the last published result, is refused.
Publishing drops the payload it published (or any older one). The key lives for
`PAYLOAD_TTL_S` after its last write: a payload nobody fetched expires, and the published time
outlives Persona's retries of a delivery (about 51 hours), the longest an old event can come.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from redis.asyncio import Redis

from jobs.state.keys import KeySpace
from jobs.state.redis_typing import resolved

__all__ = ["PAYLOAD_TTL_S", "PayloadStore", "StoredPayload"]

#: How long a payload, or the time of a published result, is kept after its last write.
PAYLOAD_TTL_S: Final = 3 * 86_400

# KEYS: payload hash. ARGV: at, status, document (JSON), ttl. Returns 1 stored, 0 stale.
_OFFER: Final = """
local at = tonumber(ARGV[1])
local newest = tonumber(redis.call('HGET', KEYS[1], 'at') or '-1')
local published = tonumber(redis.call('HGET', KEYS[1], 'pub') or '-1')
if at < newest or at <= published then return 0 end
redis.call('HSET', KEYS[1], 'at', ARGV[1], 'status', ARGV[2], 'doc', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"""

# KEYS: payload hash. ARGV: the published result's inquiry time, ttl.
_PUBLISHED: Final = """
local at = tonumber(ARGV[1])
local published = tonumber(redis.call('HGET', KEYS[1], 'pub') or '-1')
if at > published then redis.call('HSET', KEYS[1], 'pub', ARGV[1]) end
local newest = redis.call('HGET', KEYS[1], 'at')
if newest and tonumber(newest) <= at then redis.call('HDEL', KEYS[1], 'at', 'status', 'doc') end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""


@dataclass(frozen=True, slots=True)
class StoredPayload:
    """A payload waiting for its fetch."""

    status: str
    at: float
    document: dict[str, Any]


def _stamp(moment: float) -> str:
    return f"{moment:.6f}"


class PayloadStore:
    """Offers, reads and retires result payloads (one per process, decoded client)."""

    def __init__(self, redis: Redis, keys: KeySpace, *, ttl_s: int = PAYLOAD_TTL_S) -> None:
        self.redis = redis
        self.keys = keys
        self.ttl_s = ttl_s
        self._offer = redis.register_script(_OFFER)
        self._published = redis.register_script(_PUBLISHED)

    async def offer(
        self, inquiry_id: str, *, status: str, at: float, document: dict[str, Any]
    ) -> bool:
        """Keep a payload for the inquiry's fetch; False when something newer is known."""
        stored = await self._offer(
            keys=[self.keys.payload(inquiry_id)],
            args=[_stamp(at), status, json.dumps(document, separators=(",", ":")), self.ttl_s],
        )
        return bool(int(stored))

    async def take(self, inquiry_id: str) -> StoredPayload | None:
        """The payload waiting for the inquiry's fetch, if any (it stays until published)."""
        raw = await resolved(self.redis.hgetall(self.keys.payload(inquiry_id)))
        if "doc" not in raw:
            return None
        try:
            document = json.loads(raw["doc"])
            return StoredPayload(raw["status"], float(raw["at"]), document)
        except (KeyError, ValueError):
            return None

    async def published(self, inquiry_id: str, at: float) -> None:
        """A result of the inquiry as of `at` was published: older payloads are dropped, and
        refused from now on."""
        await self._published(keys=[self.keys.payload(inquiry_id)], args=[_stamp(at), self.ttl_s])

    async def forget(self, inquiry_id: str) -> None:
        """Drop a waiting payload (redaction: it may hold field values); the time stays."""
        await resolved(self.redis.hdel(self.keys.payload(inquiry_id), "at", "status", "doc"))

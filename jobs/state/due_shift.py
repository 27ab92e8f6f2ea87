"""Moving followed inquiries' next checks for the webhook cadence (`jobs.policy.cadence`).

Two writes on the due set beside the request ledger's, each one Lua script:

- `defer`: while webhooks flow, a due inquiry's check waits for the safety net. It moves
  only later (`ZADD XX GT`), only while the inquiry is still in the same answer round and
  not settled, so a request that started following in between keeps its prompt check;
- `catch_up`: when webhooks stop, every followed inquiry becomes due now, so the changes the
  gap may have hidden are seen within a tick; each then backs off as usual.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from redis.asyncio import Redis

from jobs.state.keys import KeySpace

__all__ = ["DueShift"]

# KEYS: due set, inquiry hash. ARGV: inquiry id, round, until (ms). Returns 1 when moved.
_DEFER: Final = """
if redis.call('HGET', KEYS[2], 'round') ~= ARGV[2] then return 0 end
if redis.call('HGET', KEYS[2], 'done') == '1' then return 0 end
return redis.call('ZADD', KEYS[1], 'XX', 'GT', 'CH', ARGV[3], ARGV[1])
"""

# KEYS: due set. ARGV: now (ms). Returns how many inquiries were made due.
_CATCH_UP: Final = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf')
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], 'XX', ARGV[1], id) end
return #ids
"""


class DueShift:
    """Defers and pulls forward followed inquiries' checks (decoded client)."""

    def __init__(self, redis: Redis, keys: KeySpace) -> None:
        self.redis = redis
        self.keys = keys
        self._defer = redis.register_script(_DEFER)
        self._catch_up = redis.register_script(_CATCH_UP)

    async def defer(self, checks: Sequence[tuple[str, int, float]]) -> int:
        """Move each `(inquiry id, round, until)` check later, in one round trip; how many."""
        if not checks:
            return 0
        async with self.redis.pipeline(transaction=False) as pipe:
            for inquiry_id, round_, until in checks:
                await self._defer(
                    keys=[self.keys.due, self.keys.inquiry(inquiry_id)],
                    args=[inquiry_id, round_, int(until * 1000)],
                    client=pipe,
                )
            moved = await pipe.execute()
        return sum(int(item) for item in moved)

    async def catch_up(self, now: float) -> int:
        """Make every followed inquiry due at `now`; how many were not due yet."""
        return int(await self._catch_up(keys=[self.keys.due], args=[int(now * 1000)]))

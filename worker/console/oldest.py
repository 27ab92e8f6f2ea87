"""The oldest waiting inquiry, found at most every `REFRESH_S`: the one read that grows with the
number in flight.

Nothing in Redis orders followed inquiries by age (the due set is ordered by next check), so
finding the oldest reads every followed record's `since`. One script does that inside Redis
(about 1 ms per 1,000 followed inquiries, during which Redis serves nobody else, like
`Ledger.recount`), at most every `REFRESH_S` per web process; pages show the last answer. Up to
`INLINE_UP_TO` in flight a page waits for a stale answer's refresh (under 20 ms); above that
the refresh runs beside the page, which shows the previous answer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Final

from redis.exceptions import RedisError

from jobs.context import JobContext

__all__ = ["INLINE_UP_TO", "REFRESH_S", "Oldest", "OldestWaiting"]

logger = logging.getLogger(__name__)

#: How old the answer may be before a page asks for a new one.
REFRESH_S: Final = 30.0
#: In flight up to this many, a page waits for a stale answer's refresh.
INLINE_UP_TO: Final = 20_000

# KEYS: due set. ARGV: the inquiry key prefix. Returns {inquiry id, since} or nil.
_OLDEST: Final = """
local best, best_id = nil, nil
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local since = tonumber(redis.call('HGET', ARGV[1] .. id, 'since'))
  if since and (not best or since < best) then best, best_id = since, id end
end
if not best then return nil end
return {best_id, string.format('%.3f', best)}
"""


@dataclass(frozen=True, slots=True)
class Oldest:
    """The oldest followed inquiry when last looked (None: nothing in flight), and when."""

    inquiry_id: str | None
    since: float | None
    looked_at: float


class OldestWaiting:
    """One web process's cached answer."""

    def __init__(self) -> None:
        self.last: Oldest | None = None
        self._task: asyncio.Task[None] | None = None

    async def get(self, ctx: JobContext, in_flight: int) -> Oldest | None:
        """The last answer; refreshed first when stale and few are in flight, else beside."""
        if self.last is not None and time.time() - self.last.looked_at < REFRESH_S:
            return self.last
        if in_flight <= INLINE_UP_TO:
            await self._refresh(ctx)
        elif self._task is None or self._task.done():
            self._task = asyncio.create_task(self._refresh(ctx))
        return self.last

    async def _refresh(self, ctx: JobContext) -> None:
        looked_at = time.time()
        script = ctx.redis.register_script(_OLDEST)
        try:
            found = await script(keys=[ctx.keys.due], args=[ctx.keys.inquiry("")])
        except (RedisError, OSError) as exc:
            logger.warning("oldest waiting inquiry not read: %s", exc)
            return
        if found:
            self.last = Oldest(str(found[0]), float(found[1]), looked_at)
        else:
            self.last = Oldest(None, None, looked_at)

"""The oldest waiting inquiry, found off the page's path: the one read that grows with the
number in flight.

Nothing in Redis orders followed inquiries by age (the due set is ordered by next check), so
finding the oldest reads every record's `since` (pipelined, 1,000 per round trip). The console
does that at most every `REFRESH_S`, in a background task of the web process, and pages show
the last answer with its time; only while few are in flight (`INLINE_UP_TO`) does a page wait
for a fresh one, which then costs one round trip or two.
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
#: In flight up to this many, a page waits for the scan (at most two round trips).
INLINE_UP_TO: Final = 2_000
_CHUNK: Final = 1_000


@dataclass(frozen=True, slots=True)
class Oldest:
    """The oldest followed inquiry when last looked (None: nothing in flight), and when."""

    inquiry_id: str | None
    since: float | None
    looked_at: float


async def _scan(ctx: JobContext) -> Oldest:
    looked_at = time.time()
    members = [str(member) for member in await ctx.redis.zrange(ctx.keys.due, 0, -1)]
    best: tuple[float, str] | None = None
    for start in range(0, len(members), _CHUNK):
        chunk = members[start : start + _CHUNK]
        async with ctx.redis.pipeline(transaction=False) as pipe:
            for inquiry_id in chunk:
                pipe.hget(ctx.keys.inquiry(inquiry_id), "since")
            answers = await pipe.execute()
        for inquiry_id, since in zip(chunk, answers, strict=True):
            if since and (best is None or float(since) < best[0]):
                best = (float(since), inquiry_id)
    if best is None:
        return Oldest(None, None, looked_at)
    return Oldest(best[1], best[0], looked_at)


class OldestWaiting:
    """One web process's cached answer, refreshed in the background."""

    def __init__(self) -> None:
        self.last: Oldest | None = None
        self._task: asyncio.Task[None] | None = None

    async def get(self, ctx: JobContext, in_flight: int) -> Oldest | None:
        """The last answer; a fresh one first when few are in flight, else refreshed behind."""
        fresh = self.last is not None and time.time() - self.last.looked_at < REFRESH_S
        if fresh:
            return self.last
        if in_flight <= INLINE_UP_TO:
            await self._refresh(ctx)
        elif self._task is None or self._task.done():
            self._task = asyncio.create_task(self._refresh(ctx))
        return self.last

    async def _refresh(self, ctx: JobContext) -> None:
        try:
            self.last = await _scan(ctx)
        except (RedisError, OSError) as exc:
            logger.warning("oldest waiting inquiry not read: %s", exc)

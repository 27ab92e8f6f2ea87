"""One rate limiter for every worker and process: GCRA in Redis, fed by Persona's own headers.

Persona allows 300 requests per minute per environment, shared by every key and every client,
so the budget has to be shared through Redis rather than counted per process. The Generic Cell
Rate Algorithm keeps one number, the theoretical arrival time (TAT): each request reserves the
slot `max(TAT, now)` and pushes TAT on by one emission interval (60 s / limit). A request may go
up to `tolerance` before its slot, which is the allowed burst. In any 60-second window at most
`limit + tolerance / interval` requests are sent: 240 + 10 = 250 with the defaults, under 300.

Priority: status checks and fetches finish work that is already in flight (a person is waiting
for their result), creates start new work. Reads may therefore borrow the burst tolerance and
jump ahead of creates; creates reserve their slot at the end of the line. Creates never starve:
a reservation is a place in line, not a retry.

Persona's answers steer the limiter too. A 429 sets a floor: no request from any worker goes
before the window's `RateLimit-Reset` (never more than `MAX_SERVER_WAIT_S` ahead). When
`RateLimit-Remaining` falls below 15 % of the limit (Persona's guidance), the floor spreads what
is left over the time to the reset. A wait longer
than `max_wait_s` is not slept through inside a job: the caller gets a `RateLimitedError` with
the wait, and the job is deferred by that much without counting as a failure.

Redis's own clock (`TIME`) is used so that workers on machines with skewed clocks agree.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from redis.asyncio import Redis

from jobs.persona.client import ApiCall
from jobs.persona.errors import DEFAULT_RATE_LIMIT_WAIT_S, RateLimitedError, clamp_server_wait

__all__ = ["CREATE_OPERATIONS", "DEFAULT_BURST", "RedisRateLimiter"]

logger = logging.getLogger(__name__)

#: Operations that start new work: they wait at the end of the line.
CREATE_OPERATIONS: Final = frozenset({"create-an-inquiry"})
#: Requests reads may send ahead of the steady rate, unless the budget says otherwise.
DEFAULT_BURST: Final = 10
#: Below this share of `RateLimit-Limit` left, the rest of the window is spread out.
LOW_WATER: Final = 0.15

# KEYS[1] the limiter hash. ARGV: interval_ms, tolerance_ms, max_wait_ms, ttl_ms.
# Returns {wait_ms, reserved (1/0)}.
_ACQUIRE: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local tat = tonumber(redis.call('HGET', KEYS[1], 'tat') or '0')
local floor = tonumber(redis.call('HGET', KEYS[1], 'floor') or '0')
if tat < now then tat = now end
local send_at = tat - tolerance
if send_at < now then send_at = now end
if send_at < floor then send_at = floor end
local wait = send_at - now
if wait > max_wait then
  return {wait, 0}
end
local next_tat = tat
if send_at > next_tat then next_tat = send_at end
redis.call('HSET', KEYS[1], 'tat', next_tat + interval)
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]))
return {wait, 1}
"""

# KEYS[1] the limiter hash. ARGV: floor_delay_ms, ttl_ms. Raises the floor to now + delay.
_FLOOR: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local candidate = now + tonumber(ARGV[1])
local floor = tonumber(redis.call('HGET', KEYS[1], 'floor') or '0')
if candidate > floor then
  redis.call('HSET', KEYS[1], 'floor', candidate)
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
end
return candidate
"""


@dataclass(frozen=True, slots=True)
class LimiterStats:
    """What one process's limiter did (for metrics and benchmarks)."""

    waits: int
    waited_s: float
    deferrals: int
    throttles: int


class RedisRateLimiter:
    """The shared `RequestGate`: admit each request within the budget, learn from answers.

    Args:
        redis: the shared Redis (any decoding).
        per_minute: requests per minute for all workers together.
        burst: requests reads may send ahead of the steady rate.
        max_wait_s: longest wait slept inside a job; longer waits defer the job instead.
        key: the limiter's Redis key (one per Persona environment).
        on_wait: called with each wait in seconds (metrics).
    """

    def __init__(
        self,
        redis: Redis,
        *,
        per_minute: int,
        burst: int = DEFAULT_BURST,
        max_wait_s: float = 10.0,
        key: str = "persona:ratelimit",
        on_wait: Callable[[str, float], None] | None = None,
    ) -> None:
        if per_minute <= 0:
            raise ValueError("per_minute must be positive")
        if burst < 0:
            raise ValueError("burst must not be negative")
        self._redis = redis
        self._key = key
        self.interval_ms = 60_000 / per_minute
        self._tolerance_ms = self.interval_ms * burst
        self._max_wait_ms = max_wait_s * 1000
        # Long enough to outlive any reservation or floor, short enough to leave no litter.
        self._ttl_ms = int(max(120_000, self._max_wait_ms * 2))
        self._acquire = redis.register_script(_ACQUIRE)
        self._floor = redis.register_script(_FLOOR)
        self._on_wait = on_wait
        self._waits = 0
        self._waited_s = 0.0
        self._deferrals = 0
        self._throttles = 0

    @property
    def stats(self) -> LimiterStats:
        """Counts since this limiter was built."""
        return LimiterStats(self._waits, self._waited_s, self._deferrals, self._throttles)

    async def acquire(self, operation: str) -> None:
        """Reserve a slot and wait for it, or raise `RateLimitedError` when it is too far off."""
        tolerance = 0.0 if operation in CREATE_OPERATIONS else self._tolerance_ms
        wait_ms, reserved = await self._acquire(
            keys=[self._key],
            args=[self.interval_ms, tolerance, self._max_wait_ms, self._ttl_ms],
        )
        wait_s = float(wait_ms) / 1000
        if not int(reserved):
            self._deferrals += 1
            raise RateLimitedError(
                f"the shared rate limit has no slot for {wait_s:.1f}s; deferring",
                retry_after_s=wait_s,
            )
        if wait_s > 0:
            self._waits += 1
            self._waited_s += wait_s
            if self._on_wait is not None:
                self._on_wait(operation, wait_s)
            await asyncio.sleep(wait_s)

    async def observe(self, call: ApiCall) -> None:
        """Hold every worker back after a 429, and slow down when the budget runs low."""
        info = call.rate_limit
        if call.status_code == 429:
            # No readable reset: the same wait the refused job defers by.
            delay_s = info.reset_s if info.reset_s is not None else DEFAULT_RATE_LIMIT_WAIT_S
            self._throttles += 1
            logger.warning("Persona answered 429; every worker waits %.1fs", delay_s)
            await self._raise_floor(delay_s)
            return
        if info.limit is None or info.remaining is None or info.reset_s is None:
            return
        if info.remaining < info.limit * LOW_WATER:
            self._throttles += 1
            await self._raise_floor(info.reset_s / max(info.remaining, 1))

    async def _raise_floor(self, delay_s: float) -> None:
        # However far off a header puts the reset, no worker is held back past the clamp.
        delay_ms = int(clamp_server_wait(delay_s) * 1000)
        await self._floor(keys=[self._key], args=[delay_ms, self._ttl_ms])

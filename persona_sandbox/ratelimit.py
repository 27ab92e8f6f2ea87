"""Persona's rate limit: a fixed window of 60 real seconds per environment.

The count starts with the first request of a window and resets when the window ends (Persona's
"resets at the start of the next minute" counted from the first request). Past the limit every
request is refused with 429 until the reset. `RateLimit-Reset` is the whole number of seconds
left, never 0 while a window is open.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

__all__ = ["UNLIMITED", "FixedWindowLimiter", "RateDecision"]

#: What `RateLimit-Limit` reports when the limit is turned off (0).
UNLIMITED: Final = 1_000_000
WINDOW_S: Final = 60.0


@dataclass(frozen=True, slots=True)
class RateDecision:
    """The verdict for one request and the headers that describe the window."""

    allowed: bool
    limit: int
    remaining: int
    reset_s: int

    def headers(self) -> dict[str, str]:
        """`RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`."""
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_s),
        }


class FixedWindowLimiter:
    """Counts requests per window and refuses those past the limit.

    Args:
        limit: requests per window; 0 turns the limit off (headers still describe a window).
        real_time: monotonic real seconds.
        window_s: window length.
    """

    def __init__(
        self, limit: int, real_time: Callable[[], float], window_s: float = WINDOW_S
    ) -> None:
        self.limit = limit
        self._real_time = real_time
        self._window_s = window_s
        self.reset()

    def reset(self) -> None:
        """Start afresh: the next request opens a new window."""
        self._window_end = -math.inf
        self._count = 0

    def current(self) -> RateDecision:
        """The window as it stands, without counting a request (`list-all-rate-limits`)."""
        now = self._real_time()
        limit = self.limit or UNLIMITED
        if now >= self._window_end:
            return RateDecision(True, limit, limit, math.ceil(self._window_s))
        remaining = max(limit - self._count, 0)
        return RateDecision(
            remaining > 0, limit, remaining, max(1, math.ceil(self._window_end - now))
        )

    def hit(self) -> RateDecision:
        """Count one request (unless refused) and return the verdict."""
        now = self._real_time()
        if now >= self._window_end:
            self._window_end = now + self._window_s
            self._count = 0
        reset_s = max(1, math.ceil(self._window_end - now))
        limit = self.limit or UNLIMITED
        if self._count >= limit:
            return RateDecision(False, limit, 0, reset_s)
        self._count += 1
        return RateDecision(True, limit, limit - self._count, reset_s)

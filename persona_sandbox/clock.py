"""Sandbox time: a scaled wall clock for running servers, a manual one for tests.

Inquiries progress in *sandbox* time, which runs `time_scale` times faster than real time, so a
demo can watch a 2-minute verification finish in 2 seconds. The rate limiter counts in *real*
seconds, as Persona's does. Both readings come from one object so tests can move them together
with `ManualClock.advance`. Nothing here sleeps.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["Clock", "ManualClock", "ScaledClock", "utc_now"]


def utc_now() -> datetime:
    """The current wall-clock time, timezone-aware in UTC."""
    return datetime.now(UTC)


class Clock(Protocol):
    """What the sandbox needs to know about time."""

    def now(self) -> datetime:
        """The current sandbox time (timezone-aware, UTC)."""
        ...

    def real(self) -> float:
        """A monotonic reading in real seconds, for the rate-limit window."""
        ...

    def advance(self, seconds: float) -> None:
        """Move sandbox time forward by `seconds` (admin fast-forward)."""
        ...


class ScaledClock:
    """Wall-clock time that runs `time_scale` times faster from the moment it is built.

    Args:
        time_scale: sandbox seconds per real second (60 = one sandbox minute per real second).
        start: the sandbox time at construction; defaults to the current wall-clock time.
    """

    def __init__(self, time_scale: float = 1.0, *, start: datetime | None = None) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.time_scale = time_scale
        self._start = start or utc_now()
        self._mono_start = time.monotonic()
        self._offset_s = 0.0

    def now(self) -> datetime:
        """The sandbox time: the start plus scaled elapsed real time plus any fast-forward."""
        elapsed = (time.monotonic() - self._mono_start) * self.time_scale + self._offset_s
        return self._start + timedelta(seconds=elapsed)

    def real(self) -> float:
        """Real monotonic seconds."""
        return time.monotonic()

    def advance(self, seconds: float) -> None:
        """Fast-forward sandbox time (real time is untouched)."""
        if seconds < 0:
            raise ValueError("cannot move the clock backwards")
        self._offset_s += seconds


class ManualClock:
    """A clock that only moves when told to; sandbox and real time move together.

    Args:
        start: the initial sandbox time; defaults to a fixed, readable instant.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2025, 12, 8, 12, 0, tzinfo=UTC)
        self._real = 1_000.0

    def now(self) -> datetime:
        """The current manual time."""
        return self._now

    def real(self) -> float:
        """Real seconds elapsed in this clock's world."""
        return self._real

    def advance(self, seconds: float) -> None:
        """Move both sandbox and real time forward by `seconds`."""
        if seconds < 0:
            raise ValueError("cannot move the clock backwards")
        self._now += timedelta(seconds=seconds)
        self._real += seconds

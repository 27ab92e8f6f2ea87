"""A hand-moved clock for the running event loop: timers fire when a test moves time.

asyncio reads the time of every timer (`call_at`, `call_later`, `asyncio.sleep`,
`asyncio.timeout`) from `loop.time()`. With that method replaced on the test's own loop, a
window of 0.2 s is 0.2 s of *this* clock, however slowly a busy machine schedules the process:
code under test that measures time with the loop is tested in logical steps, and a test can
say exactly which check arrives before or after a deadline.

Use it only where nothing waits on real I/O with a timeout (reach the sandbox in-process
through `httpx.ASGITransport`, not over a socket): I/O still completes in real time, but a
timeout around it would never fire.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

__all__ = ["LoopClock", "loop_clock"]


class LoopClock:
    """The loop's time, which moves only when `advance` moves it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._now = loop.time()

    def time(self) -> float:
        """The loop's current time (what `loop.time()` returns while installed)."""
        return self._now

    async def advance(self, seconds: float) -> None:
        """Move time on by `seconds`; return once every timer due by then has run, and every
        task such a timer started has taken its first step.

        Timers due by the new time all run in the loop's next pass, the marker scheduled at
        exactly that time among them: when the marker has fired, no timer that was due is
        still waiting. Tasks those timers created start in the pass after, the one this
        coroutine yields to before it returns.
        """
        if seconds < 0:
            raise ValueError("time does not go backwards")
        self._now += seconds
        reached: asyncio.Future[None] = self._loop.create_future()
        self._loop.call_at(self._now, reached.set_result, None)
        await reached
        await asyncio.sleep(0)


@contextlib.contextmanager
def loop_clock() -> Iterator[LoopClock]:
    """Install a `LoopClock` on the running loop for the `with` body, then restore real time.

    Leave it before anything that needs real time again (e.g. a server's shutdown ticks).
    """
    loop = asyncio.get_running_loop()
    clock = LoopClock(loop)
    loop.time = clock.time  # type: ignore[method-assign]
    try:
        yield clock
    finally:
        del loop.time

"""The background pass that moves live inquiries forward when nobody asks about them.

The sandbox advances inquiries lazily, when a request reads them (`state.py`). Webhooks exist so
that a receiver learns about a decision *without* reading, so when delivery is on, something
else must record the due events promptly: this pass, every `advance_interval_s` real seconds,
or every `WEBHOOK_ADVANCE_INTERVAL_S` when that is 0 and webhooks are configured. The interval
is read again whenever `wake` is called (the webhook settings changed at run time), so turning
delivery on through the admin route starts the pass and turning it off stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Final

__all__ = ["WEBHOOK_ADVANCE_INTERVAL_S", "BackgroundAdvance"]

log = logging.getLogger(__name__)

#: Real seconds between passes when only webhook delivery asks for them: prompt enough that a
#: decision reaches the receiver well within a test's patience, cheap enough to run constantly.
WEBHOOK_ADVANCE_INTERVAL_S: Final = 0.05


class BackgroundAdvance:
    """Calls `advance` every `interval()` real seconds while running (never when it is 0).

    Args:
        advance: one pass over every live inquiry.
        interval: the current interval in real seconds; 0 means no passes.
    """

    def __init__(self, advance: Callable[[], None], interval: Callable[[], float]) -> None:
        self._advance = advance
        self._interval = interval
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """Whether the background task exists (it may be idle, waiting for an interval)."""
        return self._task is not None

    def start(self) -> None:
        """Start the background task (inside a running event loop)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="sandbox-advance")

    def wake(self) -> None:
        """Read the interval again now (the settings behind it changed)."""
        self._changed.set()

    async def stop(self) -> None:
        """Stop the background task and wait for it."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])

    async def _run(self) -> None:
        while True:
            interval = self._interval()
            self._changed.clear()
            if interval <= 0:
                await self._changed.wait()
                continue
            # `asyncio.timeout`, not `wait_for`: on 3.11 `wait_for` swallows a cancellation that
            # lands just as the event is set, and `stop` would then wait forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await self._changed.wait()
            try:
                self._advance()
            except Exception:
                log.exception("background advance failed")

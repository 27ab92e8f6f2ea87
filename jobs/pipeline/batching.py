"""Coalesced status checks: many due polls in one process share one list call.

Polls that fall due together (they are aligned to a time grid: `jobs.policy.backoff.align_delay`)
run as separate arq jobs at the same moment. Each asks `StatusBatcher.check`; the first opens a
window, and everything that arrives while it is open (up to `POLL_BATCH_SIZE`, Persona's limit
of 100 ids) is answered by one `GET /inquiries?filter[inquiry-id]=...`. The window stays open as
long as checks keep coming, each within `POLL_BATCH_WINDOW_S` of the one before, but never
longer than `MAX_WINDOWS` windows: arq starts the jobs of one grid line one after another (a few
Redis round trips each), so a hundred due checks reach the batcher over a hundred milliseconds
or more, and a window of fixed length closed in the middle of that stream and split one grid
line into several list calls (measured with `python -m bench`). A lone check still waits only
one window.

The list answer carries statuses but not verifications (the operation has no `include`), so a
terminal inquiry costs one more read with `include=verifications` before it is published. A
window that holds a single check reads that inquiry with `include=verifications` directly, so a
lone poll never costs more than it did before batching.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from jobs.persona.client import PersonaClient
from jobs.persona.models import Inquiry, InquiryDocument

__all__ = ["MAX_WINDOWS", "Checked", "StatusBatcher"]

#: The longest a batch stays open, in windows: a steady trickle of checks cannot hold the
#: first of them back for long.
MAX_WINDOWS: Final = 10

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Checked:
    """One inquiry's status as a batch saw it."""

    inquiry: Inquiry | None
    """None when the list did not return it (unknown id, or another environment's)."""
    document: InquiryDocument | None = None
    """The full document with verifications, when the inquiry was read on its own."""


@dataclass
class _Window:
    opened_at: float
    waiters: dict[str, list[asyncio.Future[Checked]]] = field(default_factory=dict)
    timer: asyncio.TimerHandle | None = None


class StatusBatcher:
    """Answer concurrent status checks of one process with as few API calls as possible.

    Args:
        persona: the process's client.
        max_ids: ids per list call (1 to 100).
        window_s: how long a batch waits for the next check before it is sent; it waits
            at most `MAX_WINDOWS` times this in all.
    """

    def __init__(self, persona: PersonaClient, *, max_ids: int = 100, window_s: float = 0.05):
        if not 1 <= max_ids <= 100:
            raise ValueError("max_ids must be between 1 and 100")
        self._persona = persona
        self._max_ids = max_ids
        self._window_s = window_s
        self._open: _Window | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.calls = 0
        """List or single reads sent (for benchmarks)."""
        self.checks = 0
        """Checks answered."""

    async def check(self, inquiry_id: str) -> Checked:
        """The inquiry's current status, from a shared call where possible."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Checked] = loop.create_future()
        now = loop.time()
        window = self._open
        if window is None:
            window = self._open = _Window(opened_at=now)
        window.waiters.setdefault(inquiry_id, []).append(future)
        if len(window.waiters) >= self._max_ids:
            self._close(window)
        else:
            # Wait one more window for company, but never past the batch's own deadline.
            if window.timer is not None:
                window.timer.cancel()
            last = window.opened_at + self._window_s * MAX_WINDOWS
            window.timer = loop.call_at(min(now + self._window_s, last), self._close, window)
        return await future

    def _close(self, window: _Window) -> None:
        if self._open is window:
            self._open = None
        if window.timer is not None:
            window.timer.cancel()
            window.timer = None
        if not window.waiters:
            return
        task = asyncio.get_running_loop().create_task(self._answer(window.waiters))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, waiters: dict[str, list[asyncio.Future[Checked]]]) -> None:
        ids = list(waiters)
        try:
            answers = await self._read(ids)
        except Exception as exc:
            for futures in waiters.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(exc)
            return
        for inquiry_id, futures in waiters.items():
            checked = answers.get(inquiry_id, Checked(None))
            self.checks += len(futures)
            for future in futures:
                if not future.done():
                    future.set_result(checked)

    async def _read(self, ids: Sequence[str]) -> dict[str, Checked]:
        self.calls += 1
        if len(ids) == 1:
            document = await self._persona.retrieve_inquiry(ids[0], include=("verifications",))
            return {ids[0]: Checked(document.data, document)}
        page = await self._persona.list_inquiries(inquiry_ids=ids, page_size=len(ids))
        return {inquiry.id: Checked(inquiry) for inquiry in page.data}

    async def aclose(self) -> None:
        """Answer what is waiting, then wait for the answers (at shutdown)."""
        if self._open is not None:
            self._close(self._open)
        if self._tasks:
            with contextlib.suppress(Exception):
                await asyncio.gather(*self._tasks, return_exceptions=True)

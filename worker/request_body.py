"""Reading a webhook body under three bounds: its size, its time and the process's memory.

Anyone who can reach the receiver can open a request, send part of a body and stop. Each such
request would hold its bytes, a task and a connection for as long as the client likes, so a few
hundred of them take the process's memory. `read_body` bounds every request three ways:

- size: over the limit (declared in `Content-Length`, or counted while reading) is a 413;
- time: a body still arriving after the deadline is a 408 (`WEBHOOK_READ_TIMEOUT_S`; Persona
  gives up on a delivery after 5 seconds, so a slower body is not one of its deliveries);
- memory: the bytes of all bodies still arriving in the process share one budget
  (`BodyBudget`), each counted at its declared `Content-Length` from the start (as it arrives
  without one). When a body would take the total over it, another body is dropped with a 503:
  the one counted at the most bytes (the oldest of equals). A sender that stalls on a large
  body is what gets dropped, never the request whose bytes are arriving, nor one that is small
  so far: Persona sends its body at once, and a delivery waiting a moment for its first chunk
  while stalled senders churn holds nothing yet.

A client that disconnects mid-body raises Starlette's `ClientDisconnect`; the caller lets it go
quietly (nobody is left to answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from starlette.requests import Request

from jobs.errors import WebhookError

__all__ = [
    "BODY_BUDGET_BODIES",
    "BodyBudget",
    "BodyDroppedError",
    "BodyError",
    "BodyTimeoutError",
    "BodyTooLargeError",
    "read_body",
]

#: How many bodies of the largest accepted size the budget holds at once.
BODY_BUDGET_BODIES: Final = 16
_LENGTH = re.compile(r"[0-9]{1,19}")


class BodyError(WebhookError):
    """The request body was not read: too large, too slow, or dropped to save memory.

    The rest of the body may still be on its way, so the answer closes the connection.
    """


class BodyTooLargeError(BodyError):
    """The request body is larger than the receiver accepts."""

    http_status = 413


class BodyTimeoutError(BodyError):
    """The request body did not arrive within the read deadline."""

    http_status = 408


class BodyDroppedError(BodyError):
    """The body was still arriving when the memory for bodies ran out; it held the most."""

    http_status = 503


@dataclass(eq=False, slots=True)
class _Reader:
    """One body being read: the task reading it and the bytes it holds."""

    task: asyncio.Task[Any]
    held: int = 0
    dropped: bool = False


def _held(reader: _Reader) -> int:
    return reader.held


@dataclass(slots=True)
class BodyBudget:
    """The bytes held by bodies still arriving in this process, and who holds them.

    One per app, used from its event loop only. Readers are kept in the order they started, so
    among readers holding as much the first is the one that has been arriving longest.

    Args:
        limit_bytes: the most bytes all unfinished bodies may hold together.
    """

    limit_bytes: int
    _readers: dict[_Reader, None] = field(default_factory=dict)
    _held: int = 0

    @classmethod
    def for_bodies_of(cls, max_body_bytes: int) -> BodyBudget:
        """A budget of `BODY_BUDGET_BODIES` bodies of the largest accepted size."""
        return cls(BODY_BUDGET_BODIES * max_body_bytes)

    @property
    def held(self) -> int:
        """Bytes held right now by bodies still arriving."""
        return self._held

    @property
    def readers(self) -> int:
        """Bodies still arriving."""
        return len(self._readers)

    @contextlib.contextmanager
    def reading(self) -> Iterator[_Reader]:
        """Count the current task's body against the budget until the block ends."""
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("a body is read from a task")
        reader = _Reader(task)
        self._readers[reader] = None
        try:
            yield reader
        finally:
            self._release(reader)

    def add(self, reader: _Reader, size: int) -> None:
        """Count `size` more bytes for `reader`; while over budget, drop the other reader that
        holds the most (`reader` itself only when it is the last one left).

        Raises:
            BodyDroppedError: `reader` itself was dropped.
        """
        reader.held += size
        self._held += size
        while self._held > self.limit_bytes and self._readers:
            others = (other for other in self._readers if other is not reader)
            victim = max(others, key=_held, default=reader)
            self._release(victim)
            victim.dropped = True
            if victim is reader:
                raise BodyDroppedError("too many request bodies arriving at once; send it again")
            victim.task.cancel()

    def _release(self, reader: _Reader) -> None:
        if self._readers.pop(reader, 0) is None:
            self._held -= reader.held


async def read_body(request: Request, *, limit: int, timeout_s: float, budget: BodyBudget) -> bytes:
    """The whole body of `request`, read within its bounds.

    Raises:
        BodyTooLargeError: over `limit` bytes (declared or counted).
        BodyTimeoutError: not complete within `timeout_s` seconds.
        BodyDroppedError: dropped to keep the bodies within `budget`.
        starlette.requests.ClientDisconnect: the client went away.
    """
    declared = request.headers.get("content-length")
    if declared is not None and (not _LENGTH.fullmatch(declared) or int(declared) > limit):
        raise BodyTooLargeError(f"body over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    # A declared length is counted before the first byte is read: the body will hold it, and a
    # body dropped now is dropped before the server copies any of it.
    counted = 0 if declared is None else int(declared)
    with budget.reading() as reader:
        try:
            async with asyncio.timeout(timeout_s):
                budget.add(reader, counted)
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > limit:
                        raise BodyTooLargeError(f"body over {limit} bytes")
                    if size > counted:
                        budget.add(reader, size - counted)
                        counted = size
                    chunks.append(chunk)
        except TimeoutError:
            raise BodyTimeoutError(f"body not received within {timeout_s:g} s") from None
        except asyncio.CancelledError:
            if not reader.dropped:
                raise
            reader.task.uncancel()
            raise BodyDroppedError(
                "too many request bodies arriving at once; send it again"
            ) from None
    return b"".join(chunks)

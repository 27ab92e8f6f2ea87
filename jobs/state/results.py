"""Reading the results stream: what consumers, the CLI, the benchmarks and the tests see.

The request ledger (`jobs.state.ledger`) writes each entry with three fields: `event`,
`inquiry_id` and `data` (a JSON document). This module is the one place that turns entries back
into `ResultEvent`s, so every reader agrees on the decoding (a missing field is empty, data that
is not a JSON object is kept readable rather than raising) and on what an event answers.

Reads come in four shapes: a whole range (`read_range`, paged so a long stream costs a few
round trips), what came after an entry (`read_after`, optionally blocking for the first new
one), following the stream as it grows (`follow`), and waiting for something to be published
(`wait_for`, `wait_for_length`): blocking reads on the stream with one overall deadline, so a
caller neither sleeps nor polls.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final

from redis.asyncio import Redis

from jobs.state.redis_typing import resolved

__all__ = [
    "START",
    "ResultEvent",
    "decode_entry",
    "events_about",
    "follow",
    "read_after",
    "read_range",
    "wait_for",
    "wait_for_length",
]

#: Entries per round trip of a full read.
_PAGE: Final = 5_000
#: The stream id before every entry (`XREAD` from here reads from the start).
START: Final = "0-0"


@dataclass(frozen=True, slots=True)
class ResultEvent:
    """One entry of the results stream."""

    entry_id: str
    """The stream id, `<unix ms>-<sequence>`: Redis's clock when the entry was added."""
    event: str
    inquiry_id: str
    """Empty for events about no inquiry (a case, an account, a failed create)."""
    data: dict[str, Any]
    """The parsed `data` document."""

    @property
    def added_ms(self) -> int:
        """When Redis added the entry (the id's first part), unix milliseconds."""
        return int(self.entry_id.split("-", 1)[0])

    @property
    def request(self) -> str:
        """The request this event answers, as a consumer matches it: a result's `request_id`,
        else a failure's `job_id`; empty when the event names neither."""
        return str(self.data.get("request_id") or self.data.get("job_id") or "")

    def answers(self, job_id: str) -> bool:
        """Whether the event names `job_id` as its request or as the job that published it."""
        return job_id in (self.data.get("request_id"), self.data.get("job_id"))

    def to_json(self) -> dict[str, Any]:
        """The entry as one JSON object."""
        return asdict(self)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def decode_entry(entry_id: Any, fields: Mapping[Any, Any]) -> ResultEvent:
    """One raw entry (from a decoding client or not) as a `ResultEvent`."""
    decoded = {_text(name): _text(value) for name, value in fields.items()}
    try:
        data = json.loads(decoded.get("data", "{}"))
    except json.JSONDecodeError:
        data = {"unreadable": True}
    return ResultEvent(
        entry_id=_text(entry_id),
        event=decoded.get("event", ""),
        inquiry_id=decoded.get("inquiry_id", ""),
        data=data if isinstance(data, dict) else {"value": data},
    )


def _decoded(entries: Sequence[Any]) -> list[ResultEvent]:
    return [decode_entry(entry_id, fields) for entry_id, fields in entries]


async def read_range(
    redis: Redis, stream: str, *, start: str = "-", end: str = "+", count: int | None = None
) -> list[ResultEvent]:
    """The entries from `start` to `end` (ids, inclusive; `(id` excludes one), oldest first.

    Args:
        count: at most this many (one round trip); None reads the whole range, in pages.
    """
    if count is not None:
        return _decoded(await redis.xrange(stream, min=start, max=end, count=count))
    events: list[ResultEvent] = []
    lower = start
    while True:
        page = _decoded(await redis.xrange(stream, min=lower, max=end, count=_PAGE))
        events += page
        if len(page) < _PAGE:
            return events
        lower = "(" + page[-1].entry_id


async def read_after(
    redis: Redis,
    stream: str,
    after: str = START,
    *,
    count: int = 100,
    block_ms: int | None = None,
) -> list[ResultEvent]:
    """Up to `count` entries after the id `after` (`$`: only ones added from now on).

    Args:
        block_ms: when nothing is there yet, wait up to this long for the first new entry
            (None answers at once; an empty list means nothing came in time).
    """
    answer = await resolved(redis.xread({stream: after}, count=count, block=block_ms))
    return _decoded(answer[0][1]) if answer else []


async def follow(
    redis: Redis,
    stream: str,
    *,
    after: str = START,
    wait: bool = False,
    block_ms: int = 1_000,
    batch: int = 100,
) -> AsyncIterator[ResultEvent]:
    """Yield the entries after `after`; with `wait`, keep waiting for new ones (forever)."""
    cursor = after
    while True:
        events = await read_after(
            redis, stream, cursor, count=batch, block_ms=block_ms if wait else None
        )
        for event in events:
            cursor = event.entry_id
            yield event
        if not events and not wait:
            return


def _left_ms(deadline: float) -> int:
    return max(1, int((deadline - time.monotonic()) * 1000))


async def wait_for(
    redis: Redis,
    stream: str,
    matches: Callable[[ResultEvent], bool],
    *,
    timeout_s: float,
    after: str = START,
) -> ResultEvent:
    """The first entry after `after` that `matches`, blocking on the stream until it comes.

    Raises:
        TimeoutError: no matching entry within `timeout_s`.
    """
    deadline = time.monotonic() + timeout_s
    cursor = after
    while time.monotonic() < deadline:
        for event in await read_after(redis, stream, cursor, block_ms=_left_ms(deadline)):
            cursor = event.entry_id
            if matches(event):
                return event
    raise TimeoutError(f"no matching event on {stream} within {timeout_s:g} s")


async def wait_for_length(
    redis: Redis,
    stream: str,
    length: int,
    *,
    timeout_s: float,
    each: Callable[[], Awaitable[None]] | None = None,
    every_ms: int = 1_000,
) -> int:
    """Block until the stream holds `length` entries; how many it holds then.

    Args:
        each: awaited every time the wait wakes (a new entry, or `every_ms` without one), e.g.
            to sample something else while the results come in.

    Raises:
        TimeoutError: fewer entries after `timeout_s` (the message says how many).
    """
    deadline = time.monotonic() + timeout_s
    newest = await redis.xrevrange(stream, "+", "-", count=1)
    cursor = _text(newest[0][0]) if newest else START
    while True:
        if each is not None:
            await each()
        have = int(await redis.xlen(stream))
        if have >= length:
            return have
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{have} of {length} results after {timeout_s:.0f}s")
        block = min(every_ms, _left_ms(deadline))
        events = await read_after(redis, stream, cursor, count=_PAGE, block_ms=block)
        if events:
            cursor = events[-1].entry_id


def _entry_inquiry(fields: Mapping[Any, Any]) -> str:
    for name, value in fields.items():
        if _text(name) == "inquiry_id":
            return _text(value)
    return ""


async def events_about(
    redis: Redis,
    stream: str,
    inquiry_id: str,
    *,
    batch: int = 1_000,
    progress: Callable[[int, int], None] | None = None,
) -> list[ResultEvent]:
    """Every event on the stream about one inquiry, oldest first.

    The stream has no index by inquiry, so this reads it newest to oldest in batches (the
    stream is trimmed to `RESULTS_STREAM_MAXLEN`, which bounds the scan) and decodes only the
    matching entries; `progress(scanned, total)` is called after each batch.
    """
    total = int(await redis.xlen(stream))
    found: list[ResultEvent] = []
    scanned = 0
    upper = "+"
    while True:
        entries: Sequence[Any] = await redis.xrevrange(stream, upper, "-", count=batch)
        if not entries:
            break
        found += [
            decode_entry(i, fields) for i, fields in entries if _entry_inquiry(fields) == inquiry_id
        ]
        scanned += len(entries)
        if progress is not None:
            progress(scanned, max(total, scanned))
        if len(entries) < batch:
            break
        upper = "(" + _text(entries[-1][0])
    found.reverse()
    return found

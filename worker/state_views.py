"""Read-only views of the pipeline's state in Redis, for the CLI, operators and metrics.

Nothing here writes: it reads the followed inquiries (`persona:inflight` and their records),
summarises them by status with the oldest one and the latest errors, reads one inquiry's
record together with the events published about it, and reads (or follows) the results stream.
Long reads take a `progress(done, total)` callback so the CLI can show how far along it is.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from redis.asyncio import Redis

from jobs.state import keys
from jobs.state.redis_typing import resolved
from jobs.state.store import InquiryRecord, Store

__all__ = [
    "ErrorRow",
    "InflightRow",
    "InquiryView",
    "Overview",
    "Progress",
    "ResultEvent",
    "inflight_rows",
    "inquiry_events",
    "inquiry_record",
    "inquiry_view",
    "overview",
    "read_results",
]

#: `progress(done, total)`: called as a long read advances.
Progress = Callable[[int, int], None]

#: Records read per Redis round trip.
_CHUNK: Final = 1_000
#: How many of the latest errors the overview keeps.
LAST_ERRORS: Final = 5


@dataclass(frozen=True, slots=True)
class ResultEvent:
    """One entry of the results stream."""

    entry_id: str
    event: str
    inquiry_id: str
    data: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The entry as one JSON object."""
        return {
            "entry_id": self.entry_id,
            "event": self.event,
            "inquiry_id": self.inquiry_id,
            "data": self.data,
        }


@dataclass(frozen=True, slots=True)
class InflightRow:
    """The parts of one followed inquiry's record that the overview and metrics read."""

    inquiry_id: str
    status: str
    followed_since: float | None
    updated_at: float | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class ErrorRow:
    """A followed inquiry whose latest check failed (the error's type, never its details)."""

    inquiry_id: str
    status: str
    error: str
    at: float | None

    def to_json(self) -> dict[str, Any]:
        """The row as one JSON object."""
        return {
            "inquiry_id": self.inquiry_id,
            "status": self.status,
            "error": self.error,
            "at": self.at,
        }


@dataclass(frozen=True, slots=True)
class Overview:
    """What the pipeline is doing right now."""

    in_flight: int
    by_status: dict[str, int]
    queued_jobs: int
    queued_ready: int
    oldest_followed_since: float | None
    oldest_inquiry_id: str | None
    results: int
    creating: int
    last_errors: tuple[ErrorRow, ...]

    def to_json(self) -> dict[str, Any]:
        """The overview as one JSON object."""
        return {
            "in_flight": self.in_flight,
            "by_status": self.by_status,
            "queued_jobs": self.queued_jobs,
            "queued_ready": self.queued_ready,
            "oldest_followed_since": self.oldest_followed_since,
            "oldest_inquiry_id": self.oldest_inquiry_id,
            "results": self.results,
            "creating": self.creating,
            "last_errors": [row.to_json() for row in self.last_errors],
        }


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


async def inflight_rows(redis: Redis, *, progress: Progress | None = None) -> list[InflightRow]:
    """Every inquiry in `persona:inflight` with its record's status, times and last error.

    Records are read in pipelined chunks, so a large backlog costs a few round trips rather
    than one per inquiry. A member whose record is gone reads as status `unknown`.
    """
    members = [str(member) for member in await redis.zrange(keys.INFLIGHT, 0, -1)]
    rows: list[InflightRow] = []
    fields = ["status", "followed_since", "updated_at", "last_error"]
    for start in range(0, len(members), _CHUNK):
        chunk = members[start : start + _CHUNK]
        async with redis.pipeline(transaction=False) as pipe:
            for inquiry_id in chunk:
                pipe.hmget(keys.inquiry_key(inquiry_id), fields)
            answers = await pipe.execute()
        for inquiry_id, (status, since, updated, error) in zip(chunk, answers, strict=True):
            rows.append(
                InflightRow(
                    inquiry_id=inquiry_id,
                    status=status or "unknown",
                    followed_since=_number(since),
                    updated_at=_number(updated),
                    last_error=error or None,
                )
            )
        if progress is not None:
            progress(len(rows), len(members))
    return rows


async def overview(
    redis: Redis, *, queue_name: str, stream: str, progress: Progress | None = None
) -> Overview:
    """Count in-flight inquiries by status; find the oldest, the latest errors, the queue."""
    rows = await inflight_rows(redis, progress=progress)
    statuses = Counter(row.status for row in rows)
    followed = [row for row in rows if row.followed_since is not None]
    oldest = min(followed, key=lambda row: row.followed_since or 0.0, default=None)
    errors = sorted(
        (row for row in rows if row.last_error),
        key=lambda row: row.updated_at or 0.0,
        reverse=True,
    )[:LAST_ERRORS]
    stream_length = await redis.xlen(stream) if await redis.exists(stream) else 0
    now_ms = int(time.time() * 1000)
    return Overview(
        in_flight=len(rows),
        by_status=dict(statuses.most_common()),
        queued_jobs=int(await redis.zcard(queue_name)),
        queued_ready=int(await redis.zcount(queue_name, "-inf", now_ms)),
        oldest_followed_since=oldest.followed_since if oldest else None,
        oldest_inquiry_id=oldest.inquiry_id if oldest else None,
        results=int(stream_length),
        creating=int(await redis.zcard(keys.CREATING)),
        last_errors=tuple(
            ErrorRow(row.inquiry_id, row.status, row.last_error or "", row.updated_at)
            for row in errors
        ),
    )


async def inquiry_record(
    redis: Redis, inquiry_id: str, *, record_ttl_s: int
) -> InquiryRecord | None:
    """One inquiry's record, if it is or was followed."""
    return await Store(redis, record_ttl_s=record_ttl_s).get(inquiry_id)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _event(entry_id: Any, fields: dict[Any, Any]) -> ResultEvent:
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


def _entry_inquiry(fields: dict[Any, Any]) -> str:
    for name, value in fields.items():
        if _text(name) == "inquiry_id":
            return _text(value)
    return ""


async def inquiry_events(
    redis: Redis,
    stream: str,
    inquiry_id: str,
    *,
    batch: int = _CHUNK,
    progress: Progress | None = None,
) -> list[ResultEvent]:
    """Every event on the stream about one inquiry, oldest first.

    The stream has no index by inquiry, so this reads it newest to oldest in batches (the
    stream is trimmed to `RESULTS_STREAM_MAXLEN`, which bounds the scan) and decodes only the
    matching entries.
    """
    total = int(await redis.xlen(stream)) if await redis.exists(stream) else 0
    found: list[ResultEvent] = []
    scanned = 0
    upper = "+"
    while True:
        entries: Sequence[Any] = await redis.xrevrange(stream, upper, "-", count=batch)
        if not entries:
            break
        for entry_id, fields in entries:
            if _entry_inquiry(fields) == inquiry_id:
                found.append(_event(entry_id, fields))
        scanned += len(entries)
        if progress is not None:
            progress(scanned, max(total, scanned))
        if len(entries) < batch:
            break
        upper = "(" + _text(entries[-1][0])
    found.reverse()
    return found


@dataclass(frozen=True, slots=True)
class InquiryView:
    """One inquiry as the pipeline knows it: its record (if kept) and its events."""

    inquiry_id: str
    record: InquiryRecord | None
    events: list[ResultEvent]

    def to_json(self) -> dict[str, Any]:
        """The view as one JSON object (`record` is null once the record has expired)."""
        record = (
            None
            if self.record is None
            else {name: getattr(self.record, name) for name in self.record.__slots__}
        )
        return {
            "inquiry_id": self.inquiry_id,
            "record": record,
            "events": [event.to_json() for event in self.events],
        }


async def inquiry_view(
    redis: Redis,
    inquiry_id: str,
    *,
    stream: str,
    record_ttl_s: int,
    progress: Progress | None = None,
) -> InquiryView:
    """An inquiry's record and every event published about it."""
    record = await inquiry_record(redis, inquiry_id, record_ttl_s=record_ttl_s)
    events = await inquiry_events(redis, stream, inquiry_id, progress=progress)
    return InquiryView(inquiry_id=inquiry_id, record=record, events=events)


async def read_results(
    redis: Redis,
    stream: str,
    *,
    after: str = "0-0",
    follow: bool = False,
    block_ms: int = 1_000,
    batch: int = 100,
) -> AsyncIterator[ResultEvent]:
    """Yield stream entries after `after`; with `follow`, keep waiting for new ones."""
    cursor = after
    while True:
        answer = await resolved(
            redis.xread({stream: cursor}, count=batch, block=block_ms if follow else None)
        )
        entries = answer[0][1] if answer else []
        for entry_id, fields in entries:
            event = _event(entry_id, fields)
            cursor = event.entry_id
            yield event
        if not entries and not follow:
            return

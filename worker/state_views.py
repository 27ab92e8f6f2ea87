"""Read-only views of the pipeline's state in Redis, for the CLI, operators and metrics.

Nothing here writes: it reads the followed inquiries (the due set and their records in the
request ledger, `jobs.state.ledger`), summarises them by status with the oldest one and the
latest errors, counts the requests still waiting for their answer, and reads one inquiry's
record, its next check and the events published about it (entries are decoded by
`jobs.state.results`, the one reader of the results stream). Long reads take a
`progress(done, total)` callback so the CLI can show how far along it is.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Final

from redis.asyncio import Redis

from jobs.state.keys import KeySpace
from jobs.state.ledger import InquiryRecord
from jobs.state.redis_typing import resolved
from jobs.state.results import ResultEvent, events_about
from jobs.state.webhook_flow import FlowState, WebhookFlow

__all__ = [
    "ErrorRow",
    "InflightRow",
    "InquiryView",
    "Overview",
    "Progress",
    "inflight_rows",
    "inquiry_record",
    "inquiry_view",
    "next_check",
    "overview",
]

#: `progress(done, total)`: called as a long read advances.
Progress = Callable[[int, int], None]


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
        return asdict(self)


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
    open_requests: int
    last_errors: tuple[ErrorRow, ...]
    polling: FlowState
    """The polling mode all workers share, and the webhooks' flow it was decided from."""

    def to_json(self) -> dict[str, Any]:
        """The overview as one JSON object."""
        return {
            **asdict(self),
            "last_errors": [row.to_json() for row in self.last_errors],
            "polling": self.polling.to_json(),
        }


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


#: Records read per Redis round trip.
_CHUNK: Final = 1_000


async def inflight_rows(
    redis: Redis, keys: KeySpace, *, progress: Progress | None = None
) -> list[InflightRow]:
    """Every followed inquiry (the due set) with its record's status, times and last error.

    Records are read in pipelined chunks, so a large backlog costs a few round trips rather
    than one per inquiry. A member whose record is gone reads as status `unknown`.
    """
    members = [str(member) for member in await redis.zrange(keys.due, 0, -1)]
    rows: list[InflightRow] = []
    fields = ["status", "since", "updated", "err"]
    for start in range(0, len(members), _CHUNK):
        chunk = members[start : start + _CHUNK]
        async with redis.pipeline(transaction=False) as pipe:
            for inquiry_id in chunk:
                pipe.hmget(keys.inquiry(inquiry_id), fields)
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


#: How many of the latest errors the overview keeps.
LAST_ERRORS: Final = 5


async def overview(
    redis: Redis,
    keys: KeySpace,
    *,
    queue_name: str,
    stream: str,
    progress: Progress | None = None,
) -> Overview:
    """Count in-flight inquiries by status; find the oldest, the latest errors, the queue."""
    rows = await inflight_rows(redis, keys, progress=progress)
    statuses = Counter(row.status for row in rows)
    followed = [row for row in rows if row.followed_since is not None]
    oldest = min(followed, key=lambda row: row.followed_since or 0.0, default=None)
    errors = sorted(
        (row for row in rows if row.last_error),
        key=lambda row: row.updated_at or 0.0,
        reverse=True,
    )[:LAST_ERRORS]
    stream_length = await redis.xlen(stream)  # 0 for a stream not written yet
    now_ms = int(time.time() * 1000)
    return Overview(
        in_flight=len(rows),
        by_status=dict(statuses.most_common()),
        queued_jobs=int(await redis.zcard(queue_name)),
        queued_ready=int(await redis.zcount(queue_name, "-inf", now_ms)),
        oldest_followed_since=oldest.followed_since if oldest else None,
        oldest_inquiry_id=oldest.inquiry_id if oldest else None,
        results=int(stream_length),
        open_requests=int(await redis.zcard(keys.open_requests)),
        last_errors=tuple(
            ErrorRow(row.inquiry_id, row.status, row.last_error or "", row.updated_at)
            for row in errors
        ),
        polling=await WebhookFlow(redis, keys).state(),
    )


async def inquiry_record(redis: Redis, keys: KeySpace, inquiry_id: str) -> InquiryRecord | None:
    """One inquiry's record, if it is or was followed (a settled one until it expires)."""
    return InquiryRecord.stored(inquiry_id, await resolved(redis.hgetall(keys.inquiry(inquiry_id))))


async def next_check(redis: Redis, keys: KeySpace, inquiry_id: str) -> float | None:
    """When the polling tick checks a followed inquiry next (unix seconds); None if it is not
    followed."""
    score = await redis.zscore(keys.due, inquiry_id)
    return None if score is None else float(score) / 1000


@dataclass(frozen=True, slots=True)
class InquiryView:
    """One inquiry as the pipeline knows it: its record (if kept), its next check and its
    events."""

    inquiry_id: str
    record: InquiryRecord | None
    next_check: float | None
    """When the polling tick checks it next (unix seconds); None when nobody follows it."""
    events: list[ResultEvent]

    def to_json(self) -> dict[str, Any]:
        """The view as one JSON object (`record` is null once the record has expired)."""
        record = None if self.record is None else asdict(self.record)
        return {
            "inquiry_id": self.inquiry_id,
            "record": record,
            "next_check": self.next_check,
            "events": [event.to_json() for event in self.events],
        }


async def inquiry_view(
    redis: Redis,
    keys: KeySpace,
    inquiry_id: str,
    *,
    stream: str,
    progress: Progress | None = None,
) -> InquiryView:
    """An inquiry's record, its next check and every event published about it."""
    record = await inquiry_record(redis, keys, inquiry_id)
    due = await next_check(redis, keys, inquiry_id)
    events = await events_about(redis, stream, inquiry_id, batch=_CHUNK, progress=progress)
    return InquiryView(inquiry_id=inquiry_id, record=record, next_check=due, events=events)

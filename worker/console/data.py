"""What the console shows, read from Redis: each read bounded whatever the number in flight.

- `now`: requests in flight by status (the ledger), the oldest waiting, the queue, the workers
  that beat recently, webhook deliveries and results of the last hour (`jobs.state.history`);
- `charts`: the per-minute history of the last hour or day;
- `recent`: the newest entries of the results stream, filtered by event and error type;
- `story`: one request's or inquiry's record and the steps the history still holds.

Only what an event would show leaves here: ids, job names, statuses, event names, error type
names, Persona operation ids and HTTP status codes; never an event's `fields`, a link, an error
message or a header.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from jobs.context import JobContext
from jobs.state.history_reads import (
    Bin,
    Step,
    known_limit,
    read_bins,
    read_steps,
    story_of,
    workers_alive,
)
from jobs.state.ledger import InquiryRecord, RequestRecord
from jobs.state.results import ResultEvent, decode_entry, read_range
from jobs.state.webhook_flow import FlowState
from worker.console.oldest import OldestWaiting
from worker.state_views import next_check

__all__ = [
    "RANGES",
    "Now",
    "Recent",
    "ResultRow",
    "Story",
    "bad_id",
    "charts",
    "now",
    "rate_limit",
    "recent",
    "story",
]

#: The chart windows: minutes covered and minutes per point.
RANGES: Final = {"hour": (60, 1), "day": (1_440, 10)}
#: Results-stream entries a filtered listing looks through, and rows it shows.
RECENT_SCAN: Final = 2_000
RECENT_ROWS: Final = 100
#: What a searched id may look like (anything else is refused before any read).
_ID: Final = re.compile(r"^[A-Za-z0-9_.:\-]{1,255}$")


def bad_id(value: str) -> bool:
    """Whether a searched id is not an identifier (then nothing is read)."""
    return not _ID.match(value)


@dataclass(frozen=True, slots=True)
class Now:
    """The pipeline right now."""

    by_status: dict[str, int]
    in_flight: int
    open_requests: int
    queued_jobs: int
    queued_ready: int
    oldest_since: float | None
    oldest_inquiry_id: str | None
    oldest_looked_at: float | None
    """When the oldest was looked for (`worker.console.oldest`: at most every 30 s)."""
    workers: int
    webhooks_recent: dict[str, int]
    """Deliveries of the last 15 minutes by outcome."""
    webhooks_hour: dict[str, int]
    results_hour: int
    """Requests answered in the last 60 minutes (whatever the event)."""
    polling: FlowState
    """How status checks run: the normal cadence, or the safety net while webhooks flow."""
    at: float


async def now(ctx: JobContext, oldest: OldestWaiting) -> Now:
    """Counts by status, the queue, the oldest waiting, workers alive, webhook deliveries."""
    at = time.time()
    by_status = dict(sorted((await ctx.ledger.status_counts()).items(), key=lambda item: -item[1]))
    in_flight = sum(by_status.values())
    queue = ctx.settings.queue_name
    async with ctx.redis.pipeline(transaction=False) as pipe:
        pipe.zcard(ctx.keys.open_requests)
        pipe.zcard(queue)
        pipe.zcount(queue, "-inf", int(at * 1000))
        open_requests, queued_jobs, queued_ready = await pipe.execute()
    found = await oldest.get(ctx, in_flight)
    last = await read_bins(ctx.redis, ctx.keys, now=at, minutes=60, per_bin=15)
    return Now(
        by_status=by_status,
        in_flight=in_flight,
        open_requests=int(open_requests),
        queued_jobs=int(queued_jobs),
        queued_ready=int(queued_ready),
        oldest_since=found.since if found else None,
        oldest_inquiry_id=found.inquiry_id if found else None,
        oldest_looked_at=found.looked_at if found else None,
        workers=await workers_alive(ctx.redis, ctx.keys, now=at),
        webhooks_recent=last[-1].kind("wh"),
        webhooks_hour=_summed(bin_.kind("wh") for bin_ in last),
        results_hour=sum(sum(bin_.kind("ev").values()) for bin_ in last),
        polling=await ctx.flow.state(),
        at=at,
    )


def _summed(parts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for part in parts:
        for name, value in part.items():
            total[name] = total.get(name, 0) + value
    return dict(sorted(total.items()))


async def charts(ctx: JobContext, window: str) -> list[Bin]:
    """The history of one window (`RANGES`), oldest point first."""
    minutes, per_bin = RANGES[window]
    return await read_bins(ctx.redis, ctx.keys, now=time.time(), minutes=minutes, per_bin=per_bin)


async def rate_limit(ctx: JobContext) -> int | None:
    """The shared limiter's requests per minute: the setting, or with `auto` what the workers
    read from Persona (None until a worker has started)."""
    setting = ctx.settings.rate_limit_per_minute
    return setting if isinstance(setting, int) else await known_limit(ctx.redis, ctx.keys)


@dataclass(frozen=True, slots=True)
class ResultRow:
    """One results-stream entry as the console lists it."""

    at_ms: int
    event: str
    inquiry_id: str
    request_id: str
    reference_id: str
    error_type: str

    @classmethod
    def of(cls, event: ResultEvent) -> ResultRow:
        """The listed parts of an entry (ids, the event's name, a failure's error type)."""
        error = event.data.get("error")
        error_type = error.get("type") if isinstance(error, dict) else None
        reference = event.data.get("reference_id")
        return cls(
            at_ms=event.added_ms,
            event=event.event,
            inquiry_id=event.inquiry_id,
            request_id=event.request,
            reference_id=reference if isinstance(reference, str) else "",
            error_type=error_type if isinstance(error_type, str) else "",
        )


@dataclass(frozen=True, slots=True)
class Recent:
    """The newest results, filtered, with the filter's choices."""

    rows: list[ResultRow]
    events: list[str]
    error_types: list[str]
    scanned: int


async def recent(ctx: JobContext, *, event: str = "", error_type: str = "") -> Recent:
    """The newest `RECENT_ROWS` results among the last `RECENT_SCAN`, newest first."""
    raw = await ctx.redis.xrevrange(ctx.settings.results_stream, count=RECENT_SCAN)
    entries = [ResultRow.of(decode_entry(entry_id, fields)) for entry_id, fields in raw]
    rows = [
        row
        for row in entries
        if (not event or row.event == event) and (not error_type or row.error_type == error_type)
    ]
    return Recent(
        rows=rows[:RECENT_ROWS],
        events=sorted({row.event for row in entries}),
        error_types=sorted({row.error_type for row in entries if row.error_type}),
        scanned=len(entries),
    )


@dataclass(frozen=True, slots=True)
class Story:
    """One searched id: the request and inquiry records it leads to, and the steps kept."""

    query: str
    request: RequestRecord | None
    inquiry: InquiryRecord | None
    next_check: float | None
    ended_with: ResultRow | None
    steps: list[Step] = field(default_factory=list)

    @property
    def reference_id(self) -> str:
        """The request's reference id (the ledger drops it once answered; its event keeps it)."""
        if self.request is not None and self.request.reference_id:
            return self.request.reference_id
        return self.ended_with.reference_id if self.ended_with else ""

    @property
    def found(self) -> bool:
        """Whether anything at all is known about the id."""
        return bool(self.request or self.inquiry or self.steps)


async def story(ctx: JobContext, query: str) -> Story:
    """What the ledger and the history know about a job, inquiry or reference id."""
    request = await ctx.ledger.request(query)
    if request is None:
        # A reference id: the newest results that name it lead to its request.
        raw = await ctx.redis.xrevrange(ctx.settings.results_stream, count=RECENT_SCAN)
        rows = (ResultRow.of(decode_entry(entry_id, fields)) for entry_id, fields in raw)
        named = next((row.request_id for row in rows if row.reference_id == query), None)
        request = await ctx.ledger.request(named) if named else None
    inquiry_id = request.inquiry_id if request and request.inquiry_id else query
    inquiry = await ctx.ledger.inquiry(inquiry_id)
    anchors = [query, inquiry_id] + ([request.request_id] if request else [])
    steps = story_of(await read_steps(ctx.redis, ctx.keys), ids=anchors)
    if request is None:
        # An inquiry id: the request that ran for it (a producer's, not a fetch).
        ran = next((s.request_id for s in steps if s.kind == "run" and s.request_id), None)
        request = await ctx.ledger.request(ran) if ran else None
    if inquiry is None:
        bound = next((step.inquiry_id for step in reversed(steps) if step.inquiry_id), None)
        inquiry = await ctx.ledger.inquiry(bound) if bound else None
    ended_with = None
    if request is not None and request.entry:
        found = await read_range(
            ctx.redis, ctx.settings.results_stream, start=request.entry, end=request.entry
        )
        ended_with = ResultRow.of(found[0]) if found else None
    due = None if inquiry is None else await next_check(ctx.redis, ctx.keys, inquiry.inquiry_id)
    return Story(query, request, inquiry, due, ended_with, steps)

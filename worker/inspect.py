"""Read-only views of the pipeline's state in Redis, for the CLI and operators.

Nothing here writes: it counts followed inquiries by status, reads one inquiry's record and
the events published for it, and reads (or follows) the results stream.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from jobs import keys
from jobs.redis_typing import resolved
from jobs.store import InquiryRecord, Store

__all__ = ["Overview", "ResultEvent", "overview", "read_results"]


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
class Overview:
    """What the pipeline is doing right now."""

    in_flight: int
    by_status: dict[str, int]
    queued_jobs: int
    oldest_followed_since: float | None
    results: int
    creating: int

    def to_json(self) -> dict[str, Any]:
        """The overview as one JSON object."""
        return {
            "in_flight": self.in_flight,
            "by_status": self.by_status,
            "queued_jobs": self.queued_jobs,
            "oldest_followed_since": self.oldest_followed_since,
            "results": self.results,
            "creating": self.creating,
        }


async def overview(redis: Redis, *, queue_name: str, stream: str) -> Overview:
    """Count in-flight inquiries by status, queued jobs and published results."""
    members = [str(member) for member in await redis.zrange(keys.INFLIGHT, 0, -1)]
    async with redis.pipeline(transaction=False) as pipe:
        for inquiry_id in members:
            pipe.hmget(keys.inquiry_key(inquiry_id), ["status", "followed_since"])
        rows = await pipe.execute()
    statuses: Counter[str] = Counter()
    oldest: float | None = None
    for status, since in rows:
        statuses[status or "unknown"] += 1
        if since:
            oldest = min(float(since), oldest) if oldest is not None else float(since)
    stream_length = await redis.xlen(stream) if await redis.exists(stream) else 0
    return Overview(
        in_flight=len(members),
        by_status=dict(statuses.most_common()),
        queued_jobs=int(await redis.zcard(queue_name)),
        oldest_followed_since=oldest,
        results=int(stream_length),
        creating=int(await redis.zcard(keys.CREATING)),
    )


async def inquiry_record(
    redis: Redis, inquiry_id: str, *, record_ttl_s: int
) -> InquiryRecord | None:
    """One inquiry's record, if it is or was followed."""
    return await Store(redis, record_ttl_s=record_ttl_s).get(inquiry_id)


def _event(entry_id: Any, fields: dict[Any, Any]) -> ResultEvent:
    def text(value: Any) -> str:
        return value.decode() if isinstance(value, bytes) else str(value)

    decoded = {text(name): text(value) for name, value in fields.items()}
    try:
        data = json.loads(decoded.get("data", "{}"))
    except json.JSONDecodeError:
        data = {"unreadable": True}
    return ResultEvent(
        entry_id=text(entry_id),
        event=decoded.get("event", ""),
        inquiry_id=decoded.get("inquiry_id", ""),
        data=data if isinstance(data, dict) else {"value": data},
    )


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

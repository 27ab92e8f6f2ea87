"""The results stream: every request ends in exactly one event.

A publication is one Lua script, so the dedupe marker, the `XADD` and the bookkeeping happen
together or not at all: a worker killed before the script leaves nothing behind (the sweep
publishes later); one killed after leaves the marker, so no re-run publishes twice. Entries
carry `event`, `inquiry_id` and `data` (a JSON document); the stream is trimmed approximately
to the configured length.

By default an event about an inquiry is that inquiry's pipeline outcome: publishing it also
ends the following (the inquiry leaves `persona:inflight` and its record is marked published).
Events that only report an action on an inquiry (a decision recorded, a link refreshed) pass
`settles_inquiry=False`, so the inquiry stays followed until its own result is published.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from redis.asyncio import Redis

from jobs.documents import FailedEvent, published_at
from jobs.errors import KnownError
from jobs.state import keys

__all__ = ["Publication", "Publisher"]

_PUBLISH_ONCE = """
local existing = redis.call('GET', KEYS[1])
if existing then return {0, existing} end
local entry = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*',
  'event', ARGV[1], 'inquiry_id', ARGV[2], 'data', ARGV[3])
redis.call('SET', KEYS[1], entry, 'EX', ARGV[5])
if ARGV[2] ~= '' and ARGV[7] == '1' then
  redis.call('ZREM', KEYS[3], ARGV[2])
  if redis.call('EXISTS', KEYS[4]) == 1 then
    redis.call('HSET', KEYS[4], 'published', '1', 'event', ARGV[1], 'published_at', ARGV[6])
    if ARGV[8] ~= '' then redis.call('HSET', KEYS[4], 'status', ARGV[8]) end
  end
end
return {1, entry}
"""


@dataclass(frozen=True, slots=True)
class Publication:
    """The outcome of a publish call."""

    entry_id: str
    """The stream entry holding the event (the earlier one for a duplicate)."""
    new: bool
    """False when the event had already been published and nothing was written."""


class Publisher:
    """Writes result and failure events to the results stream, once each."""

    def __init__(self, redis: Redis, *, stream: str, maxlen: int, marker_ttl_s: int) -> None:
        self.redis = redis
        self.stream = stream
        self.maxlen = maxlen
        self.marker_ttl_s = marker_ttl_s
        self._script = redis.register_script(_PUBLISH_ONCE)

    async def publish(
        self,
        *,
        dedupe_id: str,
        event: str,
        inquiry_id: str | None,
        data: Mapping[str, object],
        now: float,
        settles_inquiry: bool = True,
        status: str | None = None,
    ) -> Publication:
        """Append the event unless `dedupe_id` was published already.

        Args:
            now: the moment of publication (`JobContext.clock`), kept on the inquiry's record;
                `data` carries it as its `published_at`.
            settles_inquiry: whether the event is the inquiry's outcome and ends its following;
                False for events that only report an action on the inquiry.
            status: the inquiry status the outcome reports, written to the record with the
                publication so that operators (`inquiry show`, `status`) see the final status
                rather than the one the last check before it saw.
        """
        body = json.dumps(data, separators=(",", ":"), default=str)
        new, entry = await self._script(
            keys=[
                keys.published_key(dedupe_id),
                self.stream,
                keys.INFLIGHT,
                keys.inquiry_key(inquiry_id or ""),
            ],
            args=[
                event,
                inquiry_id or "",
                body,
                self.maxlen,
                self.marker_ttl_s,
                repr(now),
                "1" if settles_inquiry else "0",
                status or "",
            ],
        )
        entry_id = entry.decode() if isinstance(entry, bytes) else str(entry)
        return Publication(entry_id=entry_id, new=bool(new))

    async def publish_failure(
        self,
        *,
        dedupe_id: str,
        job: str,
        job_id: str,
        error: KnownError,
        now: float,
        inquiry_id: str | None = None,
        reference_id: str | None = None,
        settles_inquiry: bool = True,
        request_id: str | None = None,
    ) -> Publication:
        """Publish `job.failed` for a request that cannot succeed (see `publish`).

        Args:
            request_id: the request the failure answers, when it is not the failing job
                itself (a status check fails for the create request that started it).
        """
        data: FailedEvent = {
            "event": "job.failed",
            "request_id": request_id or job_id,
            "job": job,
            "job_id": job_id,
            "inquiry_id": inquiry_id,
            "reference_id": reference_id,
            "final": True,
            "error": error.to_dict(),
            "published_at": published_at(now),
        }
        return await self.publish(
            dedupe_id=dedupe_id,
            event="job.failed",
            inquiry_id=inquiry_id,
            data=data,
            now=now,
            settles_inquiry=settles_inquiry,
        )

    async def published_entry(self, dedupe_id: str) -> str | None:
        """The stream entry id of an earlier publication, if any."""
        value = await self.redis.get(keys.published_key(dedupe_id))
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

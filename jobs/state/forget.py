"""What this service keeps about a person, and how it forgets it when an inquiry is redacted.

We never store inquiry PII on purpose, but a few copies exist while requests are in flight.
On redaction each is dropped:

- `persona:inquiry:{id}`, the followed record: `reference_id` (the caller's id for the
  person) is blanked;
- `persona:create:{job}`, the create request's state: `reference_id` is removed (and the
  one-time link and session token that states written by older versions still hold);
- `arq:result:{job}`, arq's result of that create job: it holds the job's arguments
  (`reference_id` and the `fields`, e.g. name and birthdate, the inquiry was created with)
  and its one-time link, and is deleted;
- `arq:result:{job}` of every action job whose answer was a link for the inquiry
  (`refresh_link`): the jobs are listed in `persona:personal-results:{id}` when they publish,
  and each result is deleted, then the list;
- the results stream: result events carry inquiry `fields` values when `PUBLISH_FIELDS`
  allows some, and `inquiry.link-refreshed` events carry a link; those events are deleted
  (`XDEL`).

Everything else about the inquiry (status, counters, ids, dedupe markers) holds no personal
data and stays, so the pipeline keeps its guarantees. Other events stay on the stream (ids
and statuses only, plus the caller's own reference id); the stream is trimmed to its
configured length anyway. Scanning the stream reads it in pages, so the cost
grows with `RESULTS_STREAM_MAXLEN`; redactions are rare, and the scan never blocks Redis for
longer than one page.
"""

from __future__ import annotations

import json
from typing import Final

from jobs.context import JobContext
from jobs.documents import DroppedCopies
from jobs.state import keys
from jobs.state.redis_typing import resolved

__all__ = ["forget_inquiry"]

#: Stream entries read per round trip while looking for an inquiry's events.
_PAGE: Final = 500
# Blank the record's reference id, never creating a record that is gone (it would have no TTL).
_BLANK_REFERENCE: Final = """
if redis.call('HEXISTS', KEYS[1], 'reference_id') == 0 then return 0 end
redis.call('HSET', KEYS[1], 'reference_id', '')
return 1
"""
_CREATE_ANSWER: Final = ("reference_id", "one_time_link", "one_time_link_short", "session_token")
#: Event data that is personal: inquiry field values, and links into the person's flow.
_PERSONAL_EVENT_DATA: Final = ("fields", "one_time_link", "one_time_link_short")


async def _forget_request(ctx: JobContext, inquiry_id: str, request_id: str) -> tuple[int, int]:
    """Drop the create request's copies; (create states touched, arq results deleted)."""
    create_key = keys.create_key(request_id)
    if await resolved(ctx.redis.hget(create_key, "inquiry_id")) != inquiry_id:
        return 0, 0  # not a create request of ours (a poll request has no such state)
    async with ctx.redis.pipeline(transaction=True) as pipe:
        pipe.hdel(create_key, *_CREATE_ANSWER)
        pipe.delete(keys.ARQ_RESULT_PREFIX + request_id)
        _, deleted = await pipe.execute()
    return 1, int(deleted)


async def _forget_action_results(ctx: JobContext, inquiry_id: str) -> int:
    """Delete the arq results of the action jobs that answered with a link; how many."""
    listed = keys.personal_results_key(inquiry_id)
    job_ids = await resolved(ctx.redis.smembers(listed))
    doomed = [keys.ARQ_RESULT_PREFIX + str(job_id) for job_id in job_ids]
    async with ctx.redis.pipeline(transaction=True) as pipe:
        if doomed:
            pipe.delete(*doomed)
        pipe.delete(listed)
        deleted = await pipe.execute()
    return int(deleted[0]) if doomed else 0


def _holds_personal_data(raw: str | None) -> bool:
    """Whether an event's data carries inquiry field values or a one-time link."""
    if not raw:
        return False
    try:
        data = json.loads(raw)
    except ValueError:
        return False
    if not isinstance(data, dict):
        return False
    return any(data.get(name) for name in _PERSONAL_EVENT_DATA)


async def _forget_events(ctx: JobContext, inquiry_id: str) -> int:
    """Delete the inquiry's stream entries that carry field values or a link."""
    stream = ctx.settings.results_stream
    start, deleted = "-", 0
    while True:
        page = await ctx.redis.xrange(stream, start, "+", count=_PAGE)
        doomed = [
            entry_id
            for entry_id, fields in page
            if fields.get("inquiry_id") == inquiry_id and _holds_personal_data(fields.get("data"))
        ]
        if doomed:
            deleted += int(await ctx.redis.xdel(stream, *doomed))
        if len(page) < _PAGE:
            return deleted
        start = f"({page[-1][0]}"


async def forget_inquiry(ctx: JobContext, inquiry_id: str) -> DroppedCopies:
    """Drop every copy of personal data we keep for one inquiry; counts of what was dropped."""
    record_key = keys.inquiry_key(inquiry_id)
    request_id = await resolved(ctx.redis.hget(record_key, "request_id"))
    records = int(await resolved(ctx.redis.eval(_BLANK_REFERENCE, 1, record_key)))
    requests, results = (0, 0)
    if request_id:
        requests, results = await _forget_request(ctx, inquiry_id, str(request_id))
    results += await _forget_action_results(ctx, inquiry_id)
    return {
        "inquiry_records": records,
        "create_requests": requests,
        "job_results": results,
        "stream_events": await _forget_events(ctx, inquiry_id),
    }

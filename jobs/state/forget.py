"""What this service keeps about a person, and how it forgets it when an inquiry is redacted.

We never store inquiry PII on purpose, but a few copies exist while requests are in flight.
On redaction each is dropped:

- the ledger's records (`jobs.state.ledger`): the reference ids (the caller's ids for the
  person) kept for the requests still waiting for the inquiry, and on its creator's request
  record, are blanked, and the inquiry's record is marked redacted (`Ledger.forget_references`);
  an answered request dropped its own with its answer. The mark comes first: a fetch that read
  the inquiry before the redaction and publishes after the stream was scanned below publishes
  the redacted form of its events (`jobs.personal_data`), checked in the publishing script;
- `arq:result:{job}`, arq's result of the create job that made the inquiry: it holds the
  person's reference id and one-time link (never the job's arguments, which our serializer
  leaves out of every stored result), and is deleted;
- `arq:result:{job}` of every action job whose answer was a link for the inquiry
  (`refresh_link`): the jobs are listed in `{KEY_PREFIX}personal-results:{id}` when they
  publish, and each result is deleted, then the list;
- a result payload a webhook brought and no fetch has published yet (`jobs.state.payloads`):
  it holds the `PUBLISH_FIELDS` values, and is dropped (the time of the last result stays);
- the results stream: result events carry inquiry `fields` values when `PUBLISH_FIELDS`
  allows some, and `inquiry.link-refreshed` events carry a link; those events are deleted
  (`XDEL`).

Everything else about the inquiry (status, counters, ids, answered requests) holds no
personal data and stays, so the pipeline keeps its guarantees. Other events stay on the stream (ids
and statuses only, plus the caller's own reference id); the stream is trimmed to its
configured length anyway. Scanning the stream reads it in pages, so the cost
grows with `RESULTS_STREAM_MAXLEN`; redactions are rare, and the scan never blocks Redis for
longer than one page.
"""

from __future__ import annotations

from typing import Final

from jobs.context import JobContext
from jobs.documents import KeptCopies
from jobs.personal_data import holds_personal_data
from jobs.state.keys import ARQ_RESULT_PREFIX
from jobs.state.redis_typing import resolved

__all__ = ["forget_inquiry"]

#: Stream entries read per round trip while looking for an inquiry's events.
_PAGE: Final = 500


async def _forget_results(ctx: JobContext, inquiry_id: str, creator: str | None) -> int:
    """Delete the arq results that hold personal data about the inquiry; how many."""
    listed = ctx.keys.personal_results(inquiry_id)
    job_ids = [str(job_id) for job_id in await resolved(ctx.redis.smembers(listed))]
    if creator is not None:
        job_ids.append(creator)
    doomed = [ARQ_RESULT_PREFIX + job_id for job_id in job_ids]
    async with ctx.redis.pipeline(transaction=True) as pipe:
        if doomed:
            pipe.delete(*doomed)
        pipe.delete(listed)
        deleted = await pipe.execute()
    return int(deleted[0]) if doomed else 0


async def _forget_events(ctx: JobContext, inquiry_id: str) -> int:
    """Delete the inquiry's stream entries that carry field values or a link."""
    stream = ctx.settings.results_stream
    start, deleted = "-", 0
    while True:
        page = await ctx.redis.xrange(stream, start, "+", count=_PAGE)
        doomed = [
            entry_id
            for entry_id, fields in page
            if fields.get("inquiry_id") == inquiry_id and holds_personal_data(fields.get("data"))
        ]
        if doomed:
            deleted += int(await ctx.redis.xdel(stream, *doomed))
        if len(page) < _PAGE:
            return deleted
        start = f"({page[-1][0]}"


async def forget_inquiry(ctx: JobContext, inquiry_id: str) -> KeptCopies:
    """Drop every copy of personal data we keep for one inquiry; counts of what was dropped."""
    record = await ctx.ledger.inquiry(inquiry_id)
    records, requests = await ctx.ledger.forget_references(inquiry_id)
    await ctx.payloads.forget(inquiry_id)
    results = await _forget_results(ctx, inquiry_id, record.creator if record else None)
    return {
        "inquiry_records": records,
        "create_requests": requests,
        "job_results": results,
        "stream_events": await _forget_events(ctx, inquiry_id),
    }

"""Per-inquiry and per-create-request state in Redis.

One hash per followed inquiry (`persona:inquiry:{id}`) says which request it answers, its last
known status, how many checks were made, which arq job owns the next check, when something is
next due, the polling deadline and whether its result is published. A sorted set
(`persona:inflight`) indexes the inquiries not yet published by due time: the sweep reads it to
re-enqueue anything whose job was lost. Every record carries a TTL, refreshed on each change.

The polling chain uses a new, deterministic job id per check (`poll:{id}:{hop}`), because arq's
`Retry` neither refreshes the job key's TTL (arq #320) nor separates retries from polls in
`max_tries`. The record names the owner of the chain; `claim_poll` lets a job run only if it is
that owner or the owner's job is gone, so a re-run of an old hop can never fork the chain.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from jobs.idempotency import idempotency_key
from jobs.state import keys
from jobs.state.redis_typing import resolved

__all__ = ["CreateState", "InquiryRecord", "Store"]

# Claim the polling chain: succeed when the caller already owns it, when nobody does, or when
# the owner's arq job no longer exists (lost, or finished without handing over).
_CLAIM_POLL = """
local owner = redis.call('HGET', KEYS[1], 'poll_job')
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HGET', KEYS[1], 'published') == '1' then return -2 end
if owner and owner ~= ARGV[1] and redis.call('EXISTS', ARGV[2] .. owner) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'poll_job', ARGV[1])
return 1
"""


# Start a new following cycle of an inquiry whose outcome was published (e.g. `expired`, then
# resumed): only while the record still shows that outcome and the same number of checks, so
# two concurrent callers cannot both restart it. ARGV: expected event, expected polls, status,
# now, next due, next due (ms), ttl, the new owner job, the inquiry id.
_REFOLLOW = """
if redis.call('HGET', KEYS[1], 'published') ~= '1' then return 0 end
if redis.call('HGET', KEYS[1], 'event') ~= ARGV[1] then return 0 end
if redis.call('HGET', KEYS[1], 'polls') ~= ARGV[2] then return 0 end
local cycle = redis.call('HINCRBY', KEYS[1], 'cycle', 1)
redis.call('HINCRBY', KEYS[1], 'polls', 1)
redis.call('HSET', KEYS[1], 'published', '0', 'event', '', 'status', ARGV[3],
  'updated_at', ARGV[4], 'next_due', ARGV[5], 'deadline', '', 'last_error', '',
  'poll_job', ARGV[8])
redis.call('HDEL', KEYS[1], 'published_at')
redis.call('EXPIRE', KEYS[1], ARGV[7])
redis.call('ZADD', KEYS[2], ARGV[6], ARGV[9])
return cycle
"""


# Open a create request's state; index it as unanswered only the first time.
_BEGIN_CREATE = """
local new = redis.call('HSETNX', KEYS[1], 'first_attempt_at', ARGV[1])
redis.call('HSETNX', KEYS[1], 'reference_id', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
if new == 1 then redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5]) end
return redis.call('HGETALL', KEYS[1])
"""


def _float(value: str | None) -> float | None:
    return float(value) if value not in (None, "") else None


@dataclass(frozen=True, slots=True)
class InquiryRecord:
    """What we know about one followed inquiry (times are unix seconds)."""

    inquiry_id: str
    request_id: str
    reference_id: str | None
    status: str
    polls: int
    cycle: int
    poll_job: str | None
    followed_since: float
    updated_at: float
    next_due: float | None
    deadline: float | None
    published: bool
    event: str | None
    last_error: str | None

    @classmethod
    def from_hash(cls, inquiry_id: str, raw: Mapping[str, str]) -> InquiryRecord:
        """Read a record from its Redis hash."""
        return cls(
            inquiry_id=inquiry_id,
            request_id=raw.get("request_id", ""),
            reference_id=raw.get("reference_id") or None,
            status=raw.get("status", ""),
            polls=int(raw.get("polls", "0")),
            cycle=int(raw.get("cycle", "0")),
            poll_job=raw.get("poll_job") or None,
            followed_since=float(raw.get("followed_since", "0")),
            updated_at=float(raw.get("updated_at", "0")),
            next_due=_float(raw.get("next_due")),
            deadline=_float(raw.get("deadline")),
            published=raw.get("published") == "1",
            event=raw.get("event") or None,
            last_error=raw.get("last_error") or None,
        )

    @property
    def dedupe_id(self) -> str:
        """The publication id of this inquiry's current outcome."""
        return f"{self.inquiry_id}:{self.cycle}"


@dataclass(frozen=True, slots=True)
class CreateState:
    """Where one create request stands."""

    job_id: str
    first_attempt_at: float
    generation: int
    outcome_unknown: bool
    failures: int
    inquiry_id: str | None

    @property
    def idempotency_key(self) -> str:
        """The key for the next create attempt; a new generation after a possibly cached 5xx."""
        return idempotency_key("create", self.job_id, str(self.generation))


class Store:
    """Reads and writes pipeline state; one instance per process over a decoding Redis client."""

    def __init__(self, redis: Redis, *, record_ttl_s: int) -> None:
        self.redis = redis
        self.ttl_s = record_ttl_s
        self._claim_poll = redis.register_script(_CLAIM_POLL)
        self._begin_create = redis.register_script(_BEGIN_CREATE)
        self._refollow = redis.register_script(_REFOLLOW)

    # --- create requests -------------------------------------------------------------------

    async def begin_create(
        self, job_id: str, now: float, *, reference_id: str | None = None
    ) -> CreateState:
        """Open (or reopen, on a re-run) the state of a create request."""
        flat = await self._begin_create(
            keys=[keys.create_key(job_id), keys.CREATING],
            args=[repr(now), reference_id or "", self.ttl_s, int(now * 1000), job_id],
        )
        raw = dict(zip(flat[::2], flat[1::2], strict=True))
        return CreateState(
            job_id=job_id,
            first_attempt_at=float(raw["first_attempt_at"]),
            generation=int(raw.get("generation", "0")),
            outcome_unknown=raw.get("outcome_unknown") == "1",
            failures=int(raw.get("failures", "0")),
            inquiry_id=raw.get("inquiry_id") or None,
        )

    async def note_create_failure(
        self, job_id: str, *, outcome_unknown: bool, new_generation: bool, counts: bool
    ) -> None:
        """Remember a failed create attempt so the next one looks before it creates."""
        key = keys.create_key(job_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            if outcome_unknown:
                pipe.hset(key, "outcome_unknown", "1")
            if new_generation:
                pipe.hincrby(key, "generation", 1)
            if counts:
                pipe.hincrby(key, "failures", 1)
            pipe.expire(key, self.ttl_s)
            await pipe.execute()

    async def finish_create(self, job_id: str, inquiry_id: str | None) -> None:
        """Close a create request: answered by `inquiry_id`, or by a failure event (None).

        Only the inquiry id is kept, never the one-time link or session token: a re-run of the
        job asks Persona for a new link instead (`jobs.pipeline.create_inquiry`).
        """
        async with self.redis.pipeline(transaction=True) as pipe:
            if inquiry_id:
                pipe.hset(keys.create_key(job_id), "inquiry_id", inquiry_id)
            pipe.hset(keys.create_key(job_id), "done", "1")
            pipe.zrem(keys.CREATING, job_id)
            await pipe.execute()

    async def note_personal_result(self, inquiry_id: str, job_id: str) -> None:
        """Remember that a job's arq result holds personal data about the inquiry (a link).

        Job ids are the caller's, so nothing else leads from an inquiry to such a result;
        redaction (`jobs.state.forget`) reads this set and deletes each result it names.
        """
        key = keys.personal_results_key(inquiry_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.sadd(key, job_id)
            pipe.expire(key, self.ttl_s)
            await pipe.execute()

    # --- followed inquiries ----------------------------------------------------------------

    async def claim_inquiry(self, inquiry_id: str, request_id: str) -> bool:
        """Bind an inquiry to the request it answers; False if another request has it."""
        key = keys.inquiry_key(inquiry_id)
        if await resolved(self.redis.hsetnx(key, "request_id", request_id)):
            return True
        return bool(await resolved(self.redis.hget(key, "request_id")) == request_id)

    async def follow(
        self,
        inquiry_id: str,
        *,
        request_id: str,
        reference_id: str | None,
        status: str,
        now: float,
        first_due: float,
        poll_job: str,
    ) -> bool:
        """Start following an inquiry unless it is already followed; True if this call did."""
        key = keys.inquiry_key(inquiry_id)
        if not await resolved(self.redis.hsetnx(key, "followed_since", repr(now))):
            return False
        fields: dict[str, Any] = {
            "request_id": request_id,
            "reference_id": reference_id or "",
            "status": status,
            "polls": 0,
            "cycle": 0,
            "poll_job": poll_job,
            "updated_at": repr(now),
            "next_due": repr(first_due),
            "published": "0",
        }
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=fields)
            pipe.expire(key, self.ttl_s)
            pipe.zadd(keys.INFLIGHT, {inquiry_id: int(first_due * 1000)})
            await pipe.execute()
        return True

    async def refollow(
        self, record: InquiryRecord, *, status: str, now: float, first_due: float
    ) -> str | None:
        """Follow an inquiry again after its outcome was published; the new owner job's id.

        For an inquiry that came back to life (an expired one resumed): the record's `cycle`
        goes up, so the next result is published under a new dedupe id and answers the same
        request again. The check counter keeps growing so every check keeps a job id of its own
        (`poll:{id}:{hop}` with the owner at hop `polls`). None when the record no longer shows
        what `record` saw (another caller restarted it, or it was never published).
        """
        if not record.published or record.event is None:
            return None
        poll_job = keys.poll_job_id(record.inquiry_id, record.polls + 1)
        cycle = await self._refollow(
            keys=[keys.inquiry_key(record.inquiry_id), keys.INFLIGHT],
            args=[
                record.event,
                str(record.polls),
                status,
                repr(now),
                repr(first_due),
                int(first_due * 1000),
                self.ttl_s,
                poll_job,
                record.inquiry_id,
            ],
        )
        return poll_job if int(cycle) > 0 else None

    async def get(self, inquiry_id: str) -> InquiryRecord | None:
        """The record of a followed inquiry, if any."""
        raw = await resolved(self.redis.hgetall(keys.inquiry_key(inquiry_id)))
        if not raw or "followed_since" not in raw:
            return None
        return InquiryRecord.from_hash(inquiry_id, raw)

    async def claim_poll(self, inquiry_id: str, job_id: str) -> int:
        """Take the polling chain for `job_id`.

        Returns 1 when the job may poll, 0 when another live job owns the chain, -1 when the
        inquiry is not followed and -2 when its result is already published.
        """
        result = await self._claim_poll(
            keys=[keys.inquiry_key(inquiry_id)], args=[job_id, keys.ARQ_JOB_PREFIX]
        )
        return int(result)

    async def record_check(
        self,
        inquiry_id: str,
        *,
        status: str,
        now: float,
        next_due: float,
        deadline: float,
        next_job: str | None,
        error: str | None = None,
    ) -> None:
        """Store one status check's outcome and hand the chain to `next_job`."""
        key = keys.inquiry_key(inquiry_id)
        fields: dict[str, Any] = {
            "status": status,
            "updated_at": repr(now),
            "next_due": repr(next_due),
            "deadline": repr(deadline),
            "last_error": error or "",
        }
        if next_job is not None:
            fields["poll_job"] = next_job
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=fields)
            pipe.hincrby(key, "polls", 1)
            pipe.expire(key, self.ttl_s)
            pipe.zadd(keys.INFLIGHT, {inquiry_id: int(next_due * 1000)}, xx=True)
            await pipe.execute()

    async def note_status(self, inquiry_id: str, status: str, now: float) -> None:
        """Record a status a webhook announced, on a record that exists (never creates one)."""
        key = keys.inquiry_key(inquiry_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"status": status, "updated_at": repr(now)})
            pipe.expire(key, self.ttl_s)
            await pipe.execute()

    async def reschedule(self, inquiry_id: str, due: float) -> None:
        """Move an inquiry's next due time (a webhook or a sweep pulls it forward)."""
        await self.redis.zadd(keys.INFLIGHT, {inquiry_id: int(due * 1000)}, xx=True)

    async def overdue(self, now: float, *, limit: int) -> list[str]:
        """Followed inquiries whose next step is due before `now`, oldest first."""
        members = await self.redis.zrangebyscore(
            keys.INFLIGHT, "-inf", int(now * 1000), start=0, num=limit
        )
        return [str(member) for member in members]

    async def stale_creates(self, before: float, *, limit: int) -> list[str]:
        """Create requests opened before `before` and still unanswered."""
        members = await self.redis.zrangebyscore(
            keys.CREATING, "-inf", int(before * 1000), start=0, num=limit
        )
        return [str(member) for member in members]

    async def inflight_count(self) -> int:
        """How many inquiries are followed and not yet published."""
        return int(await self.redis.zcard(keys.INFLIGHT))

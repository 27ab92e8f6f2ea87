"""The request ledger: the one writer of request and follow state.

Every job a producer enqueues (`create_inquiry`, `poll_inquiry`, each action) is a *request*,
keyed by its job id. The ledger records it before the job has any side effect and keeps it,
with no TTL, until it is answered; it is answered exactly once, by one Lua script that checks
the request's `entry` field, appends the event to the results stream and writes `entry` back.
Whatever ends a request goes through `answer` or `answer_followers`: a result, `job.failed`
for any exception, the polling deadline, the sweep closing a request whose job was lost. A job
id enqueued again after its answer finds `entry` and does nothing (until the answered record
expires, `RECORD_TTL_S` later).

An inquiry is *followed* while at least one request waits for its result. Its hash holds the
last status, the checks made, the deadline, and one `f:{request_id}` field per waiting request
(the value is that request's reference id, so an answer needs no other read); the due set
(`KeySpace.due`) holds its next check time. `follow` adds a request to an inquiry (and binds
the request to it) in one script; answering the last follower takes the inquiry out of the due
set in the same script that answers it, so nothing can be half followed.

Keys come from `jobs.state.keys.KeySpace`; scripts that touch a request hash they cannot name
up front (the followers of an inquiry) build its key from the prefix, which a single Redis
allows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Final

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from jobs.idempotency import idempotency_key
from jobs.personal_data import without_personal_data
from jobs.state.keys import ARQ_IN_PROGRESS_PREFIX, ARQ_JOB_PREFIX, KeySpace
from jobs.state.redis_typing import resolved

__all__ = [
    "FOLLOWER_FIELD",
    "FOLLOWING_AUDIT_S",
    "OPEN_AUDIT_S",
    "Answer",
    "AuditOutcome",
    "Check",
    "FollowOutcome",
    "InquiryRecord",
    "Ledger",
    "RequestRecord",
    "claim_members",
]

#: The hash field prefix of a request following an inquiry.
FOLLOWER_FIELD: Final = "f:"
#: How long after its last run the sweep first looks whether an open request's job still lives.
OPEN_AUDIT_S: Final = 30.0
#: How often the sweep looks at a request that follows an inquiry (whose state could vanish).
FOLLOWING_AUDIT_S: Final = 3_600.0

# Shared Lua: keep the count of followed inquiries by status (`Ledger.status_counts`) true.
# A followed inquiry (in the due set, with a record) is counted under its status; the record's
# `c` field says under which, so every script calls `recount` after it changes a status or
# the due set and a count is never moved twice. The counts hash is the due set's neighbour.
_RECOUNT: Final = """
local function recount(ikey, due, inquiry_id)
  local want = false
  if redis.call('ZSCORE', due, inquiry_id) then
    want = redis.call('HGET', ikey, 'status') or false
  end
  local was = redis.call('HGET', ikey, 'c') or false
  if was == want then return end
  local counts = due .. ':counts'
  if was then
    if redis.call('HINCRBY', counts, was, -1) <= 0 then redis.call('HDEL', counts, was) end
  end
  if want then
    redis.call('HINCRBY', counts, want, 1)
    redis.call('HSET', ikey, 'c', want)
  else
    redis.call('HDEL', ikey, 'c')
  end
end
"""

# Shared Lua: take an inquiry out of the due set once no request follows it any more.
# KEYS-free so both answer scripts can call it; returns 1 when the inquiry was settled.
_SETTLE: Final = (
    _RECOUNT
    + """
local function settle(ikey, due, inquiry_id, ttl)
  if redis.call('EXISTS', ikey) == 0 then
    redis.call('ZREM', due, inquiry_id)
    return 1
  end
  for _, name in ipairs(redis.call('HKEYS', ikey)) do
    if string.sub(name, 1, 2) == 'f:' then return 0 end
  end
  redis.call('ZREM', due, inquiry_id)
  redis.call('HSET', ikey, 'done', '1')
  recount(ikey, due, inquiry_id)
  redis.call('EXPIRE', ikey, ttl)
  return 1
end
-- The data to publish about an inquiry: its redacted form ('' when it holds nothing personal)
-- once redaction marked the inquiry's record (`_FORGET`), so nothing personal reaches the
-- stream after redaction scanned it.
local function publishable(ikey, data, redacted)
  if redacted ~= '' and redis.call('HGET', ikey, 'redacted') == '1' then return redacted end
  return data
end
local function answer_one(rkey, open, stream, request_id, event, inquiry_id, data, maxlen, ttl)
  local entry = redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*',
    'event', event, 'inquiry_id', inquiry_id, 'data', data)
  redis.call('HSET', rkey, 'entry', entry, 'event', event)
  redis.call('HDEL', rkey, 'gen', 'unknown', 'failures', 'ref')
  redis.call('EXPIRE', rkey, ttl)
  redis.call('ZREM', open, request_id)
  return entry
end
"""
)

# Record a request before its first side effect; reopen it on a re-run. The open set's score
# is when the sweep should first look at it (`Ledger.audit_due`).
# KEYS: request hash, open set. ARGV: job, now, audit time (ms), reference id, request id.
_OPEN: Final = """
if not redis.call('HGET', KEYS[1], 'entry') then
  if redis.call('HSETNX', KEYS[1], 'at', ARGV[2]) == 1 then
    redis.call('HSET', KEYS[1], 'job', ARGV[1])
    if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'ref', ARGV[4]) end
    redis.call('ZADD', KEYS[2], ARGV[3], ARGV[5])
  end
end
return redis.call('HGETALL', KEYS[1])
"""

# Answer one request unless it was answered (or, with ARGV[8] = '1', while it follows an
# inquiry whose result will answer it). An event about a redacted inquiry goes out in its
# redacted form (ARGV[10], `publishable`).
# KEYS: request hash, open set, stream.
# ARGV: request id, event, inquiry id, data, maxlen, ttl, prefix, unless following, due set,
# redacted data.
# Returns {1, entry} when answered now, {0, entry} when answered before, {-1, ''} when the
# request follows an inquiry.
_ANSWER: Final = (
    _SETTLE
    + """
local entry = redis.call('HGET', KEYS[1], 'entry')
if entry then return {0, entry} end
local bound = redis.call('HGET', KEYS[1], 'inquiry')
local ikey = ''
if bound then ikey = ARGV[7] .. 'inquiry:' .. bound end
if ARGV[8] == '1' and bound and redis.call('HEXISTS', ikey, 'f:' .. ARGV[1]) == 1 then
  return {-1, ''}
end
local data = ARGV[4]
if ARGV[3] ~= '' then data = publishable(ARGV[7] .. 'inquiry:' .. ARGV[3], data, ARGV[10]) end
entry = answer_one(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3], data, ARGV[5], ARGV[6])
if bound then
  redis.call('HDEL', ikey, 'f:' .. ARGV[1])
  settle(ikey, ARGV[9], bound, ARGV[6])
end
return {1, entry}
"""
)

# Answer every listed follower of an inquiry that is still waiting, then settle the inquiry if
# nobody else follows it. An inquiry redacted since its result was read gets each event's
# redacted form (`publishable`).
# KEYS: inquiry hash, due set, stream, open set. ARGV: prefix, inquiry id, maxlen, ttl, now,
# event, status, count, then for each follower its request id, data and redacted data ('' when
# the data holds nothing personal). Returns the number of requests answered now.
_ANSWER_FOLLOWERS: Final = (
    _SETTLE
    + """
local answered = 0
local count = tonumber(ARGV[8])
for i = 0, count - 1 do
  local request_id = ARGV[9 + 3 * i]
  local field = 'f:' .. request_id
  if redis.call('HEXISTS', KEYS[1], field) == 1 then
    local rkey = ARGV[1] .. 'request:' .. request_id
    if not redis.call('HGET', rkey, 'entry') then
      local data = publishable(KEYS[1], ARGV[10 + 3 * i], ARGV[11 + 3 * i])
      answer_one(rkey, KEYS[4], KEYS[3], request_id, ARGV[6], ARGV[2], data, ARGV[3], ARGV[4])
      answered = answered + 1
    end
    redis.call('HDEL', KEYS[1], field)
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'status', ARGV[7], 'updated', ARGV[5], 'event', ARGV[6])
  redis.call('HINCRBY', KEYS[1], 'round', 1)
  recount(KEYS[1], KEYS[2], ARGV[2])
end
settle(KEYS[1], KEYS[2], ARGV[2], ARGV[4])
return answered
"""
)

# Add a request to an inquiry's followers and bind the request to it, in one step; the sweep
# looks at a following request rarely (the due set is its net, not arq).
# KEYS: inquiry hash, due set, request hash, open set. ARGV: request id, reference id, status,
# now, first due (ms), inquiry id, creator ('1' when the request created the inquiry), audit
# time (ms).
# Returns 1 when the inquiry was not followed before, 0 when it was, -1 when the request is
# already answered, -2 when another request created (and claimed) the inquiry.
_FOLLOW: Final = (
    _RECOUNT
    + """
if redis.call('HGET', KEYS[3], 'entry') then return -1 end
if ARGV[7] == '1' then
  local creator = redis.call('HGET', KEYS[1], 'creator')
  if creator and creator ~= ARGV[1] then return -2 end
end
local fresh = 0
if redis.call('HSETNX', KEYS[1], 'since', ARGV[4]) == 1 then
  redis.call('HSET', KEYS[1], 'status', ARGV[3], 'updated', ARGV[4], 'polls', 0, 'round', 0)
  fresh = 1
elseif redis.call('HGET', KEYS[1], 'done') == '1' then
  redis.call('HSET', KEYS[1], 'done', '0')
  redis.call('HDEL', KEYS[1], 'deadline')
  fresh = 1
end
if ARGV[7] == '1' then redis.call('HSET', KEYS[1], 'creator', ARGV[1]) end
redis.call('PERSIST', KEYS[1])
redis.call('HSET', KEYS[1], 'f:' .. ARGV[1], ARGV[2])
redis.call('HSET', KEYS[3], 'inquiry', ARGV[6])
redis.call('ZADD', KEYS[4], 'XX', ARGV[8], ARGV[1])
local current = redis.call('ZSCORE', KEYS[2], ARGV[6])
if not current or tonumber(current) > tonumber(ARGV[5]) then
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[6])
end
recount(KEYS[1], KEYS[2], ARGV[6])
return fresh
"""
)

# The sweep's look at one request whose audit time came: answered (drop it from the open set),
# following an inquiry that still lists it or waiting for its reports (the report due set), or
# with a live arq job (look again later), else lost: answered with the `job.failed` the caller
# built.
# KEYS: request hash, open set, stream, arq job key, arq in-progress key, report due set.
# ARGV: request id, prefix, next look (ms) when following, next look (ms) when alive, maxlen,
# ttl, event data, due set. Returns 0 answered before, 1 following, 2 alive, 3 answered now.
_AUDIT: Final = (
    _SETTLE
    + """
if redis.call('HGET', KEYS[1], 'entry') then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
local bound = redis.call('HGET', KEYS[1], 'inquiry')
local ikey = ''
if bound then ikey = ARGV[2] .. 'inquiry:' .. bound end
if (bound and redis.call('HEXISTS', ikey, 'f:' .. ARGV[1]) == 1)
    or redis.call('ZSCORE', KEYS[6], ARGV[1]) then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
  return 1
end
if redis.call('EXISTS', KEYS[4]) == 1 or redis.call('EXISTS', KEYS[5]) == 1 then
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
  return 2
end
answer_one(KEYS[1], KEYS[2], KEYS[3], ARGV[1], 'job.failed', bound or '', ARGV[7], ARGV[5],
  ARGV[6])
if bound then settle(ikey, ARGV[8], bound, ARGV[6]) end
return 3
"""
)

# Take the due inquiries for one tick: each moves to `until` so that no other tick takes it
# while this one works, and comes back by itself if this one dies.
# KEYS: due set. ARGV: now (ms), limit, until (ms).
_CLAIM_DUE: Final = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], 'XX', ARGV[3], id) end
return ids
"""

# Store one check's outcome on an inquiry that is still followed.
# KEYS: inquiry hash, due set. ARGV: inquiry id, status, now, next due (ms), deadline, error.
_RECORD_CHECK: Final = (
    _RECOUNT
    + """
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'updated', ARGV[3])
if ARGV[6] ~= '' then
  redis.call('HSET', KEYS[1], 'err', ARGV[6])
else
  redis.call('HDEL', KEYS[1], 'err')
end
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'deadline', ARGV[5]) end
redis.call('HINCRBY', KEYS[1], 'polls', 1)
redis.call('ZADD', KEYS[2], 'XX', ARGV[4], ARGV[1])
recount(KEYS[1], KEYS[2], ARGV[1])
return 1
"""
)

# A status a webhook announced, on an inquiry still followed (never creating a record).
# KEYS: inquiry hash, due set. ARGV: inquiry id, status, now.
_NOTE_STATUS: Final = (
    _RECOUNT
    + """
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'updated', ARGV[3])
recount(KEYS[1], KEYS[2], ARGV[1])
return 1
"""
)

# Stop checking inquiries (their record is gone, or nobody follows them any more).
# KEYS: due set. ARGV: prefix, then the inquiry ids.
_DROP_DUE: Final = (
    _RECOUNT
    + """
for i = 2, #ARGV do
  redis.call('ZREM', KEYS[1], ARGV[i])
  recount(ARGV[1] .. 'inquiry:' .. ARGV[i], KEYS[1], ARGV[i])
end
return #ARGV - 1
"""
)

# While webhooks flow, a due inquiry's check waits for the safety net (`jobs.policy.cadence`):
# it moves only later, only while the inquiry is in the same answer round and not settled, so
# a request that started following in between keeps its prompt check.
# KEYS: due set, inquiry hash. ARGV: inquiry id, round, until (ms). Returns 1 when moved.
_DEFER: Final = """
if redis.call('HGET', KEYS[2], 'round') ~= ARGV[2] then return 0 end
if redis.call('HGET', KEYS[2], 'done') == '1' then return 0 end
return redis.call('ZADD', KEYS[1], 'XX', 'GT', 'CH', ARGV[3], ARGV[1])
"""

# When webhooks stop, every followed inquiry becomes due now, so the changes the gap may have
# hidden are seen within a tick. KEYS: due set. ARGV: now (ms). Returns how many moved.
_CATCH_UP: Final = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf')
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], 'XX', ARGV[1], id) end
return #ids
"""

# Count the followed inquiries by status from scratch (records written before the counts
# existed, or a record deleted by hand). KEYS: due set. ARGV: prefix.
_RECOUNT_ALL: Final = """
local counts = KEYS[1] .. ':counts'
redis.call('DEL', counts)
local followed = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, inquiry_id in ipairs(followed) do
  local ikey = ARGV[1] .. 'inquiry:' .. inquiry_id
  local status = redis.call('HGET', ikey, 'status')
  if status then
    redis.call('HINCRBY', counts, status, 1)
    redis.call('HSET', ikey, 'c', status)
  end
end
return #followed
"""

# A failed create attempt: remember it so the next attempt looks before it creates.
# KEYS: request hash. ARGV: outcome unknown, new generation, counts ('1' or '0').
_CREATE_FAILED: Final = """
if redis.call('HGET', KEYS[1], 'entry') then return 0 end
if ARGV[1] == '1' then redis.call('HSET', KEYS[1], 'unknown', '1') end
if ARGV[2] == '1' then redis.call('HINCRBY', KEYS[1], 'gen', 1) end
if ARGV[3] == '1' then redis.call('HINCRBY', KEYS[1], 'failures', 1) end
return 1
"""

# Redaction: blank the reference ids the ledger keeps for an inquiry's requests, and mark the
# record redacted, so a result read before the redaction is published in its redacted form.
# KEYS: inquiry hash. ARGV: prefix. Returns {records touched, requests touched}.
_FORGET: Final = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, 0} end
redis.call('HSET', KEYS[1], 'redacted', '1')
local requests = 0
local creator = redis.call('HGET', KEYS[1], 'creator')
for _, name in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(name, 1, 2) == 'f:' then
    redis.call('HSET', KEYS[1], name, '')
    requests = requests + redis.call('HDEL', ARGV[1] .. 'request:' .. string.sub(name, 3), 'ref')
  end
end
if creator then
  requests = requests + redis.call('HDEL', ARGV[1] .. 'request:' .. creator, 'ref')
end
return {1, requests}
"""


def _stamp(moment: float) -> str:
    """A time as stored in a record: unix seconds to the millisecond (memory counts per key)."""
    return f"{moment:.3f}"


def _json(data: Mapping[str, object]) -> str:
    """An event's data as the stream stores it."""
    return json.dumps(data, separators=(",", ":"), default=str)


def _publishable(data: Mapping[str, object]) -> tuple[str, str]:
    """An event's data and its redacted form, as the answer scripts take them ('' for no
    redacted form: the data holds nothing personal)."""
    redacted = without_personal_data(data)
    return _json(data), "" if redacted is None else _json(redacted)


def _pairs(flat: Sequence[Any]) -> dict[str, str]:
    return {str(flat[i]): str(flat[i + 1]) for i in range(0, len(flat), 2)}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _float(value: str | None) -> float | None:
    return float(value) if value not in (None, "") else None


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """Where one request stands (times are unix seconds)."""

    request_id: str
    job: str
    first_run_at: float
    reference_id: str | None
    inquiry_id: str | None
    """The inquiry whose result answers this request, once it follows one."""
    entry: str | None
    """The stream entry that answered it; None while it is open."""
    event: str | None
    generation: int
    outcome_unknown: bool
    failures: int

    @classmethod
    def from_hash(cls, request_id: str, raw: Mapping[str, str]) -> RequestRecord:
        """Read a request from its Redis hash."""
        return cls(
            request_id=request_id,
            job=raw.get("job", ""),
            first_run_at=float(raw.get("at", "0")),
            reference_id=raw.get("ref") or None,
            inquiry_id=raw.get("inquiry") or None,
            entry=raw.get("entry") or None,
            event=raw.get("event") or None,
            generation=int(raw.get("gen", "0")),
            outcome_unknown=raw.get("unknown") == "1",
            failures=int(raw.get("failures", "0")),
        )

    @property
    def answered(self) -> bool:
        """Whether the request has its one answer."""
        return self.entry is not None

    @property
    def create_idempotency_key(self) -> str:
        """A create's key for its next attempt; a new generation after a possibly cached 5xx."""
        return idempotency_key("create", self.request_id, str(self.generation))


@dataclass(frozen=True, slots=True)
class InquiryRecord:
    """What we know about one inquiry we follow (or followed until recently)."""

    inquiry_id: str
    status: str
    polls: int
    round: int
    followed_since: float
    updated_at: float
    deadline: float | None
    done: bool
    """Every request that followed it is answered."""
    event: str | None
    """The last event that answered its followers."""
    last_error: str | None
    creator: str | None
    """The create request that made the inquiry, if one of ours did."""
    followers: dict[str, str | None]
    """The requests waiting for its result, each with its reference id."""
    redacted: bool = False
    """Redaction reached it while it was followed: its events are published redacted."""

    @classmethod
    def from_hash(cls, inquiry_id: str, raw: Mapping[str, str]) -> InquiryRecord:
        """Read a record from its Redis hash."""
        return cls(
            inquiry_id=inquiry_id,
            status=raw.get("status", ""),
            polls=int(raw.get("polls", "0")),
            round=int(raw.get("round", "0")),
            followed_since=float(raw.get("since", "0")),
            updated_at=float(raw.get("updated", "0")),
            deadline=_float(raw.get("deadline")),
            done=raw.get("done") == "1",
            event=raw.get("event") or None,
            last_error=raw.get("err") or None,
            creator=raw.get("creator") or None,
            followers={
                name[len(FOLLOWER_FIELD) :]: value or None
                for name, value in raw.items()
                if name.startswith(FOLLOWER_FIELD)
            },
            redacted=raw.get("redacted") == "1",
        )

    @classmethod
    def stored(cls, inquiry_id: str, raw: Mapping[str, str]) -> InquiryRecord | None:
        """The record a Redis hash holds; None for no hash (or one never followed)."""
        return cls.from_hash(inquiry_id, raw) if raw and "since" in raw else None

    @property
    def reference_id(self) -> str | None:
        """A reference id of its followers (the creator's when it has one), for logs."""
        if self.creator is not None and self.followers.get(self.creator):
            return self.followers[self.creator]
        return next((ref for ref in self.followers.values() if ref), None)


@dataclass(frozen=True, slots=True)
class Answer:
    """The outcome of answering one request."""

    entry_id: str | None
    """The stream entry holding the answer (an earlier one when `new` is False); None when the
    request was left open (it follows an inquiry, or its job is alive)."""
    new: bool
    """Whether this call wrote the answer."""


@dataclass(frozen=True, slots=True)
class Check:
    """One status check's outcome, to store (`Ledger.record_checks`); times are unix seconds."""

    inquiry_id: str
    status: str
    now: float
    next_due: float
    deadline: float | None
    error: str | None = None


class AuditOutcome(IntEnum):
    """What the sweep's look at one open request found (`Ledger.audit`)."""

    ANSWERED_BEFORE = 0
    FOLLOWING = 1
    JOB_ALIVE = 2
    ANSWERED_LOST = 3


@dataclass(frozen=True, slots=True)
class FollowOutcome:
    """What `Ledger.follow` did."""

    following: bool
    """The request now follows the inquiry (False: answered already, or not ours)."""
    first: bool
    """Nobody followed the inquiry before (a new chain of checks starts)."""
    claimed_by_other: bool = False
    """Another create request made this inquiry."""


class Ledger:
    """Reads and writes requests and followed inquiries; one per process (decoded client)."""

    def __init__(
        self,
        redis: Redis,
        keys: KeySpace,
        *,
        stream: str,
        maxlen: int,
        answered_ttl_s: int,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.stream = stream
        self.maxlen = maxlen
        self.answered_ttl_s = answered_ttl_s
        self._open = redis.register_script(_OPEN)
        self._answer = redis.register_script(_ANSWER)
        self._answer_followers = redis.register_script(_ANSWER_FOLLOWERS)
        self._follow = redis.register_script(_FOLLOW)
        self._audit = redis.register_script(_AUDIT)
        self._claim_due = redis.register_script(_CLAIM_DUE)
        self._record_check = redis.register_script(_RECORD_CHECK)
        self._note_status = redis.register_script(_NOTE_STATUS)
        self._create_failed = redis.register_script(_CREATE_FAILED)
        self._forget = redis.register_script(_FORGET)
        self._drop_due = redis.register_script(_DROP_DUE)
        self._recount_all = redis.register_script(_RECOUNT_ALL)
        self._defer = redis.register_script(_DEFER)
        self._catch_up = redis.register_script(_CATCH_UP)
        self._release = redis.register_script(_RELEASE)

    # --- requests --------------------------------------------------------------------------

    async def open(
        self, request_id: str, job: str, now: float, *, reference_id: str | None = None
    ) -> RequestRecord:
        """Record a request before its job does anything (a re-run reopens the same record)."""
        flat = await self._open(
            keys=[self.keys.request(request_id), self.keys.open_requests],
            args=[
                job,
                _stamp(now),
                int((now + OPEN_AUDIT_S) * 1000),
                reference_id or "",
                request_id,
            ],
        )
        return RequestRecord.from_hash(request_id, _pairs(flat))

    async def request(self, request_id: str) -> RequestRecord | None:
        """A request's record, if the ledger has one."""
        raw = await resolved(self.redis.hgetall(self.keys.request(request_id)))
        return RequestRecord.from_hash(request_id, raw) if raw else None

    async def answer(
        self,
        request_id: str,
        *,
        event: str,
        data: Mapping[str, object],
        inquiry_id: str | None = None,
        unless_following: bool = False,
    ) -> Answer:
        """Answer one request with `event` unless it has its answer already.

        Args:
            inquiry_id: the inquiry the event is about (the stream entry's `inquiry_id`).
            unless_following: leave the request open while it follows an inquiry: that
                inquiry's result will answer it (a job that failed after it started following).

        An event about an inquiry that redaction reached after `data` was built goes out
        without its field values and links (`jobs.personal_data`), as in `answer_followers`.
        """
        published, redacted = _publishable(data)
        status, entry = await self._answer(
            keys=[self.keys.request(request_id), self.keys.open_requests, self.stream],
            args=[
                request_id,
                event,
                inquiry_id or "",
                published,
                self.maxlen,
                self.answered_ttl_s,
                self.keys.prefix,
                "1" if unless_following else "0",
                self.keys.due,
                redacted,
            ],
        )
        code = int(status)
        if code < 0:
            return Answer(entry_id=None, new=False)
        return Answer(entry_id=_text(entry), new=code == 1)

    async def note_create_failure(
        self, request_id: str, *, outcome_unknown: bool, new_generation: bool, counts: bool
    ) -> None:
        """Remember a failed create attempt so that the next one looks before it creates."""
        flags = (outcome_unknown, new_generation, counts)
        await self._create_failed(
            keys=[self.keys.request(request_id)], args=["1" if flag else "0" for flag in flags]
        )

    async def audit_due(self, now: float, *, limit: int) -> list[str]:
        """Open requests the sweep should look at by `now`, longest waiting first."""
        members = await self.redis.zrangebyscore(
            self.keys.open_requests, "-inf", int(now * 1000), start=0, num=limit
        )
        return [_text(member) for member in members]

    async def audit(
        self, request: RequestRecord, *, lost: Mapping[str, object], now: float
    ) -> AuditOutcome:
        """Look at one open request; answer it with `lost` if its job is gone and nothing
        else will answer it (it follows no inquiry, or the inquiry's state vanished)."""
        code = await self._audit(
            keys=[
                self.keys.request(request.request_id),
                self.keys.open_requests,
                self.stream,
                ARQ_JOB_PREFIX + request.request_id,
                ARQ_IN_PROGRESS_PREFIX + request.request_id,
                self.keys.report_due,
            ],
            args=[
                request.request_id,
                self.keys.prefix,
                int((now + FOLLOWING_AUDIT_S) * 1000),
                int((now + OPEN_AUDIT_S) * 1000),
                self.maxlen,
                self.answered_ttl_s,
                _json(lost),
                self.keys.due,
            ],
        )
        return AuditOutcome(int(code))

    async def open_count(self) -> int:
        """How many requests wait for their answer."""
        return int(await self.redis.zcard(self.keys.open_requests))

    # --- followed inquiries ----------------------------------------------------------------

    async def follow(
        self,
        inquiry_id: str,
        request_id: str,
        *,
        reference_id: str | None,
        status: str,
        now: float,
        first_due: float,
        creator: bool = False,
    ) -> FollowOutcome:
        """Make a request wait for an inquiry's result (checked first at `first_due`).

        Args:
            creator: the request created the inquiry: refused when another create request
                already claimed it (an earlier attempt of that request made it).
        """
        code = int(
            await self._follow(
                keys=[
                    self.keys.inquiry(inquiry_id),
                    self.keys.due,
                    self.keys.request(request_id),
                    self.keys.open_requests,
                ],
                args=[
                    request_id,
                    reference_id or "",
                    status,
                    _stamp(now),
                    int(first_due * 1000),
                    inquiry_id,
                    "1" if creator else "0",
                    int((now + FOLLOWING_AUDIT_S) * 1000),
                ],
            )
        )
        if code < 0:
            return FollowOutcome(following=False, first=False, claimed_by_other=code == -2)
        return FollowOutcome(following=True, first=code == 1)

    async def inquiry(self, inquiry_id: str) -> InquiryRecord | None:
        """An inquiry's record, if we follow it or did recently."""
        raw = await resolved(self.redis.hgetall(self.keys.inquiry(inquiry_id)))
        return InquiryRecord.stored(inquiry_id, raw)

    async def answer_followers(
        self,
        record: InquiryRecord,
        *,
        event: str,
        status: str,
        data_for: Mapping[str, Mapping[str, object]],
        now: float,
    ) -> int:
        """Answer each request in `data_for` that still follows the inquiry; how many now.

        A request that started following after `record` was read is not in `data_for`: it
        keeps the inquiry followed, and the next check answers it. If redaction reached the
        inquiry after its result was read, each event goes out without its field values and
        links (`jobs.personal_data`): the script checks the mark redaction sets first.
        """
        args: list[Any] = [
            self.keys.prefix,
            record.inquiry_id,
            self.maxlen,
            self.answered_ttl_s,
            _stamp(now),
            event,
            status,
            len(data_for),
        ]
        for request_id, data in data_for.items():
            args += [request_id, *_publishable(data)]
        answered = await self._answer_followers(
            keys=[
                self.keys.inquiry(record.inquiry_id),
                self.keys.due,
                self.stream,
                self.keys.open_requests,
            ],
            args=args,
        )
        return int(answered)

    async def claim_due(self, now: float, *, limit: int, hold_s: float) -> list[str]:
        """Take up to `limit` inquiries due by `now`; each is held for `hold_s` seconds."""
        return await claim_members(self._claim_due, self.keys.due, now, limit=limit, hold_s=hold_s)

    async def inquiries(self, inquiry_ids: Sequence[str]) -> dict[str, InquiryRecord | None]:
        """Several records in one round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for inquiry_id in inquiry_ids:
                pipe.hgetall(self.keys.inquiry(inquiry_id))
            raws = await pipe.execute()
        return {
            inquiry_id: InquiryRecord.stored(inquiry_id, raw)
            for inquiry_id, raw in zip(inquiry_ids, raws, strict=True)
        }

    async def record_check(
        self,
        inquiry_id: str,
        *,
        status: str,
        now: float,
        next_due: float,
        deadline: float | None,
        error: str | None = None,
    ) -> bool:
        """Store one check's outcome and the next check's time; False if no longer followed."""
        check = Check(inquiry_id, status, now, next_due, deadline, error)
        [recorded] = await self.record_checks([check])
        return recorded

    async def record_checks(self, checks: Sequence[Check]) -> list[bool]:
        """Store many checks' outcomes in one round trip (a tick's); which were still followed."""
        if not checks:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for check in checks:
                await self._record_check(
                    keys=[self.keys.inquiry(check.inquiry_id), self.keys.due],
                    args=[
                        check.inquiry_id,
                        check.status,
                        _stamp(check.now),
                        int(check.next_due * 1000),
                        "" if check.deadline is None else _stamp(check.deadline),
                        check.error or "",
                    ],
                    client=pipe,
                )
            recorded = await pipe.execute()
        return [bool(int(done)) for done in recorded]

    async def note_status(self, inquiry_id: str, status: str, now: float) -> bool:
        """Record a status a webhook announced, on an inquiry still followed."""
        noted = await self._note_status(
            keys=[self.keys.inquiry(inquiry_id), self.keys.due],
            args=[inquiry_id, status, _stamp(now)],
        )
        return bool(int(noted))

    async def drop_due(self, inquiry_ids: Sequence[str]) -> None:
        """Stop checking inquiries whose record is gone or that nobody follows any more."""
        if inquiry_ids:
            await self._drop_due(keys=[self.keys.due], args=[self.keys.prefix, *inquiry_ids])

    async def pull_forward(self, inquiry_id: str, due: float) -> None:
        """Check a followed inquiry no later than `due` (never later than planned)."""
        await self.redis.zadd(self.keys.due, {inquiry_id: int(due * 1000)}, xx=True, lt=True)

    async def status_counts(self) -> dict[str, int]:
        """The followed inquiries by status, in one command whatever their number (the
        scripts keep the counts as they change statuses and the due set)."""
        raw = await resolved(self.redis.hgetall(self.keys.status_counts))
        return {_text(status): int(count) for status, count in raw.items() if int(count) > 0}

    async def recount(self) -> int:
        """Rebuild the status counts from the records; how many inquiries are followed.

        One script over the whole due set (about 1 ms per 1,000 followed inquiries, during
        which Redis serves nobody else): the worker runs it once at start-up, which also
        counts records written before the counts existed.
        """
        return int(await self._recount_all(keys=[self.keys.due], args=[self.keys.prefix]))

    async def defer_checks(self, checks: Sequence[tuple[str, int, float]]) -> int:
        """Move each `(inquiry id, round, until)` check later, in one round trip; how many."""
        if not checks:
            return 0
        async with self.redis.pipeline(transaction=False) as pipe:
            for inquiry_id, round_, until in checks:
                await self._defer(
                    keys=[self.keys.due, self.keys.inquiry(inquiry_id)],
                    args=[inquiry_id, round_, int(until * 1000)],
                    client=pipe,
                )
            moved = await pipe.execute()
        return sum(int(item) for item in moved)

    async def catch_up(self, now: float) -> int:
        """Make every followed inquiry due at `now`; how many were not due yet."""
        return int(await self._catch_up(keys=[self.keys.due], args=[int(now * 1000)]))

    async def due_count(self) -> int:
        """How many inquiries are followed."""
        return int(await self.redis.zcard(self.keys.due))

    async def forget_references(self, inquiry_id: str) -> tuple[int, int]:
        """Blank the reference ids kept for an inquiry's requests: (records, requests)."""
        records, requests = await self._forget(
            keys=[self.keys.inquiry(inquiry_id)], args=[self.keys.prefix]
        )
        return int(records), int(requests)

    async def note_personal_result(self, inquiry_id: str, job_id: str) -> None:
        """Remember that a job's arq result holds personal data about the inquiry (a link).

        Job ids are the caller's, so nothing else leads from an inquiry to such a result;
        redaction (`jobs.state.forget`) reads this set and deletes each result it names.
        """
        key = self.keys.personal_results(inquiry_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.sadd(key, job_id)
            pipe.expire(key, self.answered_ttl_s)
            await pipe.execute()

    # --- requests waiting for reports (`jobs.reports`) -------------------------------------

    async def release_follower(self, inquiry_id: str, request_id: str) -> bool:
        """Stop a request following an inquiry without answering it: its reports answer it.

        The request stays open (the report tick follows it, `jobs.state.report_waits`); the
        inquiry is settled when nobody else follows it. False when it did not follow it.
        """
        released = await self._release(
            keys=[self.keys.inquiry(inquiry_id), self.keys.due],
            args=[request_id, inquiry_id, self.answered_ttl_s],
        )
        return bool(int(released))


# Hand a follower over to its reports: drop its follow field, settle the inquiry if nobody else
# follows it. KEYS: inquiry hash, due set. ARGV: request id, inquiry id, ttl.
_RELEASE: Final = (
    _SETTLE
    + """
if redis.call('HDEL', KEYS[1], 'f:' .. ARGV[1]) == 0 then return 0 end
settle(KEYS[1], KEYS[2], ARGV[2], ARGV[3])
return 1
"""
)


async def claim_members(
    claim: AsyncScript, due: str, now: float, *, limit: int, hold_s: float
) -> list[str]:
    """Take up to `limit` members of a due set due by `now`, each held for `hold_s` seconds.

    `claim` is `_CLAIM_DUE` registered on the caller's client: the inquiries' due set here,
    the report due set in `jobs.state.report_waits`.
    """
    ids = await claim(keys=[due], args=[int(now * 1000), limit, int((now + hold_s) * 1000)])
    return [_text(member) for member in ids]

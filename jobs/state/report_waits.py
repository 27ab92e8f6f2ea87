"""Requests waiting for reports: the one writer of their state, and the report due set.

A request waits for reports in two cases: a `run_report` request, once its report is created,
and a create request that asked for screening (`reports`), once its inquiry was approved or
completed. Each wait is one JSON document (`KeySpace.report_wait`, keyed by the request id):
its reports, where each stands, and what the answer needs (for a screening, the inquiry's
result, already built and free of personal data beyond `PUBLISH_FIELDS`). The report tick
(`jobs.reports.tick`) takes due waits from the report due set (`KeySpace.report_due`, the
request id scored by its next check), reads or creates their reports and answers the request
through the ledger when every report is done.

A query (names, birthdate) is kept only until its report is created, then dropped. The request
stays open in the ledger meanwhile; the sweep counts a request in the report due set as
followed (`jobs.state.ledger`). A screening's plan (the report types a create request asked
for) is kept beside it (`KeySpace.report_plan`) until the request's record expires.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal

from redis.asyncio import Redis

from jobs.documents import ReportOutcome
from jobs.state.keys import KeySpace
from jobs.state.ledger import _CLAIM_DUE, claim_members

__all__ = ["PENDING", "TO_CREATE", "ReportEntry", "ReportWait", "ReportWaits", "WaitKind"]

#: An entry whose report is not created yet (its query is kept until it is).
TO_CREATE: Final = "to_create"
#: Persona's status of a report still running.
PENDING: Final = "pending"
#: Report statuses that end following it; anything else (Persona may add some) is followed.
_DONE: Final = frozenset({"ready", "errored", "failed"})

WaitKind = Literal["run_report", "screening"]

# Start a wait unless the request has its answer or already waits (the request's own state is
# the ledger's: this only reads it; the sweep finds the request in the report due set and looks
# at it rarely from then on).
# KEYS: wait, report due set, request hash. ARGV: wait JSON, due (ms), request id, ttl.
# Returns 1 when started now, 0 when it existed, -1 when answered.
_START: Final = """
if redis.call('HGET', KEYS[3], 'entry') then return -1 end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[4]) == false then return 0 end
redis.call('ZADD', KEYS[2], 'NX', ARGV[2], ARGV[3])
return 1
"""

# Store a wait after a check, only while it is followed. KEYS: wait, report due set.
# ARGV: wait JSON, next due (ms), request id, ttl.
_SAVE: Final = """
if not redis.call('ZSCORE', KEYS[2], ARGV[3]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[4])
redis.call('ZADD', KEYS[2], 'XX', ARGV[2], ARGV[3])
return 1
"""


@dataclass(slots=True)
class ReportEntry:
    """One report of a wait."""

    report_type: str
    status: str = TO_CREATE
    report_id: str | None = None
    query: dict[str, str] | None = None
    """Persona's query, until the report is created."""
    template_id: str | None = None
    outcome: ReportOutcome | None = None
    """What the answer says of it, once done."""

    @property
    def done(self) -> bool:
        """Whether the report needs no more checks."""
        return self.status in _DONE


@dataclass(slots=True)
class ReportWait:
    """A request waiting for its reports, and what its answer needs."""

    request_id: str
    kind: WaitKind
    since: float
    deadline: float
    reports: list[ReportEntry]
    reference_id: str | None = None
    account_id: str | None = None
    inquiry_id: str | None = None
    """The screened inquiry (screening only)."""
    event: str | None = None
    """The inquiry's event (screening only): the answer's event."""
    result: dict[str, Any] | None = None
    """The inquiry's result event (screening only): the answer adds the reports to it."""
    checks: int = 0
    failures: int = 0

    def to_json(self) -> str:
        """The stored form."""
        return json.dumps(asdict(self), separators=(",", ":"), default=str)

    @classmethod
    def from_json(cls, raw: str) -> ReportWait:
        """Read the stored form."""
        data = json.loads(raw)
        reports = [ReportEntry(**item) for item in data.pop("reports")]
        return cls(reports=reports, **data)

    @property
    def done(self) -> bool:
        """Whether every report is done (the request can be answered)."""
        return all(entry.done for entry in self.reports)


class ReportWaits:
    """Reads and writes the waits and the report due set (decoded client)."""

    def __init__(self, redis: Redis, keys: KeySpace, *, ttl_s: int) -> None:
        self.redis = redis
        self.keys = keys
        self.ttl_s = ttl_s
        """How long a wait (or a plan) is kept at most: the ledger's answered-record TTL."""
        self._start = redis.register_script(_START)
        self._save = redis.register_script(_SAVE)
        self._claim = redis.register_script(_CLAIM_DUE)

    async def start(self, wait: ReportWait, *, due: float) -> int:
        """Begin following a wait, first checked at `due`; 1 started, 0 existed, -1 answered."""
        code = await self._start(
            keys=[
                self.keys.report_wait(wait.request_id),
                self.keys.report_due,
                self.keys.request(wait.request_id),
            ],
            args=[wait.to_json(), int(due * 1000), wait.request_id, self.ttl_s],
        )
        return int(code)

    async def claim_due(self, now: float, *, limit: int, hold_s: float) -> list[str]:
        """Take up to `limit` waits due by `now`; each is held for `hold_s` seconds."""
        return await claim_members(
            self._claim, self.keys.report_due, now, limit=limit, hold_s=hold_s
        )

    async def load(self, request_ids: Sequence[str]) -> dict[str, ReportWait | None]:
        """Several waits in one round trip (None where one is gone)."""
        if not request_ids:
            return {}
        raws = await self.redis.mget([self.keys.report_wait(rid) for rid in request_ids])
        return {
            rid: ReportWait.from_json(raw) if raw else None
            for rid, raw in zip(request_ids, raws, strict=True)
        }

    async def save(self, wait: ReportWait, *, next_due: float) -> bool:
        """Store a wait after a check, checked again at `next_due`; False if not followed."""
        saved = await self._save(
            keys=[self.keys.report_wait(wait.request_id), self.keys.report_due],
            args=[wait.to_json(), int(next_due * 1000), wait.request_id, self.ttl_s],
        )
        return bool(int(saved))

    async def replace(self, wait: ReportWait) -> bool:
        """Store a changed wait in place (its due time and expiry unchanged); False if gone."""
        stored = await self.redis.set(
            self.keys.report_wait(wait.request_id), wait.to_json(), xx=True, keepttl=True
        )
        return bool(stored)

    async def due_again(self, request_ids: Sequence[str], due: float) -> None:
        """Put taken waits that were not checked back, due at `due` (still followed only)."""
        if request_ids:
            await self.redis.zadd(
                self.keys.report_due, dict.fromkeys(request_ids, int(due * 1000)), xx=True
            )

    async def finish(self, request_ids: Sequence[str]) -> None:
        """Forget answered waits (or waits whose state is gone)."""
        if not request_ids:
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(self.keys.report_due, *request_ids)
            pipe.delete(*(self.keys.report_wait(rid) for rid in request_ids))
            await pipe.execute()

    async def due_count(self) -> int:
        """How many requests wait for reports."""
        return int(await self.redis.zcard(self.keys.report_due))

    # --- screening plans -------------------------------------------------------------------

    async def set_plan(self, request_id: str, report_types: Sequence[str]) -> None:
        """Remember the reports a create request asked for (until its record would expire)."""
        await self.redis.set(
            self.keys.report_plan(request_id), ",".join(report_types), ex=self.ttl_s
        )

    async def plan(self, request_id: str) -> list[str]:
        """The reports a create request asked for; none when it asked for none."""
        raw = await self.redis.get(self.keys.report_plan(request_id))
        return [item for item in str(raw).split(",") if item] if raw else []

"""One chaos run: enqueue requests while workers are killed, Redis restarts and the API misbehaves.

The run drives the `Stack` (all real processes on loopback) from three tasks:

- the enqueuer writes `create_inquiry` jobs evenly over `plan.enqueue_s`, a few of them with
  malformed arguments, each under its own job id and reference id;
- the chaos task SIGKILLs a random worker every few seconds (replacing it at once) during
  `plan.chaos_s`, and SIGKILLs and restarts redis-server once;
- the watcher reads the results stream as it grows, follows the jobs each kill stranded
  (`KillTracker`), and replaces any worker that ended on its own (which counts against the run).

The run has settled when every request has an event, the request ledger holds none open and no
pipeline job is queued or running (the polling tick and the sweep aside), so a late duplicate
would have shown; then the evidence (the stream, each request's answer in the ledger, the
sandbox's records) is collected and judged (`verdict.judge`). Everything started is stopped in
a `finally`, by pid.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx
from arq.connections import ArqRedis
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bench.chaos.plan import CHAOS_API_KEY, CHAOS_WEBHOOK_SECRET, ChaosPlan
from bench.chaos.recovery import KillTracker, RecoveryFigures
from bench.chaos.stack import ChaosStack
from bench.chaos.verdict import LedgerEvidence, Request, Verdict, judge
from bench.processes import ChildProcess
from bench.waiting import idle
from jobs.contract import CREATE_INQUIRY
from jobs.producer import connect, enqueue_create
from jobs.state.keys import (
    ARQ_IN_PROGRESS_PREFIX,
    ARQ_JOB_PREFIX,
    ARQ_RESULT_PREFIX,
    KeySpace,
)
from jobs.state.redis_typing import resolved
from jobs.state.results import START, ResultEvent, read_after, read_range

__all__ = ["ChaosReport", "run_chaos"]

#: The run's deployment: the default `KEY_PREFIX`, queue and stream, as the Procfile runs.
KEYS: Final = KeySpace()
QUEUE: Final = KEYS.default_queue
STREAM: Final = KEYS.default_results_stream
_TICK_S: Final = 0.25
#: The pipeline is quiet (nothing queued or running) this long before the run counts as settled.
_QUIET_S: Final = 2.0
_OUTCOMES: Final = (
    ("approved", 35),
    ("declined", 20),
    ("completed", 15),
    ("failed", 15),
    ("review_approved", 10),
    ("review_declined", 5),
)
_REDIS_DOWN: Final = (RedisError, OSError)


@dataclass
class ChaosReport:
    """The figures of one run and its verdict."""

    plan: ChaosPlan
    verdict: Verdict
    recovery: RecoveryFigures
    settled: bool
    settled_after_s: float | None
    wall_s: float
    redis_restarts: int = 0
    throttles: int = 0
    """429 bursts caused on purpose (another client using up the rate window)."""
    redis_down_s: float | None = None
    first_event_after_redis_s: float | None = None
    worker_starts: int = 0
    unexpected_exits: list[str] = field(default_factory=list)
    stop_codes: list[int] = field(default_factory=list)
    sandbox: dict[str, Any] = field(default_factory=dict)
    unanswered: dict[str, dict[str, Any]] = field(default_factory=dict)
    """What Redis held at the end for requests without an event (`_unanswered_state`)."""

    @property
    def ok(self) -> bool:
        """Whether the run settled and every guarantee held."""
        return (
            self.settled
            and self.verdict.clean
            and not self.unexpected_exits
            and all(code == 0 for code in self.stop_codes)
        )

    @property
    def worker_429s(self) -> int:
        """429 answers the workers got (the throttler only lists inquiries)."""
        operations: dict[str, dict[str, int]] = self.sandbox.get("operations") or {}
        return sum(
            statuses.get("429", 0)
            for operation, statuses in operations.items()
            if operation != "list-all-inquiries"
        )

    def lines(self) -> list[str]:
        """The report as text lines."""
        plan, verdict, recovery = self.plan, self.verdict, self.recovery
        webhooks = self.sandbox.get("webhooks", {})
        faults = self.sandbox.get("faults", {})
        back = (
            f"median {recovery.median_back_s} s, max {recovery.max_back_s} s"
            if recovery.jobs_back
            else "none stranded"
        )
        return [
            f"chaos run: {verdict.requests} requests ({verdict.malformed} malformed), "
            f"{plan.workers} workers, bound {plan.minutes:g} min, seed {plan.seed}",
            f"  settled          {'yes' if self.settled else 'NO'}"
            f" after {self.settled_after_s or 0:.1f} s (wall {self.wall_s:.1f} s)",
            f"  events           {verdict.events} "
            f"({', '.join(f'{k} {v}' for k, v in sorted(verdict.outcomes.items()))})",
            f"  lost             {len(verdict.lost)}",
            f"  duplicated       {len(verdict.duplicated)}",
            f"  unexpected       {len(verdict.unexpected)}",
            f"  ledger           {len(verdict.ledger_disagrees)} requests whose answer it "
            f"records is not their one event; {verdict.open_requests} still open",
            f"  wrong outcome    {len(verdict.wrong_outcome)}",
            f"  creates          {len(verdict.extra_creates)} jobs and "
            f"{len(verdict.extra_creates_by_reference)} reference ids without exactly one "
            f"inquiry; {verdict.creates_without_key} without an Idempotency-Key",
            f"  kills            {recovery.kills} SIGKILLs; {recovery.jobs_in_flight} jobs "
            f"stranded on killed workers, {recovery.jobs_back} back: {back} "
            f"(bound JOB_TIMEOUT_S {plan.job_timeout_s:g} + 10 = {recovery.bound_s:g} s)",
            f"  redis restarts   {self.redis_restarts} (SIGKILL + start, down "
            f"{self.redis_down_s or 0:.2f} s; next result "
            f"{self.first_event_after_redis_s or 0:.2f} s after it was back)",
            f"  workers          {self.worker_starts} started, "
            f"{len(self.unexpected_exits)} ended on their own, "
            f"SIGTERM exit codes {sorted(set(self.stop_codes))}",
            f"  sandbox          {self.sandbox.get('requests', 0)} API requests, "
            f"{self.sandbox.get('rate_limited', 0)} answered 429 ({self.worker_429s} to workers, "
            f"{self.throttles} bursts), "
            f"{faults.get('error', 0)} injected 5xx, {faults.get('hang', 0)} held past the "
            f"timeout",
            f"  webhooks         {webhooks.get('attempted', 0)} deliveries, "
            f"{webhooks.get('duplicates', 0)} duplicated, {webhooks.get('reordered', 0)} "
            f"reordered, {webhooks.get('failed', 0)} failed (retried)",
            f"  leaks            {'; '.join(verdict.leaks) or 'none'}",
        ]

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        verdict = self.verdict
        return {
            "ok": self.ok,
            "plan": self.plan.to_json(),
            "settled": self.settled,
            "settled_after_s": self.settled_after_s,
            "wall_s": round(self.wall_s, 2),
            "requests": verdict.requests,
            "malformed": verdict.malformed,
            "events": verdict.events,
            "outcomes": verdict.outcomes,
            "lost": verdict.lost,
            "duplicated": verdict.duplicated,
            "unexpected": verdict.unexpected,
            "wrong_outcome": verdict.wrong_outcome,
            "extra_creates": verdict.extra_creates,
            "extra_creates_by_reference": verdict.extra_creates_by_reference,
            "creates_without_key": verdict.creates_without_key,
            "mismatched": verdict.mismatched,
            "leaks": verdict.leaks,
            "ledger_disagrees": verdict.ledger_disagrees,
            "open_requests": verdict.open_requests,
            "kills": self.recovery.kills,
            "stranded_jobs": self.recovery.jobs_in_flight,
            "stranded_jobs_back": self.recovery.jobs_back,
            "killed_jobs_back_median_s": self.recovery.median_back_s,
            "killed_jobs_back_max_s": self.recovery.max_back_s,
            "killed_jobs_bound_s": self.recovery.bound_s,
            "redis_restarts": self.redis_restarts,
            "throttle_bursts": self.throttles,
            "worker_429s": self.worker_429s,
            "redis_down_s": self.redis_down_s,
            "first_event_after_redis_s": self.first_event_after_redis_s,
            "worker_starts": self.worker_starts,
            "unexpected_exits": self.unexpected_exits,
            "stop_codes": self.stop_codes,
            "sandbox": self.sandbox,
            "unanswered": self.unanswered,
        }


def build_requests(plan: ChaosPlan) -> tuple[list[Request], dict[str, str]]:
    """The run's requests and the sandbox note (outcome, delay) of each valid one."""
    rng = random.Random(plan.seed)
    outcomes = [name for name, _ in _OUTCOMES]
    weights = [weight for _, weight in _OUTCOMES]
    requests: list[Request] = []
    notes: dict[str, str] = {}
    for index in range(plan.inquiries):
        job_id = f"chaos-{plan.seed}-{index}"
        valid = rng.random() >= plan.bad_share
        requests.append(Request(job_id, f"chaos-person-{plan.seed}-{index}", valid))
        outcome = rng.choices(outcomes, weights)[0]
        notes[job_id] = f"sandbox-outcome={outcome} sandbox-after={rng.randint(20, 180)}"
    return requests, notes


class _Run:
    """The shared state of one run's tasks."""

    def __init__(self, plan: ChaosPlan, stack: ChaosStack, redis: Redis, pool: ArqRedis) -> None:
        self.plan = plan
        self.stack = stack
        self.redis = redis
        self.pool = pool
        self.requests, self.notes = build_requests(plan)
        self.tracker = KillTracker(bound_s=plan.in_progress_ttl_s)
        self.rng = random.Random(plan.seed + 1)
        self.started = time.monotonic()
        self.enqueued = 0
        self.chaos_over = False
        self.last_entry = START
        self.answered: set[str] = set()
        self.by_job = {request.job_id: request for request in self.requests}
        self.redis_back_at: float | None = None
        self.first_event_after_redis_s: float | None = None
        self.redis_down_s: float | None = None
        self.redis_restarts = 0
        self.throttles = 0
        self.unexpected_exits: list[str] = []

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    # --- enqueuer ---------------------------------------------------------------------------

    async def _enqueue(self, request: Request) -> None:
        while True:
            try:
                if request.valid:
                    await enqueue_create(
                        self.pool,
                        reference_id=request.reference_id,
                        note=self.notes[request.job_id],
                        job_id=request.job_id,
                    )
                else:
                    # Written as a foreign producer would, bypassing the helper's validation.
                    await self.pool.enqueue_job(
                        CREATE_INQUIRY,
                        _job_id=request.job_id,
                        reference_id=request.reference_id,
                        tags="not-a-list",
                    )
                return
            except _REDIS_DOWN:
                await asyncio.sleep(0.1)

    async def enqueuer(self) -> None:
        """Enqueue every request, evenly over `plan.enqueue_s`."""
        spacing = self.plan.enqueue_s / max(len(self.requests), 1)
        for index, request in enumerate(self.requests):
            delay = self.started + index * spacing - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await self._enqueue(request)
            self.enqueued += 1

    # --- chaos ------------------------------------------------------------------------------

    async def _kill_one(self) -> None:
        victim = self.rng.choice(self.stack.workers)
        await self.stack.kill_worker(victim)
        with contextlib.suppress(*_REDIS_DOWN):
            await self.tracker.killed(self.redis)
        self.stack.start_worker()

    async def chaos(self) -> None:
        """Kill a random worker every few seconds; restart Redis once."""
        plan = self.plan
        next_kill = plan.kill_every_s * self.rng.uniform(0.5, 1.5)
        restarted = False
        while self.elapsed() < plan.chaos_s:
            if not restarted and self.elapsed() >= plan.redis_restart_at_s:
                restarted = True
                self.redis_down_s = await self.stack.restart_redis()
                self.redis_back_at = time.monotonic()
                self.redis_restarts += 1
            if self.elapsed() >= next_kill and self.stack.workers:
                await self._kill_one()
                next_kill = self.elapsed() + plan.kill_every_s * self.rng.uniform(0.5, 1.5)
            await asyncio.sleep(0.1)
        self.chaos_over = True

    async def throttler(self) -> None:
        """Now and then use up the sandbox's rate window, as another client of the same
        Persona environment would: the workers get a burst of 429s until the window resets."""
        plan = self.plan
        if plan.throttle_every_s <= 0:
            return
        window = round(plan.sandbox_rate_limit_per_minute * plan.sandbox_rate_window_s / 60)
        headers = {"Authorization": f"Bearer {CHAOS_API_KEY}", "Persona-Version": "2025-12-08"}
        async with httpx.AsyncClient(
            base_url=self.stack.sandbox_url, headers=headers, timeout=0.5
        ) as client:
            while True:
                await asyncio.sleep(plan.throttle_every_s * self.rng.uniform(0.5, 1.5))
                if self.elapsed() >= plan.chaos_s:
                    return
                for _ in range(window + 20):
                    try:
                        response = await client.get("/inquiries", params={"page[size]": "1"})
                    except httpx.HTTPError:
                        continue
                    if response.status_code == 429:
                        self.throttles += 1
                        break

    # --- watcher ----------------------------------------------------------------------------

    def _replace_exited(self) -> None:
        for proc in self.stack.reap_exited():
            self.unexpected_exits.append(_describe_exit(proc))
            self.stack.start_worker()

    async def _read_stream(self) -> None:
        for event in await read_after(self.redis, STREAM, self.last_entry, count=5_000):
            self.last_entry = event.entry_id
            if self.redis_back_at is not None and self.first_event_after_redis_s is None:
                self.first_event_after_redis_s = round(time.monotonic() - self.redis_back_at, 2)
            if event.request in self.by_job:
                self.answered.add(event.request)

    async def watch(self, deadline: float) -> float | None:
        """Follow the run until it settles (its time) or the deadline passes (None)."""
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            self._replace_exited()
            try:
                await self._read_stream()
                await self.tracker.watch(self.redis)
                done = (
                    self.chaos_over
                    and self.enqueued == len(self.requests)
                    and len(self.answered) == len(self.requests)
                    and await idle(self.redis, QUEUE, keys=KEYS)
                )
            except _REDIS_DOWN:
                done = False
            if not done:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= _QUIET_S:
                return self.elapsed()
            await asyncio.sleep(_TICK_S)
        return None


def _describe_exit(worker: ChildProcess) -> str:
    tail = worker.log_tail(600).strip().replace("\n", " | ")
    return f"{worker.name} (pid {worker.pid}) exited {worker.returncode}: {tail}"


async def _ledger(run: _Run) -> LedgerEvidence:
    """Each request's answer as the ledger recorded it (its stream entry), and the open count."""
    async with run.redis.pipeline(transaction=False) as pipe:
        for request in run.requests:
            pipe.hget(KEYS.request(request.job_id), "entry")
        entries = await pipe.execute()
    answers = {
        request.job_id: entry or None for request, entry in zip(run.requests, entries, strict=True)
    }
    return LedgerEvidence(answers, int(await run.redis.zcard(KEYS.open_requests)))


#: Requests without an event whose Redis state the report keeps, at most.
_UNANSWERED_SHOWN: Final = 50


async def _unanswered_state(run: _Run, entries: list[ResultEvent]) -> dict[str, dict[str, Any]]:
    """For each request without an event (the first `_UNANSWERED_SHOWN`), what Redis holds
    about it: its ledger record, whether the stream has the entry that record names, the
    inquiry it follows and its place in the due set, and arq's keys of its job. What a lost
    request left behind is what explains it."""
    answered = {entry.request for entry in entries}
    missing = [r.job_id for r in run.requests if r.job_id not in answered][:_UNANSWERED_SHOWN]
    state: dict[str, dict[str, Any]] = {}
    redis = run.redis
    for job_id in missing:
        record = await resolved(redis.hgetall(KEYS.request(job_id)))
        found: dict[str, Any] = {"request": record}
        if record.get("entry"):
            found["entry_in_stream"] = bool(
                await redis.xrange(STREAM, record["entry"], record["entry"])
            )
        inquiry_id = record.get("inquiry")
        if inquiry_id:
            found["inquiry"] = await resolved(redis.hgetall(KEYS.inquiry(inquiry_id)))
            found["due"] = await redis.zscore(KEYS.due, inquiry_id)
        found["open_score"] = await redis.zscore(KEYS.open_requests, job_id)
        found["arq"] = {
            "job": bool(await redis.exists(ARQ_JOB_PREFIX + job_id)),
            "in_progress": bool(await redis.exists(ARQ_IN_PROGRESS_PREFIX + job_id)),
            "result": bool(await redis.exists(ARQ_RESULT_PREFIX + job_id)),
            "queued_at": await redis.zscore(QUEUE, job_id),
        }
        state[job_id] = found
    return state


async def _evidence(run: _Run) -> tuple[list[ResultEvent], dict[str, Any], list[Any], str]:
    entries = await read_range(run.redis, STREAM)
    sandbox = run.stack.sandbox
    assert sandbox is not None
    counters = await sandbox.counters()
    params = {"name": "inquiry.created"}
    created = await sandbox.admin.get("/_sandbox/events", params=params, timeout=60.0)
    return entries, counters, created.json()["data"], created.text


async def _cancel(tasks: list[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def run_chaos(plan: ChaosPlan, workdir: Path | None = None) -> ChaosReport:
    """Run the plan against real processes and return the report (never raises on a bad run).

    Args:
        plan: the run's shape.
        workdir: where process logs go; a temporary directory when None.
    """
    if workdir is None:
        workdir = Path(tempfile.mkdtemp(prefix="persona-chaos-"))
    started = time.monotonic()
    async with ChaosStack.open(plan, workdir) as stack:
        redis: Redis = Redis.from_url(stack.redis_url, decode_responses=True)
        pool: ArqRedis | None = None
        tasks: list[asyncio.Task[Any]] = []
        try:
            pool = await connect(stack.redis_url, queue_name=QUEUE)
            run = _Run(plan, stack, redis, pool)
            tasks = [
                asyncio.create_task(run.enqueuer()),
                asyncio.create_task(run.chaos()),
                asyncio.create_task(run.throttler()),
            ]
            settled_after = await run.watch(started + plan.minutes * 60)
            await _cancel(tasks)
            entries, counters, created, created_text = await _evidence(run)
            ledger = await _ledger(run)
            unanswered = await _unanswered_state(run, entries)
            stop_codes = await stack.stop_workers()
            wall_s = time.monotonic() - started
        finally:
            await _cancel(tasks)
            with contextlib.suppress(*_REDIS_DOWN):
                if pool is not None:
                    await pool.aclose()
                await redis.aclose()
    verdict = judge(
        run.requests,
        entries,
        counters,
        created,
        secrets=(CHAOS_API_KEY, CHAOS_WEBHOOK_SECRET),
        raw_records=(created_text,),
        ledger=ledger,
    )
    return ChaosReport(
        plan=plan,
        verdict=verdict,
        recovery=run.tracker.figures(),
        settled=settled_after is not None,
        settled_after_s=round(settled_after, 1) if settled_after is not None else None,
        wall_s=wall_s,
        redis_restarts=run.redis_restarts,
        redis_down_s=round(run.redis_down_s, 2) if run.redis_down_s is not None else None,
        first_event_after_redis_s=run.first_event_after_redis_s,
        worker_starts=stack.started(),
        unexpected_exits=run.unexpected_exits,
        stop_codes=stop_codes,
        throttles=run.throttles,
        sandbox={
            key: counters.get(key)
            for key in ("requests", "rate_limited", "faults", "webhooks", "operations")
        },
        unanswered=unanswered,
    )

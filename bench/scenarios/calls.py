"""Scenario a (API calls per decided inquiry) and d (decision-to-publication latency).

Three runs of the same population, each against a sandbox process of its own (so each one's
counters are its own): `inquiries` people who take 5-120 seconds each, all enqueued at once.
The polling run starts first; the webhook run starts with it or, when the caller says so,
after other work (see `run_calls`); the naive run goes last, alone, once both are done. Its
1,000 people read their status on the same 10 s ticks, bursts that on two cores starved the
pipeline runs beside it of CPU (their status checks ran late and batched worse) and were
themselves slowed (fewer reads, so a cheaper-looking baseline).

- polling: one worker process (`arq worker.WorkerSettings`), nothing else. Two variants show
  what it depends on: `workers` processes instead of one (`--calls-workers`), and a process
  beside it that keeps one core busy from before its first create until it has settled
  (`busy_core`, `--calls-load`, `bench.busy`; the webhook run, which runs while the polling
  run does, has that busy core beside it too). The polling figure's label names the variant.
- webhooks: the sandbox delivers signed `inquiry.*` webhooks whose `included` carries the
  inquiry's verifications (a subscription's `included-allowlist`) to the web app (`uvicorn
  worker.web:create_app`, its own process), so results need no read; polling stays on
  underneath at the default cadence and steps back by itself to `POLL_SAFETY_NET_S` =
  `safety_net_s` while the webhooks flow.
- naive: `bench.naive`, the tutorial's create / status every 10 s / each verification.

The two pipeline runs have a Redis each, so that neither's Redis work weighs on the other's
figures (under the same `KEY_PREFIX` they would also share a limiter, a due set and a tick).

Time runs at the real pace by default (`time_scale` 1). A faster sandbox clock, with the
worker's Persona-time cadence divided to match, shortens the run but is not neutral: the
worker's own costs (starting a job, a Redis round trip, a tick's own work) do not shrink, so
at 20x one process falls behind, checks run late, fewer of them happen and the calls figure
flatters the pipeline. Use it for quick looks only.

Status checks are list calls the polling tick makes (`jobs.pipeline.poll_tick`): every
`POLL_TICK_S` one worker takes every inquiry due by then, whichever worker's request follows
it, and checks them up to `POLL_BATCH_SIZE` per call, so a run's `list-all-inquiries` calls
are about the ticks that found something due (a create whose answer was lost lists too).

Calls are counted by the sandbox (every answered request, per operation). The latency of a
result is the time from the sandbox's own timestamp of the status the result reports
(`completed-at`, `failed-at`, `decisioned-at`) to the moment Redis added the event to the
stream; the sandbox timestamp is mapped to wall-clock time through the sandbox's clock
(`SandboxClock`); with a faster clock it is also shown in sandbox (Persona) seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, TypeVar

from bench.harness import UNLIMITED, WEBHOOK_SECRET, pools
from bench.naive import NaiveResult, run_naive
from bench.processes import ChildProcess
from bench.report import ScenarioResult, percentile
from bench.sandbox import SandboxClock, SandboxProcess
from bench.stack import Stack
from bench.waiting import settle, wait_for_results
from jobs.producer import enqueue_create
from jobs.state.keys import KeySpace
from jobs.state.results import ResultEvent, read_range
from settings import Settings

__all__ = [
    "CallsOptions",
    "deliver_webhooks",
    "latencies",
    "polling_label",
    "run_calls",
    "webhook_settings",
]

T = TypeVar("T")

#: Every person finishes: a manual review would wait hours for a human, not for the person.
OUTCOME_MIX: Final = "approved=0.7,declined=0.2,failed=0.1"


@dataclass(frozen=True, slots=True)
class CallsOptions:
    """Sizes and settings of the calls scenario."""

    inquiries: int = 1_000
    time_scale: float = 1.0
    naive: bool = True
    overrides: Mapping[str, Any] = field(default_factory=dict)
    """Settings of both pipeline runs, in Persona time (`--set`)."""
    safety_net_s: float = 600.0
    """`POLL_SAFETY_NET_S` of the webhook run: the checks' cadence while webhooks flow."""
    timeout_s: float = 600.0
    """Real seconds a run may take before it counts as stuck."""
    workers: int = 1
    """Worker processes of the polling run (the webhook run keeps one)."""
    busy_core: bool = False
    """Keep one core busy beside the polling run (`bench.busy`)."""


@dataclass(frozen=True, slots=True)
class BusyCore:
    """What the busy process beside a run burned."""

    cpu_s: float
    wall_s: float

    @property
    def cores(self) -> float:
        """Its CPU time per second of wall time: 1.0 is one core kept busy throughout."""
        return self.cpu_s / self.wall_s if self.wall_s > 0 else float("nan")


def polling_label(workers: int, busy_core: bool) -> str:
    """The polling figure's label: `polling path`, plus the variant when it is not the default
    (e.g. `polling path, 4 processes` or `polling path, 1 process, one core busy`)."""
    if workers == 1 and not busy_core:
        return "polling path"
    parts = ["polling path", f"{workers} process" if workers == 1 else f"{workers} processes"]
    if busy_core:
        parts.append("one core busy")
    return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class Run:
    """What one pipeline run measured."""

    settings: Settings
    decided: int
    failed: int
    calls: int
    operations: dict[str, int]
    peak_followed: int
    """The most inquiries followed at once (the due set)."""
    latencies_s: list[float]
    wall_s: float
    webhooks: dict[str, Any]
    workers: int = 1
    busy: BusyCore | None = None
    """The process that kept a core busy beside the run, if one did."""


#: Settings measured in Persona (sandbox) time, divided by the time scale.
PERSONA_TIME_SETTINGS: Final = (
    "poll_min_interval_s",
    "poll_max_interval_s",
    "poll_review_interval_s",
    "poll_tick_s",
)


def scaled_settings(
    stack: Stack, redis_url: str, api_url: str, scale: float, overrides: Mapping[str, Any]
) -> Settings:
    """Settings whose Persona-time cadence is divided by `scale`; nothing is rate limited.

    Args:
        overrides: settings given in Persona time (e.g. `poll_tick_s=10`), as for a worker
            against Persona; the cadence among them is divided like the defaults.
    """
    values: dict[str, Any] = {"rate_limit_per_minute": UNLIMITED, **overrides}
    persona = stack.settings(redis_url, persona_api_url=api_url, **values)
    for name in PERSONA_TIME_SETTINGS:
        values[name] = float(getattr(persona, name)) / scale
    return stack.settings(redis_url, persona_api_url=api_url, **values)


#: The timestamp attribute behind each terminal status a result can report.
DECIDED_AT: Final = {
    "completed": "completed_at",
    "failed": "failed_at",
    "approved": "decisioned_at",
    "declined": "decisioned_at",
    "expired": "expired_at",
    "needs_review": "marked_for_review_at",
}


def latencies(published: list[ResultEvent], clock: SandboxClock) -> list[float]:
    """Each result's lag from the sandbox's timestamp of its status to its stream entry (real
    seconds)."""
    latencies = []
    for entry in published:
        status = entry.data.get("status")
        attribute = DECIDED_AT.get(status) if isinstance(status, str) else None
        stamp = entry.data.get("timestamps", {}).get(attribute) if attribute else None
        if isinstance(stamp, str):
            decided_wall = clock.wall(datetime.fromisoformat(stamp))
            latencies.append(entry.added_ms / 1000 - decided_wall)
    return latencies


#: What the README tells operators to subscribe to.
WEBHOOK_EVENTS: Final = ["inquiry.*"]


#: What the subscription includes with each inquiry event (its `included-allowlist`).
INCLUDED: Final = ["verifications"]


def webhook_settings(web_root: str) -> dict[str, Any]:
    """The sandbox's webhook settings that deliver to the receiver at `web_root`."""
    hook = {"url": f"{web_root}/webhooks/persona", "secrets": [WEBHOOK_SECRET]}
    return {**hook, "events": WEBHOOK_EVENTS, "included_relationships": INCLUDED}


async def deliver_webhooks(
    stack: Stack, sandbox: SandboxProcess, settings: Settings, name: str
) -> str:
    """Start the web receiver and have the sandbox deliver signed `inquiry.*` webhooks, with
    the inquiry's verifications included, to it; the receiver's root URL."""
    web_root, _ = await stack.start_web(name, settings)
    await sandbox.configure_webhooks(webhook_settings(web_root))
    return web_root


async def _start_sandbox(stack: Stack, name: str, options: CallsOptions) -> SandboxProcess:
    arguments = ("--rate-limit", "0", "--delay-range", "5,120", "--outcome-mix", OUTCOME_MIX)
    return await stack.start_sandbox(name, *arguments, time_scale=options.time_scale)


#: How much longer than a run's own timeout the busy process may outlive it (start, settle).
BUSY_SLACK_S: Final = 120.0


async def _pipeline_run(stack: Stack, options: CallsOptions, *, webhooks: bool) -> Run:
    label = "hook" if webhooks else "poll"
    workers = 1 if webhooks else options.workers
    busy: ChildProcess | None = None
    async with stack.scope() as scope:
        redis_url = (await scope.start_redis()).url
        sandbox = await _start_sandbox(scope, f"sandbox-{label}", options)
        overrides: dict[str, Any] = dict(options.overrides)
        if webhooks:
            overrides["poll_safety_net_s"] = options.safety_net_s
            overrides["persona_webhook_secrets"] = WEBHOOK_SECRET
        settings = scaled_settings(scope, redis_url, sandbox.api_url, options.time_scale, overrides)
        if webhooks:
            await deliver_webhooks(scope, sandbox, settings, f"web-{label}")
        if options.busy_core and not webhooks:
            busy = await scope.start_busy(f"busy-{label}", options.timeout_s + BUSY_SLACK_S)
        await scope.start_workers(f"worker-{label}", settings, workers)
        clock = await sandbox.clock()
        async with pools(settings) as (pool, redis):
            started = time.monotonic()
            for index in range(options.inquiries):
                await enqueue_create(
                    pool, reference_id=f"person-{index}", job_id=f"{label}-{index}"
                )
            keys = KeySpace(settings.key_prefix)
            peak = await wait_for_results(
                redis,
                settings.results_stream,
                options.inquiries,
                timeout_s=options.timeout_s,
                followed_by=keys,
            )
            wall = time.monotonic() - started
            await settle(redis, settings.queue_name, keys=keys)
            published = await read_range(redis, settings.results_stream)
        counters = await sandbox.counters()
        burned = await _stop_busy(scope, busy)
    failed = sum(1 for entry in published if entry.event == "job.failed")
    return Run(
        settings=settings,
        decided=len(published) - failed,
        failed=failed,
        calls=int(counters["requests"]),
        operations={op: sum(codes.values()) for op, codes in counters["operations"].items()},
        peak_followed=peak,
        latencies_s=latencies(published, clock),
        wall_s=wall,
        webhooks=counters["webhooks"],
        workers=workers,
        busy=burned,
    )


async def _stop_busy(stack: Stack, busy: ChildProcess | None) -> BusyCore | None:
    """Stop the busy process by its pid and say what it burned (it must still be running:
    one that stopped early did not keep its core busy for the whole run)."""
    if busy is None:
        return None
    if not busy.alive():
        raise RuntimeError(f"the busy process stopped before the run ended:\n{busy.log_tail()}")
    burned = BusyCore(busy.cpu_seconds(), time.monotonic() - busy.started_at)
    await stack.stop([busy])
    return burned


async def _naive_run(stack: Stack, options: CallsOptions) -> tuple[NaiveResult, int]:
    async with stack.scope() as scope:
        sandbox = await _start_sandbox(scope, "sandbox-naive", options)
        result = await run_naive(
            sandbox.api_url, inquiries=options.inquiries, time_scale=options.time_scale
        )
        counted = int((await sandbox.counters())["requests"])
    return result, counted


def _per(calls: int, decided: int) -> float:
    return calls / decided if decided else float("nan")


def _run_details(run: Run) -> dict[str, Any]:
    settings = run.settings
    busy = run.busy
    return {
        "worker_processes": run.workers,
        "busy_process": None
        if busy is None
        else {"cpu_s": round(busy.cpu_s, 1), "wall_s": round(busy.wall_s, 1)},
        "decided": run.decided,
        "job_failed": run.failed,
        "calls": run.calls,
        "calls_per_operation": run.operations,
        "calls_per_operation_per_decided": {
            name: round(_per(count, run.decided), 4) for name, count in run.operations.items()
        },
        "peak_followed": run.peak_followed,
        "wall_s": round(run.wall_s, 2),
        "settings": {
            name: getattr(settings, name)
            for name in (
                *PERSONA_TIME_SETTINGS,
                "poll_batch_size",
                "poll_safety_net_s",
                "poll_tick_max_checks",
                "worker_max_jobs",
            )
        },
    }


def _latency_figures(result: ScenarioResult, path: str, run: Run, scale: float) -> None:
    real = run.latencies_s
    for share, name in ((0.5, "p50"), (0.99, "p99")):
        value = percentile(real, share)
        if scale == 1:
            result.add(f"{path}: {name}", value, "s", digits=2)
        else:
            result.add(f"{path}: {name} (real s)", value, "s", digits=3)
            result.add(f"{path}: {name} (sandbox clock)", value * scale, "s", digits=1)
    result.details[path] = {
        "samples": len(real),
        "min_real_s": round(min(real), 4) if real else None,
        "p90_real_s": round(percentile(real, 0.9), 4) if real else None,
        "max_real_s": round(max(real), 4) if real else None,
    }


async def _after(earlier: Awaitable[object] | None, run: Coroutine[Any, Any, T]) -> T:
    if earlier is not None:
        try:
            # Shielded: cancelling this run must not cancel the other scenario it waits for.
            await asyncio.shield(earlier)
        except BaseException:
            run.close()
            raise
    return await run


async def _settled(*tasks: asyncio.Task[Any]) -> None:
    """Wait until every task is done, whatever its outcome (the task group reports failures)."""
    await asyncio.wait(tasks)


#: Calls per decided inquiry each pipeline run must stay under.
POLLING_TARGET: Final = 2.08
WEBHOOK_TARGET: Final = 1.05


async def run_calls(
    stack: Stack, options: CallsOptions, *, webhook_run_after: Awaitable[object] | None = None
) -> tuple[ScenarioResult, ScenarioResult]:
    """Run the polling and webhook runs side by side, then the naive run; return (calls, latency).

    Args:
        webhook_run_after: start the webhook run only once this is done. The polling run
            takes longest (its backoff tail), so other work fits beside it; the webhook run's
            latencies are a few hundred milliseconds, which a burst of other work on the same
            two cores would swamp, so it goes last, beside the polling run's quiet tail.
    """
    scale = options.time_scale
    title = f"a. API calls per decided inquiry ({options.inquiries:,}"
    if options.busy_core:
        title += "; one core busy beside the polling run"
    calls = ScenarioResult("calls", title + ")")
    latency = ScenarioResult("latency", "d. decision -> published event")
    started = time.monotonic()
    # A task group: if one run fails, the others are cancelled (and stop their processes).
    async with asyncio.TaskGroup() as group:
        polling_run = group.create_task(_pipeline_run(stack, options, webhooks=False))
        webhook_run = group.create_task(
            _after(webhook_run_after, _pipeline_run(stack, options, webhooks=True))
        )
        naive_work: Coroutine[Any, Any, tuple[NaiveResult, int] | None] = (
            _naive_run(stack, options) if options.naive else _nothing()
        )
        naive_run = group.create_task(_after(_settled(polling_run, webhook_run), naive_work))
    polling, webhooks, naive = polling_run.result(), webhook_run.result(), naive_run.result()
    polling_path = polling_label(options.workers, options.busy_core)
    calls.add(polling_path, _per(polling.calls, polling.decided), at_most=POLLING_TARGET)
    calls.add("webhook path", _per(webhooks.calls, webhooks.decided), at_most=WEBHOOK_TARGET)
    calls.details = {
        "polling_variant": polling_path,
        "time_scale": scale,
        "people_take_s": [5, 120],
        "outcome_mix": OUTCOME_MIX,
        "polling": _run_details(polling),
        "webhooks": {**_run_details(webhooks), "deliveries": webhooks.webhooks},
    }
    if polling.busy is not None:
        calls.add("busy process beside the polling run", polling.busy.cores, "cores")
    if naive is not None:
        result, counted = naive
        calls.add("naive baseline (tutorial)", _per(counted, result.decided))
        calls.details["naive"] = {
            "decided": result.decided,
            "calls_counted_by_sandbox": counted,
            "calls_sent": result.calls,
            "status_reads": result.status_reads,
            "wall_s": round(result.wall_s, 2),
        }
    _latency_figures(latency, "webhook path", webhooks, scale)
    _latency_figures(latency, polling_path, polling, scale)
    latency.details["time_scale"] = scale
    calls.wall_s = latency.wall_s = time.monotonic() - started
    return calls, latency


async def _nothing() -> None:
    return None

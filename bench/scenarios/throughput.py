"""Scenario c: how close the whole pipeline runs to bare arq, in one worker process.

Two runs of an in-process arq `Worker` on the same Redis, one after the other, with the same
arq settings (`build_worker_settings`: queue, JSON serializer, `max_jobs`, `poll_delay`,
timeouts, `keep_result`):

- bare: `noop_jobs` jobs of a function that does nothing, registered without our wrappers, in
  burst mode. This is what arq itself costs per job on this machine: the ceiling for any job.
- pipeline: `inquiries` `create_inquiry` requests against a sandbox process whose people
  decide at once (no delay, no rate limit); each runs create, is checked by a polling tick
  (shared list calls, `POLL_TICK_S` 0.1 s) and answered by `fetch_verification`. The worker
  serves until every request has its answer and nothing but its cron jobs is queued or
  running (burst mode cannot tell: the tick is always queued), then stops.

The figure is (inquiries per second x jobs per inquiry) / (no-op jobs per second): the share
of arq's own job rate the pipeline keeps while doing its real work (HTTP calls, Redis state,
publication). Jobs per inquiry is counted from the worker (every job run, retries and the
ticks included).
The sandbox runs in its own process so its CPU is not charged to the worker; on a 2-core
machine it still competes for the second core with Redis.

Both runs keep the worker's core busy, so the ratio is a ratio of CPU time per job. To show
where that time goes, the scenario also measures this process's CPU per job in each run and,
last, what the HTTP client alone costs: `http_probe_requests` reads of one inquiry, one at a
time, through the production `httpx.AsyncClient` (body read, nothing parsed). From those,
*ceiling* is the ratio the pipeline would reach if everything but arq and httpx were free
(our Redis state, parsing, publication, the rate limiter): jobs per inquiry x no-op CPU per
job / (that + API calls per inquiry x CPU per request). A target above the ceiling cannot be
met by changing our code, only by a cheaper HTTP client or more processes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from arq import func
from arq.worker import Worker
from redis.asyncio import Redis

from bench.harness import in_process_worker, pools, start_pipeline
from bench.report import ScenarioResult
from bench.scenarios.calls import OUTCOME_MIX
from bench.stack import Stack
from bench.waiting import settle, wait_for_results
from jobs.context import persona_http
from jobs.producer import enqueue_create
from jobs.state.keys import KeySpace
from jobs.state.results import read_range
from settings import Settings
from worker.arq_settings import build_worker_settings
from worker.arq_worker import PersonaWorker
from worker.embedded_worker import stop_embedded
from worker.event_loop import loop_name

__all__ = ["ThroughputOptions", "run_throughput"]

RATIO_TARGET: Final = 0.6
#: arq settings the bare worker copies from the pipeline's (everything but the work itself).
SHARED_ARQ_SETTINGS: Final = (
    "redis_settings",
    "queue_name",
    "job_serializer",
    "job_deserializer",
    "max_jobs",
    "poll_delay",
    "job_timeout",
    "keep_result",
    "health_check_interval",
    "job_completion_wait",
    "log_results",
)


@dataclass(frozen=True, slots=True)
class ThroughputOptions:
    """Sizes of the throughput scenario."""

    inquiries: int = 2_000
    noop_jobs: int = 4_000
    http_probe_requests: int = 500
    timeout_s: float = 300.0
    """Real seconds the pipeline run may take before it counts as stuck."""
    overrides: Mapping[str, Any] = field(default_factory=dict)
    """Settings of the pipeline (`--set`); the instant cadence and open limit win."""


async def noop(ctx: dict[str, Any]) -> None:
    """A job that does nothing: what arq alone costs."""


def _bare_worker(settings: Settings) -> Worker:
    production = vars(build_worker_settings(settings))
    shared = {name: production[name] for name in SHARED_ARQ_SETTINGS}
    return PersonaWorker(
        functions=[func(noop, name="noop")],
        burst=True,
        handle_signals=False,
        **shared,
    )


@dataclass(frozen=True, slots=True)
class _Timing:
    wall_s: float
    cpu_s: float
    """CPU time of this process (user + system): the in-process worker's, and little else."""


def _answered(
    redis: Redis, settings: Settings, options: ThroughputOptions
) -> Callable[[], Awaitable[None]]:
    """Waits until every request has its answer (a blocking read of the stream, so it costs
    the worker's process little) and no pipeline job is queued or running."""

    async def done() -> None:
        await wait_for_results(
            redis, settings.results_stream, options.inquiries, timeout_s=options.timeout_s
        )
        await settle(redis, settings.queue_name, keys=KeySpace(settings.key_prefix))

    return done


async def _timed(worker: Worker, done: Callable[[], Awaitable[None]] | None = None) -> _Timing:
    """Run the worker in burst mode, or, given `done`, until `done()` returns; time it."""
    started, cpu_started = time.perf_counter(), time.process_time()
    if done is None:
        try:
            await worker.main()
        finally:
            await worker.close()
    else:
        serving = asyncio.create_task(worker.main())
        try:
            await done()
        finally:
            await stop_embedded(worker, serving, timeout_s=worker.job_timeout_s)
    return _Timing(time.perf_counter() - started, time.process_time() - cpu_started)


async def _http_cpu_per_request(settings: Settings, inquiry_id: str, requests: int) -> float:
    """CPU seconds per status read through the production HTTP client, one at a time."""
    headers = {"Authorization": f"Bearer {settings.persona_api_key.get_secret_value()}"}
    path = f"inquiries/{inquiry_id}"
    params = {"include": "verifications"}
    async with persona_http(settings) as http:
        (await http.get(path, params=params, headers=headers)).raise_for_status()  # connect
        cpu_started = time.process_time()
        for _ in range(requests):
            response = await http.get(path, params=params, headers=headers)
            response.raise_for_status()
        return (time.process_time() - cpu_started) / requests


async def _some_inquiry_id(redis: Redis, settings: Settings) -> str:
    """An inquiry the run created and decided, to read again for the HTTP probe."""
    first = await read_range(redis, settings.results_stream, count=1)
    if not first:
        raise RuntimeError("the pipeline run published nothing")
    return first[0].inquiry_id


def _jobs_run(worker: Worker) -> int:
    return int(worker.jobs_complete + worker.jobs_failed + worker.jobs_retried)


async def run_throughput(stack: Stack, options: ThroughputOptions) -> ScenarioResult:
    """Time the bare and the pipeline runs; the figure is their ratio."""
    result = ScenarioResult("throughput", "c. pipeline vs bare arq (1 worker process)")
    started = time.monotonic()
    async with stack.scope() as scope:
        sandbox, settings = await start_pipeline(
            scope,
            "throughput",
            *("--rate-limit", "0", "--delay-range", "0", "--decision-after", "0"),
            *("--outcome-mix", OUTCOME_MIX),
            time_scale=1.0,
            overrides=options.overrides,
            # Instant people: check soon after the create, on a tick so checks still batch.
            poll_min_interval_s=0.1,
            poll_tick_s=0.1,
        )
        async with pools(settings) as (pool, redis):
            for index in range(options.noop_jobs):
                await pool.enqueue_job("noop", _job_id=f"noop-{index}")
            bare = _bare_worker(settings)
            bare_timing = await _timed(bare)
            bare_jobs = _jobs_run(bare)
            await redis.flushall()

            for index in range(options.inquiries):
                await enqueue_create(pool, reference_id=f"person-{index}", job_id=f"tp-{index}")
            worker = in_process_worker(settings)
            pipeline_timing = await _timed(worker, _answered(redis, settings, options))
            pipeline_jobs = _jobs_run(worker)
            published = int(await redis.xlen(settings.results_stream))
            probe_inquiry = await _some_inquiry_id(redis, settings)
        counters = await sandbox.counters()
        http_cpu_s = await _http_cpu_per_request(
            settings, probe_inquiry, options.http_probe_requests
        )

    noop_rate = bare_jobs / bare_timing.wall_s
    inquiry_rate = published / pipeline_timing.wall_s
    jobs_per_inquiry = pipeline_jobs / published if published else float("nan")
    calls_per_inquiry = counters["requests"] / published if published else float("nan")
    ratio = inquiry_rate * jobs_per_inquiry / noop_rate
    noop_cpu_s = bare_timing.cpu_s / bare_jobs
    pipeline_cpu_s = pipeline_timing.cpu_s / pipeline_jobs
    arq_share = jobs_per_inquiry * noop_cpu_s
    ceiling = arq_share / (arq_share + calls_per_inquiry * http_cpu_s)
    result.add("bare arq no-op jobs per second", noop_rate, "/s", digits=0)
    result.add("pipeline inquiries per second", inquiry_rate, "/s", digits=1)
    result.add("jobs per inquiry", jobs_per_inquiry)
    result.add("ratio", ratio, at_least=RATIO_TARGET)
    result.add("worker CPU per no-op job", noop_cpu_s * 1000, "ms")
    result.add("worker CPU per pipeline job", pipeline_cpu_s * 1000, "ms")
    result.add("httpx CPU per API request", http_cpu_s * 1000, "ms")
    result.add("ceiling: arq and httpx only", ceiling)
    result.details = {
        "event_loop": loop_name(asyncio.get_running_loop()),
        "noop_jobs": bare_jobs,
        "noop_s": round(bare_timing.wall_s, 3),
        "noop_cpu_s": round(bare_timing.cpu_s, 3),
        "inquiries": options.inquiries,
        "published": published,
        "pipeline_jobs": pipeline_jobs,
        "pipeline_s": round(pipeline_timing.wall_s, 3),
        "pipeline_cpu_s": round(pipeline_timing.cpu_s, 3),
        "http_probe_requests": options.http_probe_requests,
        "http_cpu_ms_per_request": round(http_cpu_s * 1000, 3),
        "api_calls": counters["requests"],
        "calls_per_operation": {
            op: sum(codes.values()) for op, codes in counters["operations"].items()
        },
        "worker_max_jobs": settings.worker_max_jobs,
    }
    result.wall_s = time.monotonic() - started
    return result

"""Scenario c: how close the whole pipeline runs to bare arq, in one worker process.

Two burst runs of an in-process arq `Worker` on the same Redis, one after the other, with the
same arq settings (`build_worker_settings`: queue, JSON serializer, `max_jobs`, `poll_delay`,
timeouts, `keep_result`):

- bare: `noop_jobs` jobs of a function that does nothing, registered without our wrappers.
  This is what arq itself costs per job on this machine: the ceiling for any job.
- pipeline: `inquiries` `create_inquiry` requests against a sandbox process whose people
  decide at once (no delay, no rate limit); each runs create, then a status check that finds
  the result and publishes it.

The figure is (inquiries per second x jobs per inquiry) / (no-op jobs per second): the share
of arq's own job rate the pipeline keeps while doing its real work (HTTP calls, Redis state,
publication). Jobs per inquiry is counted from the worker (every job run, retries included).
The sandbox runs in its own process so its CPU is not charged to the worker; on a 2-core
machine it still competes for the second core with Redis.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from arq import func
from arq.worker import Worker

from bench.harness import Stack, in_process_worker, pools
from bench.report import ScenarioResult
from bench.scenarios.calls import OUTCOME_MIX
from jobs.producer import enqueue_create
from settings import Settings
from worker.main import build_worker_settings

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
    overrides: Mapping[str, Any] = field(default_factory=dict)
    """Settings of the pipeline (`--set`); the instant cadence and open limit win."""


async def noop(ctx: dict[str, Any]) -> None:
    """A job that does nothing: what arq alone costs."""


def _bare_worker(settings: Settings) -> Worker:
    production = vars(build_worker_settings(settings))
    shared = {name: production[name] for name in SHARED_ARQ_SETTINGS}
    return Worker(
        functions=[func(noop, name="noop")],
        burst=True,
        handle_signals=False,
        **shared,
    )


async def _timed(worker: Worker) -> float:
    started = time.perf_counter()
    try:
        await worker.main()
    finally:
        await worker.close()
    return time.perf_counter() - started


def _jobs_run(worker: Worker) -> int:
    return int(worker.jobs_complete + worker.jobs_failed + worker.jobs_retried)


async def run_throughput(stack: Stack, options: ThroughputOptions) -> ScenarioResult:
    """Time the bare and the pipeline runs; the figure is their ratio."""
    result = ScenarioResult("throughput", "c. pipeline vs bare arq (1 worker process)")
    started = time.monotonic()
    redis_url = await stack.start_redis()
    sandbox = await stack.start_sandbox(
        "sandbox-throughput",
        *("--rate-limit", "0", "--delay-range", "0", "--decision-after", "0"),
        *("--outcome-mix", OUTCOME_MIX),
        time_scale=1.0,
    )
    try:
        settings = stack.settings(
            redis_url,
            **options.overrides,
            persona_api_url=sandbox.api_url,
            rate_limit_per_minute=1_000_000,
            # Instant people: check soon after the create, on a grid so checks still batch.
            poll_min_interval_s=0.1,
            poll_align_s=0.1,
        )
        async with pools(settings) as (pool, redis):
            for index in range(options.noop_jobs):
                await pool.enqueue_job("noop", _job_id=f"noop-{index}")
            bare = _bare_worker(settings)
            bare_s = await _timed(bare)
            bare_jobs = _jobs_run(bare)
            await redis.flushall()

            for index in range(options.inquiries):
                await enqueue_create(pool, reference_id=f"person-{index}", job_id=f"tp-{index}")
            worker = in_process_worker(settings, burst=True)
            pipeline_s = await _timed(worker)
            pipeline_jobs = _jobs_run(worker)
            published = int(await redis.xlen(settings.results_stream))
        counters = await sandbox.counters()
    finally:
        await sandbox.admin.aclose()
        stack.stop([sandbox.child])

    noop_rate = bare_jobs / bare_s
    inquiry_rate = published / pipeline_s
    jobs_per_inquiry = pipeline_jobs / published if published else float("nan")
    ratio = inquiry_rate * jobs_per_inquiry / noop_rate
    result.add("bare arq no-op jobs per second", noop_rate, "/s", digits=0)
    result.add("pipeline inquiries per second", inquiry_rate, "/s", digits=1)
    result.add("jobs per inquiry", jobs_per_inquiry)
    result.add("ratio", ratio, at_least=RATIO_TARGET)
    result.details = {
        "noop_jobs": bare_jobs,
        "noop_s": round(bare_s, 3),
        "inquiries": options.inquiries,
        "published": published,
        "pipeline_jobs": pipeline_jobs,
        "pipeline_s": round(pipeline_s, 3),
        "api_calls": counters["requests"],
        "calls_per_operation": {
            op: sum(codes.values()) for op, codes in counters["operations"].items()
        },
        "worker_max_jobs": settings.worker_max_jobs,
    }
    result.wall_s = time.monotonic() - started
    return result

"""Scenario b: sustained decided inquiries per minute under Persona's 300-per-minute limit.

The production shape: four `arq worker.WorkerSettings` processes and the web app, configured
by environment, against `persona-sandbox --rate-limit 300` (a real 60-second window) that
delivers signed webhooks. Every request of every process goes through the one limiter in
Redis (`RATE_LIMIT_PER_MINUTE`, plus the burst of 10 reads it lets borrow ahead); the sandbox
answers 429 past 300 in its window and records the most requests it answered within any 60
seconds (`peak_requests_per_60s`).

The producer keeps a backlog of requests waiting, so the API budget, not the producer, sets
the pace. People take 5-120 sandbox seconds on a clock `time_scale` times faster (6 real
seconds at most at 20x), so the run reaches its steady state within seconds; the rate is
counted from results published after the warm-up. The webhooks carry the inquiry's
verifications in `included`, so a result costs its create alone, and polling runs underneath at
the default cadence, stepping back to `POLL_SAFETY_NET_S` (real seconds) while they flow, as in
a production deployment with webhooks.

The same run measures the decision to published event latency (c): from the sandbox's own
timestamp of the status a result reports, mapped to wall time through the sandbox's clock, to
the moment Redis added the event to the stream.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from arq.connections import ArqRedis
from redis.asyncio import Redis

from bench.harness import WEBHOOK_SECRET, pools, start_pipeline
from bench.report import ScenarioResult, percentile
from bench.scenarios.calls import OUTCOME_MIX, deliver_webhooks, latencies
from bench.stack import Stack
from jobs.producer import enqueue_create
from jobs.state.results import read_range

__all__ = ["SustainedOptions", "run_sustained"]

PER_MINUTE_TARGET: Final = 270.0
#: Decision to published event, p99, real seconds.
LATENCY_P99_TARGET: Final = 0.5
SANDBOX_LIMIT: Final = 300
#: How often the producer tops up the backlog.
PRODUCER_PERIOD_S: Final = 0.5


@dataclass(frozen=True, slots=True)
class SustainedOptions:
    """Sizes and settings of the sustained-throughput scenario."""

    duration_s: float = 180.0
    warmup_s: float = 30.0
    workers: int = 4
    rate_limit_per_minute: int = 288
    """Our limiter's budget: its peak in any 60 s is this plus the 10-request read burst."""
    backlog: int = 60
    """Requests kept waiting beyond those answered, so the pipeline never runs dry."""
    time_scale: float = 20.0
    safety_net_s: float = 600.0
    overrides: Mapping[str, Any] = field(default_factory=dict)
    """Settings for every process (`--set`); the scenario's own limits and cadence win."""


async def _produce(
    pool: ArqRedis, redis: Redis, stream: str, options: SustainedOptions, stop_at: float
) -> int:
    """Top the backlog up until `stop_at`; return how many requests were enqueued."""
    enqueued = 0
    ceiling = int(options.duration_s / 60 * SANDBOX_LIMIT) + options.backlog
    while time.monotonic() < stop_at and enqueued < ceiling:
        answered = int(await redis.xlen(stream))
        while enqueued - answered < options.backlog and enqueued < ceiling:
            await enqueue_create(
                pool, reference_id=f"person-{enqueued}", job_id=f"sustained-{enqueued}"
            )
            enqueued += 1
        await asyncio.sleep(PRODUCER_PERIOD_S)
    return enqueued


async def run_sustained(stack: Stack, options: SustainedOptions) -> ScenarioResult:
    """Run the four-worker pipeline for `duration_s` against the rate-limited sandbox."""
    result = ScenarioResult(
        "sustained", f"b. sustained throughput ({options.workers} workers, limit 300/min)"
    )
    async with stack.scope() as scope:
        sandbox, settings = await start_pipeline(
            scope,
            "sustained",
            *("--rate-limit", str(SANDBOX_LIMIT), "--delay-range", "5,120"),
            *("--outcome-mix", OUTCOME_MIX),
            time_scale=options.time_scale,
            overrides=options.overrides,
            persona_webhook_secrets=WEBHOOK_SECRET,
            rate_limit_per_minute=options.rate_limit_per_minute,
            poll_safety_net_s=options.safety_net_s,
        )
        started = time.monotonic()
        await deliver_webhooks(scope, sandbox, settings, "web-sustained")
        await scope.start_workers("worker-sustained", settings, options.workers)
        clock = await sandbox.clock()
        async with pools(settings) as (pool, redis):
            begin_wall = time.time()
            begin = time.monotonic()
            enqueued = await _produce(
                pool, redis, settings.results_stream, options, begin + options.duration_s
            )
            end_wall = time.time()
            published = await read_range(redis, settings.results_stream)
        counters = await sandbox.counters()

    window_start = begin_wall + options.warmup_s
    in_window = [
        entry
        for entry in published
        if entry.event != "job.failed" and window_start <= entry.added_ms / 1000 <= end_wall
    ]
    minutes = (end_wall - window_start) / 60
    per_minute = len(in_window) / minutes if minutes > 0 else float("nan")
    decided = sum(1 for entry in published if entry.event != "job.failed")
    result.add("decided inquiries per minute", per_minute, "/min", at_least=PER_MINUTE_TARGET)
    result.add("429 answers", float(counters["rate_limited"]), at_most=0, digits=0)
    result.add(
        "most requests in any 60 s",
        float(counters["peak_requests_per_60s"]),
        at_most=SANDBOX_LIMIT,
        digits=0,
    )
    lags = latencies(in_window, clock)
    result.add("decision -> event p50", percentile(lags, 0.5), "s", digits=2)
    result.add(
        "decision -> event p99", percentile(lags, 0.99), "s", at_most=LATENCY_P99_TARGET, digits=2
    )
    result.details = {
        "duration_s": options.duration_s,
        "warmup_s": options.warmup_s,
        "workers": options.workers,
        "rate_limit_per_minute": options.rate_limit_per_minute,
        "time_scale": options.time_scale,
        "safety_net_s": options.safety_net_s,
        "latency_samples": len(lags),
        "latency_max_s": round(max(lags), 4) if lags else None,
        "enqueued": enqueued,
        "decided": decided,
        "job_failed": len(published) - decided,
        "decided_in_window": len(in_window),
        "requests": counters["requests"],
        "calls_per_decided": round(counters["requests"] / decided, 4) if decided else None,
        "calls_per_operation": {
            op: sum(codes.values()) for op, codes in counters["operations"].items()
        },
        "webhooks": counters["webhooks"],
    }
    result.wall_s = time.monotonic() - started
    return result

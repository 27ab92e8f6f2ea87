"""Scenario e: what an in-flight inquiry costs in Redis, and whether the worker's memory grows.

One `arq worker.WorkerSettings` process creates `inquiries` inquiries whose people take ten
hours, so every one stays in flight; polling starts an hour after each create, so nothing but
the creates runs while memory is measured. At a tenth, half and all of them the benchmark
reads Redis's `used_memory` and the worker's resident set size (from /proc).

Redis bytes per inquiry is the growth of `used_memory` over the empty start divided by the
inquiries in flight: everything an in-flight request keeps in the request ledger (its request
hash, the followed inquiry's hash, its members of the due set and of the open-request set) and
its create job's result with the one-time link. No arq job waits for an inquiry between its
checks (the polling tick finds it in the due set), so nothing is left in arq's queue.
`MEMORY USAGE` of a sample of each key family goes into the JSON as the breakdown. The worker
holds nothing per inquiry between jobs, so its RSS should stay flat as the count grows; "flat"
here means under 10 % growth from the first sample to the last.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from redis.asyncio import Redis

from bench.harness import pools, start_pipeline
from bench.processes import ChildProcess
from bench.report import ScenarioResult
from bench.stack import Stack
from bench.waiting import idle
from jobs.producer import enqueue_create
from jobs.state.keys import ARQ_RESULT_PREFIX, KeySpace
from jobs.state.redis_typing import resolved
from settings import Settings

__all__ = ["MemoryOptions", "run_memory"]

BYTES_PER_INQUIRY_TARGET: Final = 1024
RSS_GROWTH_LIMIT: Final = 0.10
#: Ten hours: far beyond the run, so every inquiry stays in flight.
PERSON_TAKES_S: Final = 36_000
#: Inquiries sampled per key family for the `MEMORY USAGE` breakdown.
SAMPLE: Final = 200


@dataclass(frozen=True, slots=True)
class MemoryOptions:
    """Sizes of the memory scenario."""

    inquiries: int = 10_000
    timeout_s: float = 300.0
    overrides: Mapping[str, Any] = field(default_factory=dict)
    """Settings of the worker (`--set`); the scenario's cadence and open limit win."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One reading."""

    inflight: int
    used_memory: int
    worker_rss: int


async def _used_memory(redis: Redis) -> int:
    return int((await redis.info("memory"))["used_memory"])


async def _all_created(redis: Redis, settings: Settings, count: int, timeout_s: float) -> None:
    """Wait until `count` inquiries are followed and no create is queued or running."""
    keys = KeySpace(settings.key_prefix)
    deadline = time.monotonic() + timeout_s
    while int(await redis.zcard(keys.due)) < count or not await idle(redis, settings.queue_name):
        if time.monotonic() > deadline:
            have = await redis.zcard(keys.due)
            raise TimeoutError(f"{have} of {count} inquiries in flight after {timeout_s:.0f}s")
        await asyncio.sleep(0.2)


async def _sample(redis: Redis, worker: ChildProcess, inflight: int) -> Sample:
    await asyncio.sleep(1.0)  # let the last jobs' allocations settle
    rss = sorted([worker.rss_bytes() for _ in range(3)])[1]
    return Sample(inflight, await _used_memory(redis), rss)


async def _mean_usage(redis: Redis, names: list[str]) -> float:
    sizes = [await redis.memory_usage(name, samples=0) or 0 for name in names]
    return round(sum(sizes) / len(sizes), 1) if sizes else 0.0


async def _breakdown(redis: Redis, settings: Settings) -> dict[str, float]:
    """Mean `MEMORY USAGE` per inquiry of each key family, from a sample."""
    keys = KeySpace(settings.key_prefix)
    ids = [str(member) for member in await redis.zrange(keys.due, 0, SAMPLE - 1)]
    creators = [await resolved(redis.hget(keys.inquiry(i), "creator")) for i in ids]
    requests = [str(request) for request in creators if request]
    families: dict[str, list[str]] = {
        keys.inquiry("<id>"): [keys.inquiry(inquiry_id) for inquiry_id in ids],
        keys.request("<create job>"): [keys.request(job) for job in requests],
        f"{ARQ_RESULT_PREFIX}<create job>": [ARQ_RESULT_PREFIX + job for job in requests],
    }
    breakdown = {family: await _mean_usage(redis, names) for family, names in families.items()}
    count = max(int(await redis.zcard(keys.due)), 1)
    for name in (keys.due, keys.open_requests, settings.queue_name):
        total = await redis.memory_usage(name, samples=0) or 0
        breakdown[f"{name} (per inquiry)"] = round(total / count, 1)
    return breakdown


async def _create_results_share(redis: Redis, count: int) -> float:
    """Bytes per inquiry that arq's stored create results take (each holds the person's link
    for a day): what `used_memory` drops by when they are deleted, after every sample."""
    before = await _used_memory(redis)
    for start in range(0, count, 1_000):
        names = [f"{ARQ_RESULT_PREFIX}mem-{n}" for n in range(start, min(start + 1_000, count))]
        await redis.delete(*names)
    return (before - await _used_memory(redis)) / max(count, 1)


async def run_memory(stack: Stack, options: MemoryOptions) -> ScenarioResult:
    """Create `inquiries` long-lived inquiries in steps and sample memory at each."""
    result = ScenarioResult("memory", f"e. memory with {options.inquiries:,} in flight")
    started = time.monotonic()
    steps = sorted({max(1, options.inquiries // 10), max(1, options.inquiries // 2)})
    steps = [step for step in steps if step < options.inquiries] + [options.inquiries]
    async with stack.scope() as scope:
        # Checks start an hour after each create: only the creates run while memory is read.
        cadence = {"poll_min_interval_s": 3_600.0, "poll_max_interval_s": 7_200.0}
        people = ("--rate-limit", "0", "--delay-range", str(PERSON_TAKES_S))
        _, settings = await start_pipeline(
            scope, "memory", *people, time_scale=1.0, overrides=options.overrides, **cadence
        )
        [worker] = await scope.start_workers("worker-memory", settings, 1)
        async with pools(settings) as (pool, redis):
            baseline = await _sample(redis, worker, 0)
            samples = []
            enqueued = 0
            for step in steps:
                while enqueued < step:
                    await enqueue_create(
                        pool, reference_id=f"person-{enqueued}", job_id=f"mem-{enqueued}"
                    )
                    enqueued += 1
                await _all_created(redis, settings, step, options.timeout_s)
                samples.append(await _sample(redis, worker, step))
            breakdown = await _breakdown(redis, settings)
            results_share = await _create_results_share(redis, enqueued)

    last = samples[-1]
    per_inquiry = (last.used_memory - baseline.used_memory) / last.inflight
    result.add(
        "Redis bytes per in-flight inquiry",
        per_inquiry,
        "B",
        at_most=BYTES_PER_INQUIRY_TARGET,
        digits=0,
    )
    result.add("of which arq's stored create results", results_share, "B", digits=0)
    result.add(
        "the rest: ledger, due set, console history", per_inquiry - results_share, "B", digits=0
    )
    for sample in samples:
        result.add(f"worker RSS at {sample.inflight:,}", sample.worker_rss / 2**20, "MiB", digits=1)
    growth = (last.worker_rss - samples[0].worker_rss) / samples[0].worker_rss
    result.judged(
        f"RSS growth {samples[0].inflight:,} -> {last.inflight:,}",
        growth * 100,
        "%",
        f"flat (< {RSS_GROWTH_LIMIT * 100:g} %)",
        growth < RSS_GROWTH_LIMIT,
    )
    result.details = {
        "baseline": _sample_json(baseline),
        "samples": [_sample_json(sample) for sample in samples],
        "bytes_per_inquiry_at_each_step": [
            round((sample.used_memory - baseline.used_memory) / sample.inflight, 1)
            for sample in samples
        ],
        "memory_usage_breakdown_bytes": breakdown,
        "person_takes_s": PERSON_TAKES_S,
        "poll_min_interval_s": settings.poll_min_interval_s,
    }
    result.wall_s = time.monotonic() - started
    return result


def _sample_json(sample: Sample) -> dict[str, Any]:
    return {
        "inflight": sample.inflight,
        "redis_used_memory": sample.used_memory,
        "worker_rss": sample.worker_rss,
    }

"""Scenario f: webhooks stop for five minutes in the middle of a run, then come back.

One worker process and the web app against a sandbox at the real pace whose signed webhooks
carry the inquiry's verifications. People arrive at a steady rate and take 5-120 seconds each.
`before_s` into the run the sandbox stops delivering (as when the subscription is disabled or
the web process is down: events of that time are never delivered) and `gap_s` later delivers
again. What is measured:

- every request is answered, once (results from payloads while webhooks flow, from polling and
  reads during the gap);
- when the polling tick went back to the normal cadence: its switch, less the moment the gap
  became noticeable (the last webhook plus `WEBHOOK_SILENCE_S`), must be within one tick
  (`POLL_TICK_S`), and the switch makes every followed inquiry due at once (the worker's log
  line says how many; the due set's size just before it says of how many);
- when it stepped back to the safety net after the webhooks returned: the switch less the
  first webhook accepted after the gap, within one tick;
- the status checks (list calls) and reads per phase, from the sandbox's counters, sampled
  every second alongside the shared mode (`{KEY_PREFIX}webhook-flow`).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from redis.asyncio import Redis

from bench.harness import WEBHOOK_SECRET, pools, start_pipeline
from bench.processes import ChildProcess
from bench.report import ScenarioResult
from bench.sandbox import SandboxProcess
from bench.scenarios.calls import OUTCOME_MIX, webhook_settings
from bench.stack import Stack
from bench.waiting import settle, wait_for_results
from jobs.policy.cadence import WEBHOOK_SILENCE_S
from jobs.producer import enqueue_create
from jobs.state.keys import KeySpace
from jobs.state.redis_typing import resolved
from jobs.state.results import read_range

__all__ = ["GapOptions", "run_gap"]

#: How often the monitor samples the mode, the due set and the sandbox's counters.
SAMPLE_S: Final = 1.0
_DUE_NOW: Final = re.compile(r"(\d+) followed inquiries due now")


@dataclass(frozen=True, slots=True)
class GapOptions:
    """Sizes of the gap scenario (real seconds)."""

    before_s: float = 150.0
    gap_s: float = 300.0
    after_s: float = 150.0
    people_per_s: float = 1.0
    timeout_s: float = 300.0
    """How long the last results may take after the last person arrived."""
    overrides: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Sample:
    """One look at the deployment."""

    at: float
    mode: str
    since: float | None
    """When the tick last switched the mode."""
    last_webhook_at: float | None
    followed: int
    lists: int
    reads: int


@dataclass(slots=True)
class Monitor:
    """Samples the shared mode, the due set and the sandbox's counters until stopped."""

    redis: Redis
    keys: KeySpace
    sandbox: SandboxProcess
    samples: list[Sample] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            flow = await resolved(self.redis.hgetall(self.keys.webhook_flow))
            counters = await self.sandbox.counters()
            operations = {op: sum(codes.values()) for op, codes in counters["operations"].items()}
            last, since = flow.get("last"), flow.get("since")
            self.samples.append(
                Sample(
                    at=time.time(),
                    mode=flow.get("mode", "polling"),
                    since=float(since) if since else None,
                    last_webhook_at=float(last) if last else None,
                    followed=int(await self.redis.zcard(self.keys.due)),
                    lists=operations.get("list-all-inquiries", 0),
                    reads=operations.get("retrieve-an-inquiry", 0),
                )
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), SAMPLE_S)

    def first(self, mode: str, after: float) -> Sample | None:
        """The first sample in `mode` taken after `after`."""
        return next((s for s in self.samples if s.at > after and s.mode == mode), None)

    def before(self, moment: float) -> Sample | None:
        """The last sample taken before `moment`."""
        taken = [s for s in self.samples if s.at < moment]
        return taken[-1] if taken else None


async def _produce(pool: Any, options: GapOptions, total_s: float, started: float) -> int:
    enqueued = 0
    while (elapsed := time.monotonic() - started) < total_s:
        while enqueued < int(elapsed * options.people_per_s) + 1:
            await enqueue_create(pool, reference_id=f"person-{enqueued}", job_id=f"gap-{enqueued}")
            enqueued += 1
        await asyncio.sleep(0.2)
    return enqueued


def _phase(monitor: Monitor, start: float, end: float) -> tuple[int, int]:
    """List calls and reads made between two moments (by the nearest samples)."""
    first, last = monitor.before(start), monitor.before(end)
    if first is None or last is None:
        return 0, 0
    return last.lists - first.lists, last.reads - first.reads


async def run_gap(stack: Stack, options: GapOptions) -> ScenarioResult:
    """Run the pipeline through a webhook gap; figures on the mode's switches and answers."""
    result = ScenarioResult(
        "gap", f"f. webhooks stopped for {options.gap_s / 60:g} min mid-run (1 worker)"
    )
    run_started = time.monotonic()
    async with stack.scope() as scope:
        sandbox, settings = await start_pipeline(
            scope,
            "gap",
            *("--rate-limit", "0", "--delay-range", "5,120", "--outcome-mix", OUTCOME_MIX),
            time_scale=1.0,
            overrides=options.overrides,
            persona_webhook_secrets=WEBHOOK_SECRET,
        )
        web_root, _ = await scope.start_web("web-gap", settings)
        hooks = webhook_settings(web_root)
        await sandbox.configure_webhooks(hooks)
        [worker] = await scope.start_workers("worker-gap", settings, 1)
        keys = KeySpace(settings.key_prefix)
        total_s = options.before_s + options.gap_s + options.after_s
        async with pools(settings) as (pool, redis):
            monitor = Monitor(redis, keys, sandbox)
            stop = asyncio.Event()
            watching = asyncio.create_task(monitor.run(stop))
            started = time.monotonic()
            wall_started = time.time()
            producing = asyncio.create_task(_produce(pool, options, total_s, started))
            await asyncio.sleep(options.before_s)
            await sandbox.configure_webhooks(None)
            gap_started = time.time()
            await asyncio.sleep(options.gap_s)
            await sandbox.configure_webhooks(hooks)
            gap_ended = time.time()
            enqueued = await producing
            await wait_for_results(
                redis, settings.results_stream, enqueued, timeout_s=options.timeout_s
            )
            await settle(redis, settings.queue_name, keys=keys)
            stop.set()
            await watching
            published = await read_range(redis, settings.results_stream)
        counters = await sandbox.counters()
    _figures(result, options, monitor, worker, published, enqueued, counters, settings.poll_tick_s)
    phases = {
        "before": (wall_started, gap_started),
        "gap": (gap_started, gap_ended),
        "after": (gap_ended, time.time()),
    }
    result.details.update(
        {
            name: dict(zip(("list_calls", "reads"), _phase(monitor, *span), strict=True))
            for name, span in phases.items()
        }
    )
    result.details["gap_started"] = gap_started
    result.details["gap_ended"] = gap_ended
    result.details["samples"] = len(monitor.samples)
    result.wall_s = time.monotonic() - run_started
    return result


def _figures(
    result: ScenarioResult,
    options: GapOptions,
    monitor: Monitor,
    worker: ChildProcess,
    published: list[Any],
    enqueued: int,
    counters: Mapping[str, Any],
    tick_s: float,
) -> None:
    answered = {entry.data.get("request_id") for entry in published}
    failed = sum(1 for entry in published if entry.event == "job.failed")
    result.add("requests enqueued", enqueued, digits=0)
    result.add("requests without exactly one answer", enqueued - len(answered), at_most=0, digits=0)
    result.add("extra answers", len(published) - len(answered), at_most=0, digits=0)
    result.add("job.failed", failed, at_most=0, digits=0)
    decided = len(published) - failed
    result.add("API calls per decided inquiry", counters["requests"] / max(decided, 1))
    gap_from = min(s.at for s in monitor.samples) + options.before_s - SAMPLE_S
    to_polling = monitor.first("polling", gap_from)
    before_switch = monitor.before(to_polling.at) if to_polling else None
    if to_polling is None or before_switch is None or before_switch.last_webhook_at is None:
        result.judged("switch to polling seen", 0, "", "seen", False)
        return
    noticeable = before_switch.last_webhook_at + WEBHOOK_SILENCE_S
    flow_switch = _switch_time(monitor, "polling", gap_from)
    result.add(
        "polling back after the gap was noticeable",
        flow_switch - noticeable,
        "s",
        at_most=tick_s,
        digits=1,
    )
    due_now = [int(match) for match in _DUE_NOW.findall(worker.output())]
    result.add("followed inquiries due at once then", due_now[0] if due_now else 0, digits=0)
    result.add("followed just before the switch", before_switch.followed, digits=0)
    back = monitor.first("webhooks", to_polling.at)
    if back is None:
        result.judged("back to the safety net seen", 0, "", "seen", False)
        return
    first_webhook = next(
        (
            s.last_webhook_at
            for s in monitor.samples
            if s.at > to_polling.at
            and s.last_webhook_at is not None
            and s.last_webhook_at > before_switch.last_webhook_at
        ),
        None,
    )
    if first_webhook is not None:
        result.add(
            "safety net again after the first webhook back",
            _switch_time(monitor, "webhooks", to_polling.at) - first_webhook,
            "s",
            at_most=tick_s,
            digits=1,
        )


def _switch_time(monitor: Monitor, mode: str, after: float) -> float:
    """When the tick switched to `mode` (the flow's `since`), from the first sample in it."""
    sample = monitor.first(mode, after)
    assert sample is not None
    return sample.since if sample.since is not None else sample.at

"""`python -m bench`: the benchmark suite, with one table and one JSON file out.

    python -m bench                                  # every scenario at its default size
    python -m bench --only calls,throughput --inquiries 1000
    python -m bench --only memory --memory-inquiries 2000
    python -m bench --set POLL_TICK_S=10 --set WORKER_MAX_JOBS=100   # try other settings
    python -m bench --only a --no-naive --calls-workers 4   # a's polling run on 4 processes
    python -m bench --only a --no-naive --calls-load        # ... on 1, beside a busy core

Scenarios (`--only` takes the names or the letters):

    a calls       API calls per decided inquiry: polling path, webhook path, naive baseline
    b sustained   decided inquiries per minute, 4 workers, the sandbox's 300/min limit
    c throughput  pipeline jobs per second as a share of bare arq no-op jobs per second
    d latency     sandbox decision -> published event, p50 and p99 (measured by the a runs)
    e memory      Redis bytes per in-flight inquiry and worker RSS up to 10,000 in flight
    f gap         webhooks stopped for 5 minutes mid-run: answers, the polling mode's switches
                  (about ten minutes; only with `--only gap`)

Everything runs on this machine: private `redis-server`s on free loopback ports (never the
Redis at REDIS_URL), `persona-sandbox` processes, `arq worker.WorkerSettings` and
`uvicorn worker.web:create_app` processes, all stopped by pid when the run ends (also on
Ctrl-C). b runs beside a's polling and naive runs (all paced by real time and light on CPU);
a's webhook run, whose latencies (d) are a few hundred milliseconds and would drown in others'
bursts, follows b beside the polling run's quiet tail; then c and e, which measure CPU and
memory, run alone. The defaults finish in about nine minutes on 2 cores. Results: a table on
stdout and `bench/results/<UTC timestamp>.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
import time
import traceback
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import Final, cast, get_args

from bench.arguments import bounded
from bench.harness import open_stack
from bench.report import ScenarioResult, render_table, write_json
from bench.scenarios.calls import CallsOptions, run_calls
from bench.scenarios.memory import MemoryOptions, run_memory
from bench.scenarios.sustained import SustainedOptions, run_sustained
from bench.scenarios.throughput import ThroughputOptions, run_throughput
from bench.scenarios.webhook_gap import GapOptions, run_gap
from settings import Settings
from worker import event_loop
from worker.event_loop import EventLoopChoice

SCENARIOS: Final = ("calls", "sustained", "throughput", "latency", "memory", "gap")
LETTERS: Final = dict(zip("abcdef", SCENARIOS, strict=True))
#: What runs without `--only`: every scenario but f, which takes ten minutes of its own.
DEFAULT: Final = SCENARIOS[:5]
RESULTS_DIR: Final = Path(__file__).resolve().parent / "results"


def _scenarios(text: str) -> list[str]:
    chosen = []
    for part in filter(None, (item.strip().lower() for item in text.split(","))):
        name = LETTERS.get(part, part)
        if name not in SCENARIOS:
            raise argparse.ArgumentTypeError(f"unknown scenario {part!r}")
        chosen.append(name)
    return chosen


def _setting(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    field = name.strip().lower()
    if not sep or field not in Settings.model_fields:
        raise argparse.ArgumentTypeError(f"expected SETTING=value with a known setting: {text!r}")
    return field, value.strip()


#: The numeric options: flag, lowest and highest value, type, default and what it sets (the
#: help shows the default after it).
_NUMBERS: Final[tuple[tuple[str, float, float, type[int] | type[float], float, str], ...]] = (
    ("--inquiries", 10, 20_000, int, 1_000, "a/d"),
    ("--calls-workers", 1, 16, int, 1, "a/d polling run's worker processes"),
    ("--time-scale", 1, 60, float, 1.0, "a/d sandbox clock"),
    ("--safety-net", 1, 3_600, float, 600.0, "a/b webhook path's POLL_SAFETY_NET_S"),
    ("--sustained-seconds", 60, 900, float, 180.0, "b"),
    ("--workers", 1, 16, int, 4, "b worker processes"),
    ("--rate-limit", 1, 300, int, 288, "b RATE_LIMIT_PER_MINUTE"),
    ("--throughput-inquiries", 100, 20_000, int, 2_000, "c"),
    ("--memory-inquiries", 100, 50_000, int, 10_000, "e"),
    ("--gap-seconds", 150, 1_800, float, 300.0, "f webhooks stopped"),
)


def parser() -> argparse.ArgumentParser:
    """The command line."""
    cli = argparse.ArgumentParser(
        prog="python -m bench",
        description=(__doc__ or "").split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join((__doc__ or "").split("\n")[1:]),
    )
    add = cli.add_argument
    add("--only", type=_scenarios, default=list(DEFAULT), help="scenarios, e.g. calls,memory")
    for flag, low, high, kind, default, help_text in _NUMBERS:
        help_text = f"{help_text} ({default:g})"
        add(flag, type=bounded(low, high, kind), default=default, help=help_text)
    add("--no-naive", action="store_true", help="skip the naive baseline in a")
    add(
        "--calls-load",
        action="store_true",
        help="keep one core busy beside a's polling run (a bounded CPU-burning process)",
    )
    add(
        "--set",
        type=_setting,
        action="append",
        default=[],
        metavar="SETTING=VALUE",
        help="a setting for every pipeline run (repeatable)",
    )
    add("--results-dir", type=Path, default=RESULTS_DIR, help="where the JSON goes")
    return cli


def calls_options_of(args: argparse.Namespace) -> CallsOptions:
    """Scenario a/d's options from the command line."""
    return CallsOptions(
        inquiries=args.inquiries,
        time_scale=args.time_scale,
        naive=not args.no_naive,
        overrides=dict(args.set),
        safety_net_s=args.safety_net,
        workers=args.calls_workers,
        busy_core=args.calls_load,
    )


async def _run(args: argparse.Namespace, failures: list[str]) -> list[ScenarioResult]:
    chosen = set(args.only)
    overrides = dict(args.set)
    found: list[ScenarioResult] = []
    async with open_stack() as stack:
        side_by_side: list[asyncio.Task[list[ScenarioResult]]] = []
        sustained: asyncio.Task[list[ScenarioResult]] | None = None
        if "sustained" in chosen:
            sustained_options = SustainedOptions(
                duration_s=args.sustained_seconds,
                workers=args.workers,
                rate_limit_per_minute=args.rate_limit,
                safety_net_s=args.safety_net,
                overrides=overrides,
            )
            work = _scenario("b", run_sustained(stack, sustained_options), failures)
            sustained = asyncio.create_task(work)
            side_by_side.append(sustained)
        if chosen & {"calls", "latency"}:
            calls_options = calls_options_of(args)
            # b runs beside the long polling run; the webhook run (latency) waits for it.
            calls = run_calls(stack, calls_options, webhook_run_after=sustained)
            side_by_side.append(asyncio.create_task(_scenario("a/d", calls, failures)))
        for results in await asyncio.gather(*side_by_side):
            found += results
        if "throughput" in chosen:
            options = ThroughputOptions(inquiries=args.throughput_inquiries, overrides=overrides)
            found += await _scenario("c", run_throughput(stack, options), failures)
        if "memory" in chosen:
            memory = MemoryOptions(inquiries=args.memory_inquiries, overrides=overrides)
            found += await _scenario("e", run_memory(stack, memory), failures)
        if "gap" in chosen:
            gap = GapOptions(gap_s=args.gap_seconds, overrides=overrides)
            found += await _scenario("f", run_gap(stack, gap), failures)
        stack.keep_logs = bool(failures)
    wanted = chosen | ({"calls"} if "latency" in chosen else set())
    by_key = {result.key: result for result in found if result.key in wanted}
    return [by_key[name] for name in SCENARIOS if name in by_key]


async def _scenario(
    name: str,
    work: Awaitable[ScenarioResult | tuple[ScenarioResult, ...]],
    failures: list[str],
) -> list[ScenarioResult]:
    """Run one scenario, print its figures; a failure is reported and the others go on."""
    print(f"[{time.strftime('%H:%M:%S')}] {name}: started", flush=True)
    try:
        outcome = await work
    except Exception as exc:
        traceback.print_exc()
        failures.append(f"{name}: {type(exc).__name__}: {exc}")
        print(f"[{time.strftime('%H:%M:%S')}] {name}: FAILED ({exc})", flush=True)
        return []
    results = list(outcome) if isinstance(outcome, tuple) else [outcome]
    print(f"[{time.strftime('%H:%M:%S')}] {name}: done", flush=True)
    print(render_table(results), flush=True)
    return results


def _loop_choice(args: argparse.Namespace) -> EventLoopChoice:
    choice = dict(args.set).get("worker_event_loop", "auto")
    if choice not in get_args(EventLoopChoice):
        raise SystemExit(f"WORKER_EVENT_LOOP: one of {', '.join(get_args(EventLoopChoice))}")
    return cast(EventLoopChoice, choice)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the chosen scenarios, print the table, write the JSON."""
    args = parser().parse_args(argv)
    command = shlex.join(["python", "-m", "bench", *(sys.argv[1:] if argv is None else argv)])
    started = time.monotonic()
    failures: list[str] = []
    try:
        # The loop the Procfile's worker runs on, so c measures arq and the pipeline on it.
        results = event_loop.run(_run(args, failures), _loop_choice(args))
    except KeyboardInterrupt:
        raise SystemExit("interrupted; every process the benchmark started was stopped") from None
    wall = time.monotonic() - started
    path = write_json(results, args.results_dir, command=command, wall_s=wall)
    print()
    print(render_table(results))
    print(f"\n{command}: {wall / 60:.1f} min wall; JSON in {path}")
    missed = [
        figure.label for result in results for figure in result.figures if figure.met is False
    ]
    if missed:
        print("targets missed: " + "; ".join(missed))
    if failures:
        raise SystemExit("scenarios that failed: " + "; ".join(failures))


if __name__ == "__main__":
    main()

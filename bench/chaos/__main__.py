"""`python -m bench.chaos`: the larger chaos run, with its figures printed.

    python -m bench.chaos --inquiries 2000 --workers 4 --minutes 5

Starts redis-server (AOF, appendfsync always), `persona-sandbox` (10 % 5xx, 5 % held answers,
429 bursts, webhooks delivered twice and out of order), the web receiver and the workers as
processes on loopback; SIGKILLs a random worker every few seconds and restarts Redis once;
then checks that every request has exactly one event and one Persona inquiry. Exit status 0
when every guarantee held, 1 otherwise. Process logs stay in `--logs` (default: a temporary
directory, printed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from bench.chaos.plan import ChaosPlan
from bench.chaos.run import run_chaos

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    defaults = ChaosPlan()
    cli = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__.split("\n")[0])
    add = cli.add_argument
    add("--inquiries", type=int, default=defaults.inquiries, help="create requests")
    add("--workers", type=int, default=defaults.workers, help="worker processes kept running")
    add("--minutes", type=float, default=defaults.minutes, help="hard bound on the run")
    add("--kill-every", type=float, default=defaults.kill_every_s, help="mean s between kills")
    add("--seed", type=int, default=defaults.seed, help="seed of the mix, kills and faults")
    add("--no-webhooks", action="store_true", help="run without webhook delivery")
    add("--ci", action="store_true", help="the CI-sized plan (250 requests, 3 workers)")
    add(
        "--job-timeout",
        type=float,
        default=None,
        help=f"JOB_TIMEOUT_S of the workers ({defaults.job_timeout_s:g}; the product's is 28)",
    )
    add(
        "--hang-s",
        type=float,
        default=None,
        help=f"held answers' wait ({defaults.hang_s:g}, or 5 s past --job-timeout)",
    )
    add("--logs", type=Path, default=None, help="directory for process logs")
    add("--log-level", default="WARNING", help="LOG_LEVEL of the web and worker processes")
    add("--json", action="store_true", help="print the report as JSON")
    return cli


def _timed(plan: ChaosPlan, options: argparse.Namespace) -> ChaosPlan:
    """The plan with the timeouts the command line sets (a held answer outlasts a job's time)."""
    job_timeout_s = plan.job_timeout_s if options.job_timeout is None else options.job_timeout
    hang_s = options.hang_s
    if hang_s is None:
        hang_s = max(plan.hang_s, job_timeout_s + 5.0)
    return replace(plan, job_timeout_s=job_timeout_s, hang_s=hang_s)


def _plan(options: argparse.Namespace) -> ChaosPlan:
    if options.ci:
        return _timed(
            ChaosPlan.ci(
                seed=options.seed, webhooks=not options.no_webhooks, log_level=options.log_level
            ),
            options,
        )
    defaults = ChaosPlan()
    # Enqueue over 40 % of the bound and kill for 60 % of it, leaving the rest to settle.
    window_s = options.minutes * 60
    plan = replace(
        defaults,
        inquiries=options.inquiries,
        workers=options.workers,
        minutes=options.minutes,
        kill_every_s=options.kill_every,
        seed=options.seed,
        webhooks=not options.no_webhooks,
        log_level=options.log_level,
        enqueue_s=window_s * 0.4,
        chaos_s=window_s * 0.6,
        redis_restart_at_s=window_s * 0.2,
    )
    return _timed(plan, options)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chaos plan the arguments describe; 0 when every guarantee held."""
    cli = _parser()
    options = cli.parse_args(argv)
    try:
        plan = _plan(options)
    except ValueError as exc:
        cli.error(str(exc))
    logs = options.logs or Path(tempfile.mkdtemp(prefix="persona-chaos-"))
    logs.mkdir(parents=True, exist_ok=True)
    report = asyncio.run(run_chaos(plan, logs))
    (logs / "report.json").write_text(json.dumps(report.to_json(), indent=2))
    if options.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print("\n".join(report.lines()))
        print(f"  process logs     {logs}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""`persona-worker demo`: the whole pipeline on one machine, with no account and no setup.

It starts the Persona sandbox emulator in-process (on a fast clock), uses `REDIS_URL` when a
Redis answers there and otherwise starts a private `redis-server`, runs a worker, enqueues a
batch of inquiries whose people will pass, fail, get declined, go to review or let the inquiry
expire, shows progress as results arrive, and prints one row per request. Every person is
screened once approved (a watchlist and a PEP report, `reports` of `create_inquiry`); the first
approved person is named `Sanctioned`, which the sandbox's watchlist matches
(`persona_sandbox.report_rules`), so the table shows one match. Everything it starts
it stops; every key it keeps is under its own prefix (`KEY_PREFIX=persona-demo:`: queue, stream,
request ledger, due set), emptied when a run starts, so it never mixes with a real deployment
or with an earlier demo.

With `--json` the same run writes its human-readable lines to stderr and one JSON report to
stdout: per request its reference, scenario, event, status, finality, screening and seconds, then
totals.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from redis.asyncio import Redis
from redis.exceptions import RedisError

from jobs.producer import connect, enqueue_create
from jobs.state.connections import RedisTimeouts, redis_client
from jobs.state.results import START, ResultEvent, read_after, read_range
from persona_sandbox import SandboxConfig, run_sandbox
from settings import load_settings
from worker.arq_settings import build_worker_settings
from worker.arq_worker import create_worker
from worker.embedded_redis import RedisServer
from worker.embedded_worker import stop_embedded

__all__ = ["DEMO_OUTCOMES", "run_demo"]

#: The scenario of each demo person, cycled: (sandbox outcome, seconds the person takes).
DEMO_OUTCOMES: Final = (
    ("approved", 20),
    ("declined", 30),
    ("approved", 45),
    ("review_approved", 25),
    ("failed", 35),
    ("approved", 60),
    ("expired", 50),
    ("review_declined", 40),
    ("approved", 15),
    ("declined", 55),
)
#: The reports each demo person's request asks for, run once the inquiry is approved.
DEMO_REPORTS: Final = ("watchlist", "politically-exposed-person")
#: The demo people's names, cycled; the first approved person's last name is `MATCHED_NAME`.
DEMO_NAMES: Final = (
    ("Ada", "Lovelace"),
    ("Alan", "Turing"),
    ("Grace", "Hopper"),
    ("Edsger", "Dijkstra"),
    ("Barbara", "Liskov"),
)
#: A last name the sandbox's watchlist holds.
MATCHED_NAME: Final = "Sanctioned"
_SHORT: Final = {"watchlist": "watchlist", "politically-exposed-person": "pep"}


@dataclass(frozen=True, slots=True)
class Row:
    """One request's line in the results table."""

    reference_id: str
    expected: str
    event: ResultEvent | None
    seconds: float | None


#: A quick look for a Redis that is already running: the demo starts its own otherwise.
_PROBE: Final = RedisTimeouts(
    socket_timeout_s=0.5, connect_timeout_s=0.5, health_check_interval_s=0
)


async def _reachable(url: str) -> bool:
    client = redis_client(url, _PROBE, decode_responses=False)
    try:
        return bool(await client.ping())
    except (RedisError, OSError):
        return False
    finally:
        await client.aclose()


@contextlib.asynccontextmanager
async def _redis_url() -> AsyncIterator[str]:
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    if await _reachable(url):
        print(f"Redis: using {url.split('@')[-1]}")
        yield url
        return
    server = RedisServer()
    await asyncio.to_thread(server.start)
    print(f"Redis: none at REDIS_URL, started a private redis-server on port {server.port}")
    try:
        yield server.url
    finally:
        await asyncio.to_thread(server.cleanup)


def _progress(done: int, total: int, statuses: Counter[str], elapsed: float) -> str:
    width = 30
    filled = int(width * done / total) if total else width
    summary = "  ".join(f"{name} {count}" for name, count in sorted(statuses.items()))
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}  {elapsed:4.1f}s  {summary}"


def _verdict(item: Mapping[str, Any]) -> str:
    """One report's outcome in a word: `match`, `clear`, or its status when it did not run."""
    if item["status"] != "ready":
        return str(item["status"])
    return "match" if item["has_match"] else "clear"


def _screening(data: Mapping[str, Any]) -> str:
    """The row's reports: `watchlist:match pep:clear`, or `-` when none ran."""
    reports = data.get("reports") or []
    words = [
        f"{_SHORT.get(item['report_type'], item['report_type'])}:{_verdict(item)}"
        for item in reports
    ]
    return " ".join(words) or "-"


def _table(rows: list[Row]) -> str:
    lines = [
        f"{'reference':<12} {'scenario':<16} {'event':<26} {'final':<6} "
        f"{'verifications':<36} {'screening':<25} {'secs':>5}",
        "-" * 132,
    ]
    for row in rows:
        data = row.event.data if row.event else {}
        verifications = ", ".join(
            f"{item['type'].removeprefix('verification/')}:{item['status']}"
            for item in data.get("verifications", [])
        )
        lines.append(
            f"{row.reference_id:<12} {row.expected:<16} "
            f"{(row.event.event if row.event else 'no result'):<26} "
            f"{'yes' if data.get('final') else 'no':<6} {verifications or '-':<36} "
            f"{_screening(data):<25} "
            f"{row.seconds if row.seconds is not None else float('nan'):>5.1f}"
        )
    return "\n".join(lines)


#: Real seconds the demo waits for every request to be answered.
TIMEOUT_S: Final = 50.0


async def _collect(
    redis: Redis, stream: str, references: dict[str, str], started: float
) -> dict[str, tuple[ResultEvent, float]]:
    """Read results until every request has one (or the time is up), showing progress."""
    results: dict[str, tuple[ResultEvent, float]] = {}
    statuses: Counter[str] = Counter()
    interactive = sys.stdout.isatty()
    last_line = 0.0
    cursor = START
    while len(results) < len(references) and time.monotonic() - started < TIMEOUT_S:
        # Wakes for each new batch of results, and at least every 250 ms for the deadline.
        for event in await read_after(redis, stream, cursor, block_ms=250):
            cursor = event.entry_id
            if event.request in references and event.request not in results:
                results[event.request] = (event, time.monotonic() - started)
                statuses[str(event.data.get("status") or event.event)] += 1
        now = time.monotonic()
        line = _progress(len(results), len(references), statuses, now - started)
        if interactive:
            print(f"\r{line}", end="", flush=True)
        elif now - last_line >= 2 or len(results) == len(references):
            print(line, flush=True)
            last_line = now
    if interactive:
        print()
    return results


async def _duplicates(redis: Redis, stream: str) -> int:
    """Events beyond the first for any request: the demo's check of exactly-once publication."""
    seen = Counter(event.request for event in await read_range(redis, stream))
    return sum(count - 1 for count in seen.values())


def _report(rows: list[Row], *, count: int, answered: int, duplicates: int, calls: int) -> Any:
    return {
        "requests": count,
        "answered": answered,
        "duplicate_events": duplicates,
        "api_calls": calls,
        "results": [
            {
                "reference_id": row.reference_id,
                "scenario": row.expected,
                "event": row.event.event if row.event else None,
                "status": row.event.data.get("status") if row.event else None,
                "final": bool(row.event.data.get("final")) if row.event else None,
                "screening": [
                    {key: item[key] for key in ("report_type", "status", "has_match")}
                    for item in (row.event.data.get("reports") or [] if row.event else [])
                ],
                "seconds": round(row.seconds, 2) if row.seconds is not None else None,
            }
            for row in rows
        ],
    }


async def run_demo(*, count: int = 20, seed: int = 7, json_output: bool = False) -> int:
    """Run the demo end to end; 0 when every request got its one result.

    Args:
        json_output: print the human-readable run on stderr and a JSON report on stdout.
    """
    if not json_output:
        return await _run_demo(count, seed, None)
    report: dict[str, Any] = {}
    with contextlib.redirect_stdout(sys.stderr):
        code = await _run_demo(count, seed, report)
    print(json.dumps(report))
    return code


#: The demo's keys (`KEY_PREFIX`): apart from any real deployment on the same Redis.
DEMO_PREFIX: Final = "persona-demo:"


async def _clear(url: str, timeouts: RedisTimeouts, prefix: str) -> None:
    """Delete what an earlier demo left under `prefix` (an interrupted run's open requests and
    followed inquiries would otherwise be checked, and answered, during this one)."""
    async with redis_client(url, timeouts) as redis:
        stale = [key async for key in redis.scan_iter(match=f"{prefix}*", count=1_000)]
        for start in range(0, len(stale), 1_000):
            await redis.delete(*stale[start : start + 1_000])


#: Sandbox seconds per real second: a person's minute passes in two real seconds.
TIME_SCALE: Final = 30.0
_KEY: Final = "persona_sandbox_demo0local0only"
_TEMPLATE: Final = "itmpl_DemoTemplate0000000000000"


async def _run_demo(count: int, seed: int, report: dict[str, Any] | None) -> int:
    run_id = f"{int(time.time())}{seed}"
    sandbox_config = SandboxConfig(
        time_scale=TIME_SCALE, decision_after_s=0.0, review_after_s=60.0, rate_limit_per_minute=0
    )
    async with _redis_url() as redis_url, run_sandbox(sandbox_config) as sandbox:
        print(f"Persona sandbox: {sandbox.url} (one sandbox minute per 2 real seconds)")
        settings = load_settings(
            _env_file=None,
            persona_api_key=_KEY,
            persona_api_url=sandbox.url,
            persona_template_id=_TEMPLATE,
            redis_url=redis_url,
            key_prefix=DEMO_PREFIX,
            poll_min_interval_s=0.25,
            poll_max_interval_s=1.5,
            poll_review_interval_s=1.0,
            # The polling tick scaled like the intervals (the default is 10 s for a 5 s minimum).
            poll_tick_s=0.25,
        )
        timeouts = RedisTimeouts.from_settings(settings)
        await _clear(redis_url, timeouts, DEMO_PREFIX)
        worker_settings = build_worker_settings(
            settings, handle_signals=False, poll_delay=0.05, job_completion_wait=0
        )
        worker = create_worker(worker_settings)
        worker_task = asyncio.create_task(worker.main())
        pool = await connect(redis_url, queue_name=settings.queue_name, timeouts=timeouts)
        redis = redis_client(redis_url, timeouts)
        try:
            references: dict[str, str] = {}
            expected: dict[str, str] = {}
            started = time.monotonic()
            matched = False
            for index in range(count):
                outcome, seconds = DEMO_OUTCOMES[(index + seed) % len(DEMO_OUTCOMES)]
                job_id = f"demo-{run_id}-{index:03d}"
                reference = f"person-{index + 1:03d}"
                first, last = DEMO_NAMES[index % len(DEMO_NAMES)]
                if outcome == "approved" and not matched:
                    last, matched = MATCHED_NAME, True
                await enqueue_create(
                    pool,
                    reference_id=reference,
                    note=f"sandbox-outcome={outcome} sandbox-after={seconds}",
                    job_id=job_id,
                    fields={"name-first": first, "name-last": last},
                    reports=DEMO_REPORTS,
                )
                references[job_id] = reference
                expected[job_id] = outcome
            print(f"Enqueued {count} create_inquiry jobs; following them to their results:")
            results = await _collect(redis, settings.results_stream, references, started)
            duplicates = await _duplicates(redis, settings.results_stream)
        finally:
            # Jobs already running finish (they are short); none is cut off mid-call.
            await stop_embedded(worker, worker_task, settings.job_timeout_s)
            await pool.aclose()
            await redis.aclose()
        rows = [
            Row(
                reference_id=reference,
                expected=expected[job_id],
                event=results[job_id][0] if job_id in results else None,
                seconds=results[job_id][1] if job_id in results else None,
            )
            for job_id, reference in references.items()
        ]
        print(_table(rows))
        screened = [row for row in rows if row.event and row.event.data.get("reports")]
        matched_rows = [
            row.reference_id
            for row in screened
            if row.event and any(item["has_match"] for item in row.event.data["reports"])
        ]
        print(
            f"Screened after approval: {len(screened)}; matched a list: "
            f"{', '.join(matched_rows) or 'nobody'}."
        )
        calls = sandbox.counters_json()["requests"]
        per_result = calls / len(results) if results else float("nan")
        print(f"Persona API calls: {calls} ({per_result:.2f} per result)")
        print(f"{len(results)}/{count} requests answered; duplicate events: {duplicates}.")
        if report is not None:
            report.update(
                _report(
                    rows, count=count, answered=len(results), duplicates=duplicates, calls=calls
                )
            )
        return 0 if len(results) == count and duplicates == 0 else 1

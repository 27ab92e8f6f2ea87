"""The console's costs: its first render with 10,000 inquiries in flight, and the history's
memory and write cost.

    python -m bench.console [--inquiries 10000]

On a private redis-server (loopback, its own port, stopped at the end): `--inquiries` requests
follow one inquiry each through the real ledger (so `Ledger.status_counts` is what the worker
keeps), a full day of per-minute counters and a full story stream (`STORY_ENTRIES` steps)
are written through `jobs.state.history.History`, and the console's pages are fetched from the
web app in this process. Figures printed: the history's Redis bytes (a day of counters, the
story stream, per story step), the worker CPU per recorded result, and each page's time (its
first render on a fresh app, and again warm). Target: first render under 300 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any, Final

import httpx
from redis.asyncio import Redis

from jobs.state.history import STORY_ENTRIES, History, minute_of
from jobs.state.keys import KeySpace
from jobs.state.ledger import Ledger
from settings import load_settings
from worker.embedded_redis import RedisServer
from worker.web import create_app

TOKEN: Final = "bench-console-token-0123456789"
FIRST_RENDER_TARGET_S: Final = 0.3
_EVENTS: Final = ("inquiry.approved", "inquiry.declined", "inquiry.completed", "job.failed")


async def _in_flight(ledger: Ledger, count: int) -> None:
    now = time.time()
    for start in range(0, count, 500):
        batch = range(start, min(start + 500, count))
        await asyncio.gather(*(ledger.open(f"req-{n}", "poll_inquiry", now) for n in batch))
        await asyncio.gather(
            *(
                ledger.follow(
                    f"inq_bench{n:08d}",
                    f"req-{n}",
                    reference_id=f"ref-{n}",
                    status="pending",
                    now=now - n,
                    first_due=now + 3_600,
                )
                for n in batch
            )
        )


async def _usage(redis: Redis, keys: list[str]) -> int:
    """Bytes the keys take (`MEMORY USAGE ... SAMPLES 0`: every element counted)."""
    async with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.memory_usage(key, samples=0)
        sizes = await pipe.execute()
    return sum(int(size or 0) for size in sizes)


async def _history(redis: Redis, keys: KeySpace, stories: int) -> dict[str, float]:
    history = History(redis, keys, stories=stories, flush_after_s=3_600)
    now = time.time()
    for minute in range(1_440):  # a busy day: every counter kind in every minute
        at = now - minute * 60
        for event in _EVENTS:
            history.count(f"ev:{event}", 40, at=at)
        for name in ("err:ApiTimeoutError", "err:UnprocessableError", "api:all", "api:2xx"):
            history.count(name, 200, at=at)
        for name in ("api:429", "api:4xx", "wh:fetch_enqueued", "wh:duplicate", "wh:refused"):
            history.count(name, 3, at=at)
        for bucket in range(8):
            history.count(f"lag:{bucket}", 5, at=at)
    await history.flush()
    minutes = [keys.history_minute(minute_of(now) - n) for n in range(1_440)]
    counters = await _usage(redis, minutes)
    cpu = time.process_time()
    for n in range(stories):
        history.result(
            "inquiry.approved",
            1,
            lag_s=4.0,
            inquiry_id=f"inq_bench{n % 10_000:08d}",
            request_ids=[f"req-{n % 10_000}"],
        )
        if n % 5_000 == 4_999:
            await history.flush()
    await history.flush()
    cpu_per_result = (time.process_time() - cpu) / stories
    cpu = time.process_time()
    for n in range(stories):
        history.step("check", "pending", inquiry_id=f"inq_bench{n % 10_000:08d}")
        if n % 5_000 == 4_999:
            await history.flush()
    cpu_per_step = (time.process_time() - cpu) / stories
    stream = await _usage(redis, [keys.history_stories])
    return {
        "counters_day_bytes": counters,
        "stories_bytes": stream,
        "bytes_per_story_step": stream / max(await redis.xlen(keys.history_stories), 1),
        "cpu_us_per_result": cpu_per_result * 1e6,
        "cpu_us_per_step": cpu_per_step * 1e6,
    }


async def _timed(client: httpx.AsyncClient, path: str) -> float:
    started = time.perf_counter()
    answer = await client.get(path, headers={"authorization": f"Bearer {TOKEN}"})
    elapsed = time.perf_counter() - started
    if answer.status_code != 200:
        raise SystemExit(f"{path}: {answer.status_code}")
    return elapsed


async def run(inquiries: int) -> dict[str, Any]:
    """Fill a private Redis, then measure; the figures."""
    server = RedisServer()
    server.start()
    try:
        settings = load_settings(
            persona_api_key="persona_sandbox_bench",
            redis_url=server.url,
            console_token=TOKEN,
            _env_file=None,
        )
        keys = KeySpace(settings.key_prefix)
        redis: Redis = Redis.from_url(server.url, decode_responses=True)
        ledger = Ledger(
            redis,
            keys,
            stream=settings.results_stream,
            maxlen=settings.results_stream_maxlen,
            answered_ttl_s=settings.record_ttl_s,
        )
        await _in_flight(ledger, inquiries)
        figures: dict[str, Any] = {"in_flight": await ledger.due_count()}
        figures |= await _history(redis, keys, STORY_ENTRIES)
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                for label, path in (
                    ("first_render_s", "/console/"),
                    ("warm_render_s", "/console/"),
                    ("now_partial_s", "/console/partial/now"),
                    ("charts_partial_s", "/console/partial/charts"),
                    ("day_render_s", "/console/?range=day"),
                    ("results_s", "/console/results"),
                    ("story_s", "/console/story?q=req-42"),
                ):
                    figures[label] = await _timed(client, path)
        await redis.aclose()
        return figures
    finally:
        server.cleanup()


def main() -> None:
    """Print the console's figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.console", description=__doc__)
    parser.add_argument("--inquiries", type=int, default=10_000)
    figures = asyncio.run(run(parser.parse_args().inquiries))
    for name, value in figures.items():
        print(f"{name:>22}: {value:,.4f}" if isinstance(value, float) else f"{name:>22}: {value:,}")
    verdict = "meets" if figures["first_render_s"] < FIRST_RENDER_TARGET_S else "MISSES"
    print(f"first render {verdict} the {FIRST_RENDER_TARGET_S * 1000:.0f} ms target")


if __name__ == "__main__":
    main()

"""Waiting on the pipeline from outside: results on the stream, a settled queue, in-flight counts.

The benchmark never sleeps for a fixed time to let the pipeline finish: it watches the results
stream and arq's queue, with a deadline, so a run ends as soon as its work is done and a stuck
run fails with a message instead of hanging.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from jobs.state import keys

__all__ = ["Published", "read_results", "settle", "wait_for_results"]


@dataclass(frozen=True, slots=True)
class Published:
    """One entry of the results stream."""

    entry_ms: int
    """Redis's clock when the entry was added (the stream id's first part), unix ms."""
    event: str
    data: dict[str, Any]


async def read_results(redis: Redis, stream: str) -> list[Published]:
    """Every entry on the results stream, oldest first."""
    published: list[Published] = []
    cursor = "-"
    while True:
        batch = await redis.xrange(stream, min=cursor, count=5_000)
        if cursor != "-" and batch and batch[0][0] == cursor:
            batch = batch[1:]
        if not batch:
            return published
        for entry_id, fields in batch:
            published.append(
                Published(int(entry_id.split("-")[0]), fields["event"], json.loads(fields["data"]))
            )
        cursor = batch[-1][0]


async def wait_for_results(
    redis: Redis, stream: str, count: int, *, timeout_s: float, sample_inflight: bool = False
) -> int:
    """Wait until the stream holds `count` entries; return the peak of in-flight inquiries seen.

    Raises:
        TimeoutError: not all results arrived in time (the message says how many did).
    """
    deadline = time.monotonic() + timeout_s
    peak = 0
    while True:
        if sample_inflight:
            peak = max(peak, int(await redis.zcard(keys.INFLIGHT)))
        have = int(await redis.xlen(stream))
        if have >= count:
            return peak
        if time.monotonic() > deadline:
            raise TimeoutError(f"{have} of {count} results after {timeout_s:.0f}s")
        await asyncio.sleep(0.1)


async def settle(redis: Redis, queue: str, *, timeout_s: float = 30.0) -> None:
    """Wait until no job is due or running (finished cron jobs keep their key on purpose)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        due = await redis.zcount(queue, "-inf", int(time.time() * 1000))
        running = [
            key
            async for key in redis.scan_iter("arq:in-progress:*", count=1_000)
            if not key.startswith("arq:in-progress:sweep:")
        ]
        if due == 0 and not running:
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"the queue did not settle in {timeout_s:.0f}s")

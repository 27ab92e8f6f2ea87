"""Stopping an arq worker that runs inside another program's event loop (the demo, tests).

The `arq` CLI stops its worker with a signal. A program that runs `Worker.main()` as a task of
its own has no signal to send, and cancelling the task can cut a Redis call in half (a
half-used redis pipeline then warns when it is garbage-collected, more often the busier the
machine), while arq's `close()` cancels running jobs and then fails on gathering them,
skipping the shutdown hook. Instead the worker becomes a burst worker whose budget is spent:
it starts no more jobs, waits for the running ones and returns from `main()` by itself.
"""

from __future__ import annotations

import asyncio

from arq.worker import Worker

__all__ = ["stop_embedded"]


async def stop_embedded(worker: Worker, main: asyncio.Task[None], timeout_s: float) -> None:
    """Let the worker whose `main()` runs as `main` finish its running jobs, then close it.

    Raises:
        TimeoutError: the running jobs took longer than `timeout_s` (the worker is closed
            anyway, which cancels them).
    """
    worker.burst = True
    worker.max_burst_jobs = 0
    try:
        await asyncio.wait_for(main, timeout_s)
    finally:
        await worker.close()

"""Fixtures for the fault tests: a Redis of their own (it gets restarted), worker processes.

These tests kill and restart things, so they never touch the run's shared redis-server: each
gets a private one with AOF on (`appendfsync always`), on its own port. Worker processes run
the Procfile's command (`python -m worker.run`) and are ended by their own handle in the
fixture's `finally`, whatever the test did.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bench.chaos.stack import ROOT, WORKER_COMMAND, clean_env
from tests.conftest import TEST_API_KEY, TEST_TEMPLATE_ID, TEST_WEBHOOK_SECRET
from worker.embedded_redis import RedisServer

STREAM = "persona:results"
QUEUE = "persona:queue"


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A redis-server for this test only, with AOF, so it can be restarted without loss."""
    server = RedisServer(aof=True)
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
async def own_client(own_redis: RedisServer) -> AsyncIterator[Redis]:
    """A decoding client on the test's own Redis (it reconnects after a restart)."""
    client: Redis = Redis.from_url(own_redis.url, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


def settings_env(redis_url: str, api_url: str, **values: str) -> dict[str, str]:
    """The environment of a worker process for a test: fast polling, short timeouts."""
    env = clean_env(
        PERSONA_API_KEY=TEST_API_KEY,
        PERSONA_API_URL=api_url,
        PERSONA_TEMPLATE_ID=TEST_TEMPLATE_ID,
        PERSONA_WEBHOOK_SECRETS=TEST_WEBHOOK_SECRET,
        REDIS_URL=redis_url,
        POLL_MIN_INTERVAL_S="0.05",
        POLL_MAX_INTERVAL_S="0.2",
        # The status-check grid scaled like the intervals (the default is 10 s).
        POLL_ALIGN_S="0.05",
        HTTP_TIMEOUT_S="3",
        JOB_TIMEOUT_S="8",
        RATE_LIMIT_PER_MINUTE="60000",
        LOG_LEVEL="INFO",
    )
    env.update(values)
    return env


@dataclass
class Workers:
    """Worker processes started by one test, each stopped by its own handle at the end."""

    logs: Path
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, env: dict[str, str], argv: tuple[str, ...] = WORKER_COMMAND) -> Any:
        """Start one worker process; its output goes to a log file next to the others."""
        log = (self.logs / f"worker-{len(self.started) + 1}.log").open("wb")
        process = subprocess.Popen(
            list(argv), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        self.started.append(process)
        return process

    def log(self, process: subprocess.Popen[bytes]) -> str:
        """What one process wrote so far."""
        index = self.started.index(process) + 1
        return (self.logs / f"worker-{index}.log").read_text(errors="replace")

    @staticmethod
    def terminate(process: subprocess.Popen[bytes], timeout_s: float = 30.0) -> int:
        """SIGTERM one process (by its handle), wait for it, SIGKILL if it hangs; its status."""
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait(timeout=10)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    """Start worker processes in a test; every one still running is stopped afterwards."""
    started = Workers(tmp_path)
    try:
        yield started
    finally:
        for process in started.started:
            Workers.terminate(process)


async def wait_for(
    condition: Callable[[], Any], timeout_s: float, what: str, *, every_s: float = 0.05
) -> Any:
    """Await `condition()` (sync or async) until it is truthy; fail after `timeout_s`.

    A Redis error counts as "not yet": these tests restart Redis under the condition's feet.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            value = condition()
            if asyncio.iscoroutine(value):
                value = await value
        except (RedisError, OSError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(every_s)


async def results(client: Redis) -> list[dict[str, Any]]:
    """Every results-stream entry as `{"event", "inquiry_id", "data"}`, oldest first."""
    entries = await client.xrange(STREAM)
    return [
        {"event": f["event"], "inquiry_id": f.get("inquiry_id", ""), "data": json.loads(f["data"])}
        for _, f in entries
    ]


def answered(events: list[dict[str, Any]], request_id: str) -> list[dict[str, Any]]:
    """The events answering one request (a result's `request_id`, a failure's `job_id`)."""
    return [
        event
        for event in events
        if request_id in (event["data"].get("request_id"), event["data"].get("job_id"))
    ]


async def idle(client: Redis, queue: str = QUEUE) -> bool:
    """Whether no pipeline job is queued or running (the cron sweep aside): nothing more can
    be published until someone enqueues again."""
    queued = [job for job in await client.zrange(queue, 0, -1) if not job.startswith("sweep")]
    if queued:
        return False
    async for key in client.scan_iter(match="arq:in-progress:*"):
        if not key.removeprefix("arq:in-progress:").startswith("sweep"):
            return False
    return True

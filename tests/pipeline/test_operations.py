"""The worker as operators run it: `arq worker.WorkerSettings` with JSON logs and metrics on.

A real worker process (and a real `persona-sandbox` process) answers a job written in the wire
format; meanwhile `arq --check worker.WorkerSettings` (the health probe) succeeds, the metrics
port answers, and stderr holds JSON lines with the job's ids and none of the person's data.
Every process is ended by its own handle.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from redis.asyncio import Redis

from tests.conftest import TEST_API_KEY, TEST_TEMPLATE_ID
from worker.embedded_redis import RedisServer, free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PII = {"name-first": "Ermintrude", "email-address": "ermintrude@pii.test"}


def _stop(process: subprocess.Popen[Any]) -> int:
    """End a process this test started (by its own handle) and return its exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait(timeout=10)


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    process = subprocess.Popen(
        [str(BIN / "persona-sandbox"), "--port", "0", "--time-scale", "600", "--rate-limit", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        assert first_line.startswith("persona-sandbox serving "), first_line
        yield first_line.split()[-1]
    finally:
        _stop(process)
        if process.stdout is not None:
            process.stdout.close()


@pytest.fixture
def worker_env(sandbox_url: str, redis_server: RedisServer) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PERSONA_", "POLL_", "REDIS_", "LOG_", "METRICS_"))
    }
    env.update(
        PERSONA_API_KEY=TEST_API_KEY,
        PERSONA_API_URL=sandbox_url,
        PERSONA_TEMPLATE_ID=TEST_TEMPLATE_ID,
        REDIS_URL=redis_server.url,
        POLL_MIN_INTERVAL_S="0.05",
        POLL_MAX_INTERVAL_S="0.2",
        LOG_FORMAT="json",
        LOG_LEVEL="INFO",
        METRICS_PORT=str(free_port()),
    )
    return env


def _arq_check(env: dict[str, str]) -> int:
    done = subprocess.run(
        [str(BIN / "arq"), "--check", "worker.WorkerSettings"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        timeout=60,
        check=False,
    )
    return done.returncode


async def _key_written(redis: Redis, key: str, timeout_s: float = 30.0) -> None:
    """Wait until `key` exists, woken by Redis's keyspace notification for it (bounded)."""
    await redis.config_set("notify-keyspace-events", "K$")
    pubsub = redis.pubsub()
    await pubsub.subscribe(f"__keyspace@0__:{key}")
    try:
        if await redis.exists(key):
            return
        async with asyncio.timeout(timeout_s):
            async for message in pubsub.listen():
                if message["type"] == "message":
                    return
    finally:
        await pubsub.unsubscribe()
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        await redis.config_set("notify-keyspace-events", "")


async def test_health_check_metrics_and_json_logs_of_the_real_worker(
    worker_env: dict[str, str], decoded_redis: Redis, tmp_path: Path
) -> None:
    assert await asyncio.to_thread(_arq_check, worker_env) == 1, "no worker, no health"

    stderr_path = tmp_path / "worker.stderr"
    with stderr_path.open("w") as stderr:
        worker = _start_worker(worker_env, stderr)
        try:
            # arq writes its health record on the first heartbeat, then every 30 s.
            await _key_written(decoded_redis, "persona:queue:health-check")
            assert await asyncio.to_thread(_arq_check, worker_env) == 0

            await _enqueue_from_another_service(decoded_redis)
            answer = await decoded_redis.xread({"persona:results": "0-0"}, count=1, block=30_000)
            assert answer, "no result within 30 s"
            port = worker_env["METRICS_PORT"]
            async with httpx.AsyncClient() as client:
                scrape = await client.get(f"http://127.0.0.1:{port}/metrics")
        finally:
            code = _stop(worker)
    output = stderr_path.read_text()
    assert code == 0, output[-2_000:]
    assert await asyncio.to_thread(_arq_check, worker_env) == 1, "a stopped worker is unhealthy"

    assert scrape.status_code == 200
    assert 'persona_worker_jobs_total{job="create_inquiry",outcome="success"} 1.0' in scrape.text
    assert 'persona_worker_api_requests_total{operation="create-an-inquiry",' in scrape.text

    for value in (*PII.values(), TEST_API_KEY):
        assert value not in output
    # arq prints its first two lines before on_startup takes logging over; JSON from there on.
    lines = output.splitlines()
    first_json = next(i for i, line in enumerate(lines) if line.startswith("{"))
    assert first_json <= 2
    records = [json.loads(line) for line in lines[first_json:]]
    assert any(record["message"].startswith("worker ready") for record in records)
    started = [r for r in records if r.get("job") == "create_inquiry" and "→" in r["message"]]
    assert [r["job_id"] for r in started] == ["svc-9"]
    assert any(r.get("reference_id") == "user-9" for r in records)


def _start_worker(env: dict[str, str], stderr: IO[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(BIN / "arq"), "worker.WorkerSettings"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        text=True,
    )


async def _enqueue_from_another_service(redis: Redis) -> None:
    now_ms = int(time.time() * 1000)
    job = {
        "t": 1,
        "f": "create_inquiry",
        "a": [],
        "k": {
            "reference_id": "user-9",
            "fields": PII,
            "note": "sandbox-outcome=approved sandbox-after=30",
        },
        "et": now_ms,
    }
    await redis.set("arq:job:svc-9", json.dumps(job), nx=True, px=86_400_000)
    await redis.zadd("persona:queue", {"svc-9": now_ms})

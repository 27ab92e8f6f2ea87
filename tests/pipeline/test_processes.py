"""The deployed shape: `persona-sandbox` and `arq worker.WorkerSettings` as real processes.

A service that is not ours writes a `create_inquiry` job in the documented JSON wire format and
reads its one result from the stream; the processes are ended by their own ids afterwards.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from tests.conftest import TEST_API_KEY, TEST_TEMPLATE_ID
from worker.embedded_redis import RedisServer

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    """End a process this test started (by its own handle) and collect its stderr."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        _, stderr = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate(timeout=10)
    return process.returncode, stderr or ""


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    process = subprocess.Popen(
        [
            str(BIN / "persona-sandbox"),
            "--port",
            "0",
            "--time-scale",
            "600",
            "--rate-limit",
            "0",
            "--decision-after",
            "3600",
        ],
        stdout=subprocess.PIPE,
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


@pytest.fixture
def worker_process(sandbox_url: str, redis_server: RedisServer) -> Iterator[subprocess.Popen[str]]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PERSONA_", "POLL_", "REDIS_"))
    }
    env.update(
        PERSONA_API_KEY=TEST_API_KEY,
        PERSONA_API_URL=sandbox_url,
        PERSONA_TEMPLATE_ID=TEST_TEMPLATE_ID,
        REDIS_URL=redis_server.url,
        POLL_MIN_INTERVAL_S="0.05",
        POLL_MAX_INTERVAL_S="0.2",
    )
    process = subprocess.Popen(
        [str(BIN / "arq"), "worker.WorkerSettings"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        code, stderr = _stop(process)
        assert code == 0, stderr[-2_000:]


async def test_a_job_written_by_another_service_gets_one_result_from_the_real_processes(
    worker_process: subprocess.Popen[str], decoded_redis: Redis
) -> None:
    now_ms = int(time.time() * 1000)
    job = {
        "t": 1,
        "f": "create_inquiry",
        "a": [],
        "k": {"reference_id": "user-7", "note": "sandbox-outcome=declined sandbox-after=30"},
        "et": now_ms,
    }
    await decoded_redis.set("arq:job:svc-7", json.dumps(job), nx=True, px=86_400_000)
    await decoded_redis.zadd("persona:queue", {"svc-7": now_ms})

    answer = await decoded_redis.xread({"persona:results": "0-0"}, count=10, block=30_000)
    assert answer, "no result within 30 s"
    [[_, entries]] = answer
    [(_, fields)] = entries
    data = json.loads(fields["data"])
    assert (fields["event"], data["request_id"], data["reference_id"]) == (
        "inquiry.completed",
        "svc-7",
        "user-7",
    )
    assert {item["status"] for item in data["verifications"]} == {"passed", "failed"}
    assert worker_process.poll() is None, "the worker is still running"
    # A short wait for a second (wrong) event: there must be none.
    again = await decoded_redis.xread({"persona:results": entries[0][0]}, block=500)
    assert again == []

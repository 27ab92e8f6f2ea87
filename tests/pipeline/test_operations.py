"""The worker as operators run it: `arq worker.WorkerSettings` with JSON logs and metrics on.

A real worker process (and a real `persona-sandbox` process) answers a job written in the wire
format; meanwhile `arq --check worker.WorkerSettings` (the health probe) succeeds, the metrics
port answers, and its log holds JSON lines with the job's ids and none of the person's data.
Every process is ended by its own pid.
"""

from __future__ import annotations

import asyncio
import json
import subprocess

import httpx
import pytest
from redis.asyncio import Redis

from bench.processes import child_environment, console_script
from bench.stack import Stack
from jobs.state.results import wait_for
from tests.conftest import TEST_API_KEY
from tests.harness import write_job
from worker.embedded_redis import RedisServer, free_port

pytestmark = pytest.mark.slow

PII = {"name-first": "Ermintrude", "email-address": "ermintrude@pii.test"}


def _arq_check(stack: Stack, env: dict[str, str]) -> int:
    done = subprocess.run(
        [*console_script("arq"), "--check", "worker.WorkerSettings"],
        env=child_environment(env),
        cwd=stack.workdir,
        capture_output=True,
        timeout=60,
        check=False,
    )
    return done.returncode


async def test_health_check_metrics_and_json_logs_of_the_real_worker(
    stack: Stack, redis_server: RedisServer, decoded_redis: Redis
) -> None:
    sandbox = await stack.start_sandbox("sandbox", "--rate-limit", "0", time_scale=600)
    settings = stack.settings(
        redis_server.url,
        persona_api_url=sandbox.api_url,
        log_format="json",
        log_level="INFO",
        metrics_port=free_port(),
    )
    env = stack.env(settings)
    assert await asyncio.to_thread(_arq_check, stack, env) == 1, "no worker, no health"

    # Ready once arq wrote its health record (on the first heartbeat, then every 30 s).
    [worker] = await stack.start_workers("worker", settings, 1)
    assert await asyncio.to_thread(_arq_check, stack, env) == 0
    kwargs = {"reference_id": "user-9", "fields": PII, "note": "sandbox-outcome=approved"}
    await write_job(decoded_redis, "persona:queue", "svc-9", "create_inquiry", kwargs)
    # Bounded only to catch a hang: a loaded machine may take long to start the worker.
    await wait_for(decoded_redis, "persona:results", lambda event: True, timeout_s=60)
    async with httpx.AsyncClient() as client:
        scrape = await client.get(f"http://127.0.0.1:{settings.metrics_port}/metrics")
    [code] = await stack.stop([worker])

    output = worker.output()
    assert code == 0, output[-2_000:]
    assert await asyncio.to_thread(_arq_check, stack, env) == 1, "a stopped worker is unhealthy"

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

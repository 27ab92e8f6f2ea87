from __future__ import annotations

import os
import signal
import subprocess
import sys

import httpx
import pytest

from persona_sandbox import SandboxConfig, run_sandbox
from persona_sandbox.__main__ import build_config, parser
from tests.sandbox.support import HEADERS, create_body


async def test_run_sandbox_serves_on_a_real_port() -> None:
    async with run_sandbox(SandboxConfig(rate_limit_per_minute=0)) as sandbox:
        assert sandbox.url == f"http://127.0.0.1:{sandbox.port}/api/v1"
        async with httpx.AsyncClient(base_url=sandbox.url, headers=HEADERS) as client:
            created = await client.post("/inquiries", json=create_body())
            fetched = await client.get(f"/inquiries/{created.json()['data']['id']}")

        assert created.status_code == 201
        assert fetched.status_code == 200
        assert len(sandbox.state.inquiries) == 1
        assert sandbox.config.rate_limit_per_minute == 0
        assert sandbox.counters_json()["operations"]["create-an-inquiry"] == {"201": 1}


async def test_run_sandbox_stops_serving_on_exit() -> None:
    async with run_sandbox() as sandbox:
        url = sandbox.root_url

    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"{url}/_sandbox/health")


async def test_two_sandboxes_run_side_by_side() -> None:
    async with run_sandbox() as first, run_sandbox() as second:
        assert first.port != second.port
        async with httpx.AsyncClient(headers=HEADERS) as client:
            await client.post(f"{first.url}/inquiries", json=create_body())

        assert len(first.state.inquiries) == 1
        assert len(second.state.inquiries) == 0


def test_cli_arguments_build_the_config() -> None:
    args = parser().parse_args(
        [
            "--rate-limit", "120", "--time-scale", "60", "--outcome-mix", "approved=1",
            "--delay-range", "5,10", "--error-rate", "0.25", "--fault-operations",
            "create-an-inquiry", "--api-key", "persona_sandbox_cli",
        ]
    )  # fmt: skip

    config = build_config(args)

    assert config.rate_limit_per_minute == 120
    assert config.time_scale == 60
    assert dict(config.outcome_mix) == {"approved": 1.0}
    assert config.delay_range_s == (5.0, 10.0)
    assert config.faults.error_rate == 0.25
    assert config.faults.operations == frozenset({"create-an-inquiry"})
    assert config.api_key == "persona_sandbox_cli"


def test_cli_refuses_an_unknown_outcome() -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(["--outcome-mix", "teleported=1"])


def test_cli_serves_until_terminated() -> None:
    command = [sys.executable, "-m", "persona_sandbox", "--port", "0", "--rate-limit", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            url = process.stdout.readline().split()[-1]
            response = httpx.get(f"{url}/inquiries", headers=HEADERS, timeout=10)
        finally:
            os.kill(process.pid, signal.SIGTERM)
            process.wait(timeout=10)

    assert response.status_code == 200
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status reports it.
    assert process.returncode in (0, -signal.SIGTERM)

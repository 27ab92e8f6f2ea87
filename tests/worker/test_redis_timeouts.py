"""A Redis that accepts connections and never answers makes every Redis client fail in time.

Regression: no client the product made had a socket timeout (arq's `RedisSettings` cannot
even ask for one), so a Redis that stopped answering (a partition, a stuck or paused server)
hung a starting worker, every job's Redis command, the web process and the CLI for good.
The server here is a loopback socket that reads everything and answers nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Final

import pytest
from arq.worker import Worker
from redis.exceptions import TimeoutError as RedisTimeoutError

from jobs.context import CTX_KEY, JobContext
from jobs.producer import connect
from jobs.state.connections import RedisTimeouts, redis_client
from settings import Settings
from tests.conftest import TEST_API_KEY, TEST_TEMPLATE_ID
from tests.loopback import loopback_server
from worker import lifecycle
from worker.arq_settings import build_worker_settings
from worker.lifecycle import RESOURCES_KEY, SETTINGS_KEY, shutdown, startup
from worker.web import create_app

ROOT: Final = Path(__file__).resolve().parents[2]
#: The timeout the tests configure (the smallest the settings allow is just over 1 s).
SOCKET_TIMEOUT_S: Final = 1.2
#: Slack for the event loop and process start on a busy machine.
SLACK_S: Final = 1.5


async def _swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Take connections and commands and never answer one."""
    while await reader.read(4096):
        pass


@pytest.fixture
async def silent_url() -> AsyncIterator[str]:
    async with loopback_server(_swallow) as port:
        yield f"redis://127.0.0.1:{port}/0"


@pytest.fixture
def silent_settings(make_settings: Callable[..., Settings], silent_url: str) -> Settings:
    settings: Settings = make_settings(
        redis_url=silent_url, redis_socket_timeout_s=SOCKET_TIMEOUT_S, redis_connect_timeout_s=1
    )
    return settings


@contextlib.asynccontextmanager
async def _times_out_in_time() -> AsyncIterator[None]:
    """The body must raise redis-py's TimeoutError within the bound (the guard catches hangs)."""
    started = time.monotonic()
    async with asyncio.timeout(SOCKET_TIMEOUT_S + 8):
        with pytest.raises(RedisTimeoutError):
            yield
    assert time.monotonic() - started < SOCKET_TIMEOUT_S + SLACK_S


async def test_the_factory_client_times_out(silent_url: str) -> None:
    client = redis_client(silent_url, RedisTimeouts(0.3, 0.3, 0))
    started = time.monotonic()
    with pytest.raises(RedisTimeoutError):
        await client.get("anything")
    assert time.monotonic() - started < 0.3 + SLACK_S
    await client.aclose()


async def test_the_worker_startup_times_out_and_keeps_nothing(silent_settings: Settings) -> None:
    ctx: dict[str, Any] = {SETTINGS_KEY: silent_settings, "redis": None}
    async with _times_out_in_time():
        await startup(ctx)  # its first command: the eviction policy check
    assert RESOURCES_KEY not in ctx
    assert CTX_KEY not in ctx


async def test_a_job_context_command_times_out(
    silent_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_check(context: JobContext) -> None:
        """Start-up's own commands would time out first (the test above)."""

    monkeypatch.setattr(lifecycle, "prepare_redis", no_check)
    ctx: dict[str, Any] = {SETTINGS_KEY: silent_settings, "redis": None}
    await startup(ctx)
    context: JobContext = ctx[CTX_KEY]
    try:
        async with _times_out_in_time():
            await context.ledger.inquiry("inq_1")
    finally:
        await shutdown(ctx)


async def test_a_starting_worker_times_out(silent_settings: Settings) -> None:
    worker_settings = build_worker_settings(silent_settings, burst=True, handle_signals=False)
    worker = Worker(**{k: v for k, v in vars(worker_settings).items() if not k.startswith("_")})
    try:
        async with _times_out_in_time():
            await worker.main()
    finally:
        if worker._pool is not None:
            await worker._pool.aclose(close_connection_pool=True)


async def test_a_producer_connection_times_out(silent_url: str) -> None:
    timeouts = RedisTimeouts(SOCKET_TIMEOUT_S, 1, 0)
    async with _times_out_in_time():
        await connect(silent_url, queue_name="persona:queue", timeouts=timeouts)


async def test_the_web_process_times_out_at_start(silent_settings: Settings) -> None:
    app = create_app(silent_settings)
    async with _times_out_in_time(), app.router.lifespan_context(app):
        pass


async def test_the_cli_reports_the_timeout(silent_url: str) -> None:
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith("REDIS_")},
        "PERSONA_API_KEY": TEST_API_KEY,
        "PERSONA_TEMPLATE_ID": TEST_TEMPLATE_ID,
        "REDIS_URL": silent_url,
        "REDIS_SOCKET_TIMEOUT_S": str(SOCKET_TIMEOUT_S),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "worker.cli",
        "status",
        cwd="/",
        env={**env, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(30):
            _, stderr = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 3
    assert b"REDIS_URL: cannot reach Redis" in stderr

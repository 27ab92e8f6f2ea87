"""What the benchmark's scenarios share: their keys and base settings, pools, in-process workers.

The processes themselves are started by `bench.stack.Stack` (the harness the chaos run and the
process tests use too); this module holds what only the benchmark decides: the sandbox-only
credentials, the key prefix its pipelines use (so their queue is `bench:queue` and their
stream `bench:results`), and the quiet log level of its children.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any, Final

from arq.connections import ArqRedis
from arq.worker import Worker
from redis.asyncio import Redis

from bench.sandbox import SandboxProcess
from bench.stack import Stack
from jobs.producer import connect
from settings import Settings
from worker.arq_settings import build_worker_settings
from worker.arq_worker import create_worker

__all__ = [
    "API_KEY",
    "BASE_SETTINGS",
    "TEMPLATE_ID",
    "UNLIMITED",
    "WEBHOOK_SECRET",
    "in_process_worker",
    "open_stack",
    "pools",
    "start_pipeline",
]

#: A sandbox-only key: the sandbox accepts any `persona_sandbox_...` key.
API_KEY: Final = "persona_sandbox_bench0local0only"
TEMPLATE_ID: Final = "itmpl_BenchTemplate000000000000"
WEBHOOK_SECRET: Final = "wbhsec_bench0local0only"
#: The settings every scenario shares; each scenario adds its cadence and limits.
BASE_SETTINGS: Final[Mapping[str, Any]] = {
    "persona_api_key": API_KEY,
    "persona_template_id": TEMPLATE_ID,
    "key_prefix": "bench:",
    "log_level": "WARNING",
    "http_timeout_s": 10.0,
}
#: `RATE_LIMIT_PER_MINUTE` of runs our limiter must not slow down.
UNLIMITED: Final = 1_000_000


def open_stack() -> contextlib.AbstractAsyncContextManager[Stack]:
    """The benchmark's stack: its base settings, and sandboxes that sign with its secret."""
    return Stack.open(
        base=BASE_SETTINGS, sandbox_env={"PERSONA_SANDBOX_WEBHOOK_SECRETS": WEBHOOK_SECRET}
    )


async def start_pipeline(
    stack: Stack,
    name: str,
    *arguments: str,
    time_scale: float,
    overrides: Mapping[str, Any],
    **settings: Any,
) -> tuple[SandboxProcess, Settings]:
    """A Redis and a `persona-sandbox ARGUMENTS` of the stack's own, and settings on both.

    Args:
        overrides: the settings given on the command line (`--set`).
        settings: the scenario's own, which win over `overrides`; our limiter is open
            (`UNLIMITED`) unless they say otherwise.
    """
    server = await stack.start_redis()
    sandbox = await stack.start_sandbox(f"sandbox-{name}", *arguments, time_scale=time_scale)
    values = {**overrides, "rate_limit_per_minute": UNLIMITED, **settings}
    return sandbox, stack.settings(server.url, **values, persona_api_url=sandbox.api_url)


def in_process_worker(settings: Settings, **overrides: Any) -> Worker:
    """An arq `Worker` with the production settings for `settings`, built in this process."""
    options: dict[str, Any] = {"handle_signals": False, "job_completion_wait": 0}
    options.update(overrides)
    worker_settings = build_worker_settings(settings, **options)
    return create_worker(worker_settings)


@contextlib.asynccontextmanager
async def pools(settings: Settings) -> AsyncIterator[tuple[ArqRedis, Redis]]:
    """An arq pool for enqueueing and a decoding client for reading, both on the stack's Redis."""
    pool = await connect(str(settings.redis_url), queue_name=settings.queue_name)
    redis: Redis = Redis.from_url(str(settings.redis_url), decode_responses=True)
    try:
        yield pool, redis
    finally:
        await pool.aclose()
        await redis.aclose()

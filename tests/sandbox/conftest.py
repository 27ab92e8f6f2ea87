"""Fixtures: in-process sandboxes on a manual clock, reached through httpx.ASGITransport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack

import httpx
import pytest

from persona_sandbox import ManualClock, SandboxConfig, create_app, sandbox_of
from tests.sandbox.support import HEADERS, Harness

MakeHarness = Callable[..., Awaitable[Harness]]


@pytest.fixture
def clock() -> ManualClock:
    """Sandbox time that moves only when a test advances it."""
    return ManualClock()


@pytest.fixture
async def make_harness(clock: ManualClock) -> AsyncIterator[MakeHarness]:
    """Build sandboxes with a given config (rate limit off unless the config sets one)."""
    async with AsyncExitStack() as stack:

        async def build(config: SandboxConfig | None = None) -> Harness:
            app = create_app(config or SandboxConfig(rate_limit_per_minute=0), clock=clock)
            client = await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app),
                    base_url="http://sandbox.test/api/v1",
                    headers=HEADERS,
                )
            )
            return Harness(client, sandbox_of(app), clock)

        yield build


@pytest.fixture
async def harness(make_harness: MakeHarness) -> Harness:
    """A sandbox with the default configuration (rate limit off)."""
    return await make_harness()

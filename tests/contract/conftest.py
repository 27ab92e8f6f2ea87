"""Fixtures of the contract suite: a sandbox app on a manual clock, and the real client wired to
it through `ContractTransport`.

Each test gets its own sandbox (building one is cheap); the OpenAPI document is parsed once
per process by `tests.contract.openapi`, whatever the number of tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from jobs.context import persona_client, persona_http
from persona_sandbox import ManualClock, SandboxConfig, create_app, sandbox_of
from tests.conftest import TEST_API_KEY
from tests.contract.harness import ContractTransport, Rig

API_URL = "http://persona.test/api/v1"


RigFactory = Callable[..., Awaitable[Rig]]


@pytest.fixture
async def make_rig(make_settings: Any) -> AsyncIterator[RigFactory]:
    """Build rigs: `await make_rig(rate_limit_per_minute=2, api_key=..., client_key=...)`."""
    opened: list[httpx.AsyncClient] = []

    async def build(*, client_key: str = TEST_API_KEY, **config: Any) -> Rig:
        config.setdefault("api_key", TEST_API_KEY)
        config.setdefault("rate_limit_per_minute", 0)
        clock = ManualClock()
        app = create_app(SandboxConfig(**config), clock=clock)
        contract = ContractTransport(app)
        settings = make_settings(persona_api_key=client_key, persona_api_url=API_URL)
        http = persona_http(settings, transport=contract.transport)
        opened.append(http)
        client = persona_client(settings, http)
        return Rig(app, sandbox_of(app), clock, contract, client, http, client_key)

    yield build
    for http in opened:
        await http.aclose()


@pytest.fixture
async def rig(make_rig: RigFactory) -> Rig:
    """A sandbox with no rate limit, and the client."""
    return await make_rig()

"""Fixtures for the process-level tests: the web app with its lifespan, on the test Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from settings import Settings
from worker.embedded_redis import RedisServer
from worker.web import create_app


@pytest.fixture
def web_settings(make_settings: Any, redis_server: RedisServer) -> Settings:
    settings: Settings = make_settings(redis_url=redis_server.url, webhook_max_body_bytes=4096)
    return settings


@pytest.fixture
async def web_app(web_settings: Settings, redis: Any) -> AsyncIterator[Starlette]:
    app = create_app(web_settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def web(web_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=web_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://web.test") as client:
        yield client


#: The console's token in the console's tests.
CONSOLE_TOKEN = "console-token-for-tests-0123456789"


@pytest.fixture
def console_settings(make_settings: Any, redis_server: RedisServer) -> Settings:
    settings: Settings = make_settings(redis_url=redis_server.url, console_token=CONSOLE_TOKEN)
    return settings


@pytest.fixture
async def console(console_settings: Settings, redis: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the web app with the console on (no token sent unless a test adds it)."""
    app = create_app(console_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://web.test") as client:
            yield client

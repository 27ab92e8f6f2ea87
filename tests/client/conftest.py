"""Fixtures for the Persona client tests: a fake Persona behind `httpx.MockTransport`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from jobs.context import persona_client, persona_http
from jobs.persona.client import PersonaClient
from tests.client.fakes import API_KEY, BASE_URL, FakePersona


@pytest.fixture
def fake() -> FakePersona:
    return FakePersona()


@pytest.fixture
async def http(fake: FakePersona, make_settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(persona_api_key=API_KEY, persona_api_url=BASE_URL)
    async with persona_http(settings, transport=httpx.MockTransport(fake.handler)) as client:
        yield client


@pytest.fixture
def client(http: httpx.AsyncClient, make_settings: Any) -> PersonaClient:
    return persona_client(make_settings(persona_api_key=API_KEY), http)

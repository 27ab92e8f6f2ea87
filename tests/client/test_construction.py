from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from jobs.context import persona_client, persona_http
from jobs.persona.client import PersonaClient
from jobs.persona.errors import ClientSetupError
from tests.client.fakes import API_KEY, FakePersona, inquiry_resource


async def test_build_http_points_at_the_configured_api_root(make_settings: Any) -> None:
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(200, json={"data": inquiry_resource("inq_1")})

    settings = make_settings(persona_api_url="https://emulator.local:8443/api/v1/")
    async with persona_http(settings, transport=httpx.MockTransport(handler)) as http:
        await persona_client(settings, http).retrieve_inquiry("inq_1")
    assert str(seen[0]) == "https://emulator.local:8443/api/v1/inquiries/inq_1"


async def test_build_http_uses_the_configured_timeout(make_settings: Any) -> None:
    async with persona_http(make_settings(http_timeout_s=2.5)) as http:
        assert http.timeout == httpx.Timeout(2.5)


async def test_from_settings_pins_the_configured_version(make_settings: Any) -> None:
    fake = FakePersona()
    fake.add_inquiry(inquiry_resource("inq_1"))
    settings = make_settings(persona_api_key=API_KEY, persona_version="2025-10-27")
    async with persona_http(settings, transport=httpx.MockTransport(fake.handler)) as http:
        await persona_client(settings, http).retrieve_inquiry("inq_1")
    assert fake.last.headers["Persona-Version"] == "2025-10-27"


async def test_from_settings_carries_the_simulate_switch(make_settings: Any) -> None:
    fake = FakePersona()
    settings = make_settings(persona_allow_simulate=False)
    async with persona_http(settings, transport=httpx.MockTransport(fake.handler)) as http:
        client = persona_client(settings, http)
        with pytest.raises(ClientSetupError, match="turned off"):
            await client.simulate_actions("inq_1", [{"type": "start_inquiry"}], idempotency_key="k")
    assert fake.requests == []


async def test_an_empty_key_is_refused() -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(ClientSetupError, match="key is empty"):
            PersonaClient(http, api_key=SecretStr(""))


async def test_the_key_is_not_in_the_clients_repr() -> None:
    async with httpx.AsyncClient() as http:
        client = PersonaClient(http, api_key=SecretStr(API_KEY))
        assert API_KEY not in repr(client)
        assert API_KEY not in repr(vars(client))

"""The contract loop itself: a drift on either side of the client fails the call under test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jobs.persona.client import PersonaClient
from tests.conftest import TEST_API_KEY
from tests.contract.conftest import API_URL
from tests.contract.flows import TEMPLATE_ID, key
from tests.contract.harness import ContractTransport, Rig
from tests.contract.openapi import ContractError

_HEADERS = {
    "RateLimit-Limit": "300",
    "RateLimit-Remaining": "299",
    "RateLimit-Reset": "60",
    "Request-Id": "req_Drift",
    "Persona-Environment-Id": "env_Drift",
    "Persona-Organization-Id": "org_Drift",
}


async def _camel_case_inquiry(request: Request) -> JSONResponse:
    inquiry = {"type": "inquiry", "id": request.path_params["inquiry_id"]}
    inquiry["attributes"] = {"status": "approved", "createdAt": "2025-12-08T12:00:00.000Z"}
    return JSONResponse({"data": inquiry, "included": []}, headers=_HEADERS)


@pytest.fixture
async def drifting_client() -> AsyncIterator[PersonaClient]:
    app = Starlette(routes=[Route("/api/v1/inquiries/{inquiry_id}", _camel_case_inquiry)])
    transport = ContractTransport(app)
    async with httpx.AsyncClient(base_url=API_URL, transport=transport.transport) as http:
        yield PersonaClient(http, api_key=SecretStr(TEST_API_KEY))


async def test_response_drift_fails_the_client_call(drifting_client: PersonaClient) -> None:
    with pytest.raises(ContractError) as caught:
        await drifting_client.retrieve_inquiry("inq_Drift")
    fields = {problem.field for problem in caught.value.problems}
    assert "data.attributes.fields" in fields
    assert str(caught.value).startswith(
        "retrieve-an-inquiry response 200 to GET /api/v1/inquiries/inq_Drift breaks the contract"
    )


async def test_request_without_the_pinned_version_fails(rig: Rig) -> None:
    headers = {"Authorization": f"Bearer {rig.api_key}", "Key-Inflection": "kebab"}
    with pytest.raises(ContractError) as caught:
        await rig.http.get("/inquiries/inq_1", headers={**headers, "Accept": "application/json"})
    assert [(p.part, p.field) for p in caught.value.problems] == [("header", "Persona-Version")]


async def test_request_with_another_inflection_fails(rig: Rig) -> None:
    headers = {
        "Authorization": f"Bearer {rig.api_key}",
        "Persona-Version": "2025-12-08",
        "Key-Inflection": "camel",
        "Accept": "application/json",
    }
    with pytest.raises(ContractError) as caught:
        await rig.http.get("/inquiries/inq_1", headers=headers)
    assert [(p.part, p.field) for p in caught.value.problems] == [("header", "Key-Inflection")]


async def test_post_without_an_idempotency_key_fails(rig: Rig) -> None:
    body = {"data": {"attributes": {"inquiry-template-id": TEMPLATE_ID}}}
    with pytest.raises(ContractError) as caught:
        await rig.request("POST", "/inquiries", json=body)
    assert [(p.part, p.field) for p in caught.value.problems] == [("header", "Idempotency-Key")]


async def test_a_refused_request_never_reaches_the_sandbox(rig: Rig) -> None:
    with pytest.raises(ContractError):
        await rig.request("POST", "/inquiries", json={"data": {}})
    assert rig.contract.exchanges == []
    assert rig.sandbox.state.inquiries == {}


async def test_every_exchange_is_recorded_with_its_operation(rig: Rig) -> None:
    created = await rig.client.create_inquiry(template_id=TEMPLATE_ID, idempotency_key=key())
    await rig.client.retrieve_inquiry(created.data.id)
    assert rig.contract.operations() == ["create-an-inquiry", "retrieve-an-inquiry"]

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from jobs.persona.client import PersonaClient
from tests.client.fakes import API_KEY, PREFIX, FakePersona
from tests.client.operations import (
    MUTATIONS,
    OPERATIONS,
    READS,
    WITHOUT_BODY,
    Operation,
    op_id,
    seed,
)

KEY = "create_inquiry:job-42:1"


@pytest.fixture(autouse=True)
def _seeded(fake: FakePersona) -> None:
    seed(fake)


@pytest.mark.parametrize("op", OPERATIONS, ids=op_id)
async def test_each_operation_uses_its_method_and_path(
    client: PersonaClient, fake: FakePersona, op: Operation
) -> None:
    await op.call(client, KEY)
    assert (fake.last.method, fake.last.url.path) == (op.method, PREFIX + op.path)


@pytest.mark.parametrize("op", OPERATIONS, ids=op_id)
async def test_every_request_sends_key_pinned_version_inflection_and_accept(
    client: PersonaClient, fake: FakePersona, op: Operation
) -> None:
    await op.call(client, KEY)
    headers = fake.last.headers
    assert headers["Authorization"] == f"Bearer {API_KEY}"
    assert headers["Persona-Version"] == "2025-12-08"
    assert headers["Key-Inflection"] == "kebab"
    assert headers["Accept"] == "application/json"


@pytest.mark.parametrize("op", MUTATIONS, ids=op_id)
async def test_every_post_and_delete_sends_the_callers_idempotency_key(
    client: PersonaClient, fake: FakePersona, op: Operation
) -> None:
    await op.call(client, KEY)
    assert fake.last.headers["Idempotency-Key"] == KEY


@pytest.mark.parametrize("op", READS, ids=op_id)
async def test_reads_never_send_an_idempotency_key(
    client: PersonaClient, fake: FakePersona, op: Operation
) -> None:
    await op.call(client, KEY)
    assert "Idempotency-Key" not in fake.last.headers


@pytest.mark.parametrize("op", MUTATIONS, ids=op_id)
@pytest.mark.parametrize("bad_key", ["", "   ", "naïve-key", "line\nbreak"])
async def test_unusable_idempotency_key_is_refused_before_any_request(
    client: PersonaClient, fake: FakePersona, op: Operation, bad_key: str
) -> None:
    with pytest.raises(ValueError, match="idempotency_key"):
        await op.call(client, bad_key)
    assert fake.requests == []


async def test_content_type_is_sent_with_a_body(client: PersonaClient, fake: FakePersona) -> None:
    await client.approve_inquiry("inq_seeded0001", idempotency_key=KEY, comment="ok")
    assert fake.last.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("op", WITHOUT_BODY, ids=op_id)
async def test_requests_without_a_body_send_no_content_type(
    client: PersonaClient, fake: FakePersona, op: Operation
) -> None:
    await op.call(client, KEY)
    assert fake.last.content == b""
    assert "Content-Type" not in fake.last.headers


async def test_the_pinned_version_is_the_one_the_client_was_given(
    http: httpx.AsyncClient, fake: FakePersona
) -> None:
    client = PersonaClient(http, api_key=SecretStr(API_KEY), version="2025-10-27")
    await client.retrieve_inquiry("inq_seeded0001")
    assert fake.last.headers["Persona-Version"] == "2025-10-27"

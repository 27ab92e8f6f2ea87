"""create-an-inquiry: every request shape the client builds, and the sandbox's 201 answers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.contract.flows import TEMPLATE_ID, key
from tests.contract.harness import Rig


def sent_body(rig: Rig) -> dict[str, Any]:
    body = json.loads(rig.contract.last().request.content)
    assert isinstance(body, dict)
    return body


@pytest.mark.parametrize(
    ("template_id", "attribute", "relationship"),
    [
        ("itmpl_ContractTemplate01", "inquiry-template-id", "inquiry-template"),
        ("itmplv_ContractVersion01", "inquiry-template-version-id", "inquiry-template-version"),
        ("tmpl_ContractLegacy01", "template-id", "template"),
    ],
)
async def test_each_template_id_kind_keeps_the_contract(
    rig: Rig, template_id: str, attribute: str, relationship: str
) -> None:
    created = await rig.client.create_inquiry(template_id=template_id, idempotency_key=key())
    assert sent_body(rig)["data"]["attributes"] == {attribute: template_id}
    assert rig.contract.last().response.status_code == 201
    assert created.data.relationships[relationship].ids() == [template_id]


@pytest.mark.parametrize(
    ("one_time_link", "session_token"),
    [(True, False), (False, True), (True, True), (False, False)],
)
async def test_meta_link_and_session_token_keep_the_contract(
    rig: Rig, one_time_link: bool, session_token: bool
) -> None:
    created = await rig.client.create_inquiry(
        template_id=TEMPLATE_ID,
        idempotency_key=key(),
        one_time_link=one_time_link,
        session_token=session_token,
    )
    meta = sent_body(rig)["meta"]
    assert meta["auto-create-one-time-link"] is one_time_link
    assert meta["auto-create-inquiry-session"] is session_token
    assert created.meta is not None
    assert (created.meta.one_time_link is not None) is one_time_link
    assert (created.meta.one_time_link_short is not None) is one_time_link
    assert (created.meta.session_token is not None) is session_token


@pytest.mark.parametrize(
    "fields",
    [
        {"name-first": "Jane", "name-last": "Doe"},
        {"birthdate": "1994-04-12", "address-country-code": "GB"},
        {"email-address": None, "custom-score": 7, "custom-flag": True},
        {"custom-list": ["a", "b"], "custom-hash": {"nested": "value"}},
    ],
)
async def test_fields_keep_the_contract(rig: Rig, fields: dict[str, Any]) -> None:
    created = await rig.client.create_inquiry(
        template_id=TEMPLATE_ID, idempotency_key=key(), fields=fields
    )
    assert sent_body(rig)["data"]["attributes"]["fields"] == fields
    returned = {name: created.data.attributes.fields[name].value for name in fields}
    assert returned == fields


async def test_every_optional_attribute_keeps_the_contract(rig: Rig) -> None:
    first = await rig.client.create_inquiry(
        template_id=TEMPLATE_ID, idempotency_key=key(), reference_id="user-contract-1"
    )
    account_id = first.data.account_id
    assert account_id is not None
    created = await rig.client.create_inquiry(
        template_id=TEMPLATE_ID,
        idempotency_key=key(),
        reference_id="user-contract-1",
        account_id=account_id,
        note="contract note",
        tags=["vip", "contract"],
        redirect_uri="https://example.test/done",
        expires_in_s=3600,
    )
    body = sent_body(rig)
    assert body["meta"]["auto-create-account-reference-id"] == "user-contract-1"
    assert body["meta"]["expiration-after-create-interval-seconds"] == 3600
    assert "reference-id" not in body["data"]["attributes"]
    assert created.data.attributes.reference_id == "user-contract-1"
    assert created.data.attributes.tags == ["vip", "contract"]
    assert created.data.account_id == account_id


async def test_reference_id_attaches_one_account(rig: Rig) -> None:
    first = await rig.client.create_inquiry(
        template_id=TEMPLATE_ID, idempotency_key=key(), reference_id="user-contract-2"
    )
    second = await rig.client.create_inquiry(
        template_id=TEMPLATE_ID, idempotency_key=key(), reference_id="user-contract-2"
    )
    assert first.data.account_id is not None
    assert second.data.account_id == first.data.account_id


async def test_created_inquiry_has_no_included_objects(rig: Rig) -> None:
    await rig.client.create_inquiry(template_id=TEMPLATE_ID, idempotency_key=key())
    assert json.loads(rig.contract.last().response.content)["included"] == []


async def test_replayed_create_keeps_the_contract(rig: Rig) -> None:
    reused = key()
    first = await rig.client.create_inquiry(
        template_id=TEMPLATE_ID, idempotency_key=reused, reference_id="user-contract-3"
    )
    again = await rig.client.create_inquiry(
        template_id=TEMPLATE_ID, idempotency_key=reused, reference_id="user-contract-3"
    )
    assert again.data.id == first.data.id
    assert [exchange.response.status_code for exchange in rig.contract.exchanges] == [201, 201]

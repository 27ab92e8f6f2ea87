"""retrieve-a-verification, the case operations and the account relations."""

from __future__ import annotations

import json

import pytest

from tests.contract.flows import create_with_outcome, inquiry_in, key
from tests.contract.harness import Rig


async def verification_ids(rig: Rig, state: str) -> list[str]:
    inquiry_id = await inquiry_in(rig, state)
    document = await rig.client.retrieve_inquiry(inquiry_id, include=("verifications",))
    return [verification.id for verification in document.verifications()]


@pytest.mark.parametrize(
    ("state", "statuses"),
    [
        ("pending", ["initiated"]),
        ("approved", ["passed", "passed"]),
        ("failed", ["failed", "passed"]),
        ("declined", ["passed", "failed"]),
        ("redacted", ["passed", "passed"]),
    ],
)
async def test_retrieve_verification_keeps_the_contract(
    rig: Rig, state: str, statuses: list[str]
) -> None:
    found = [
        await rig.client.retrieve_verification(verification_id)
        for verification_id in await verification_ids(rig, state)
    ]
    assert [document.data.attributes.status for document in found] == statuses
    assert rig.contract.operations()[-len(statuses) :] == ["retrieve-a-verification"] * len(
        statuses
    )


async def test_canceled_verification_keeps_the_contract(rig: Rig) -> None:
    inquiry_id = await inquiry_in(rig, "pending")
    await rig.client.expire_inquiry(inquiry_id, idempotency_key=key())
    document = await rig.client.retrieve_inquiry(inquiry_id, include=("verifications",))
    (verification,) = document.verifications()
    again = await rig.client.retrieve_verification(verification.id)
    assert again.data.attributes.status == "canceled"


@pytest.mark.parametrize("template", ["vtmpl_Selfie02", "vtmpl_Database02", "vtmpl_Gov02"])
async def test_simulated_verification_retrieved_alone_keeps_the_contract(
    rig: Rig, template: str
) -> None:
    inquiry_id = await inquiry_in(rig, "created")
    action = {"type": "create_passed_verification", "data": {"verification-template-id": template}}
    simulated = await rig.client.simulate_actions(inquiry_id, [action], idempotency_key=key())
    (verification_id,) = simulated.data.relationships["verifications"].ids()
    document = await rig.client.retrieve_verification(verification_id)
    assert document.data.attributes.status == "passed"


async def open_case(rig: Rig, object_ids: list[str]) -> str:
    response = await rig.request(
        "POST",
        "/cases",
        json={
            "data": {"attributes": {"case-template-id": "ctmpl_Contract01"}},
            "meta": {"object-ids": object_ids},
        },
        idempotency_key=key(),
    )
    assert response.status_code == 201
    case_id = response.json()["data"]["id"]
    assert isinstance(case_id, str)
    return case_id


async def test_create_a_case_with_every_attribute_keeps_the_contract(rig: Rig) -> None:
    inquiry = await create_with_outcome(rig, "approved", reference_id="user-case-1")
    response = await rig.request(
        "POST",
        "/cases",
        json={
            "data": {
                "attributes": {
                    "case-template-id": "ctmpl_Contract01",
                    "case-queue-id": "cqueue_Contract01",
                    "creator-email-address": "reviewer@example.test",
                    "fields": {"reason": "contract"},
                }
            },
            "meta": {"object-ids": [inquiry.data.id], "sla-expires-in-seconds": 3600},
        },
        idempotency_key=key(),
    )
    assert response.status_code == 201
    assert rig.contract.last().operation == "create-a-case"


async def test_retrieve_case_with_attached_objects_keeps_the_contract(rig: Rig) -> None:
    inquiry = await create_with_outcome(rig, "approved", reference_id="user-case-2")
    rig.advance(100)
    document = await rig.client.retrieve_inquiry(inquiry.data.id, include=("verifications",))
    account_id = document.data.account_id
    assert account_id is not None
    attached = [inquiry.data.id, account_id, *(ver.id for ver in document.verifications())]
    case_id = await open_case(rig, attached)
    case = await rig.client.retrieve_case(case_id)
    assert case.id == case_id
    assert case.attributes.status == "Open"


@pytest.mark.parametrize(
    ("status", "resolved"),
    [("Approved", True), ("Declined", True), ("Pending", False), ("Open", False)],
)
async def test_set_case_status_keeps_the_contract(rig: Rig, status: str, resolved: bool) -> None:
    case_id = await open_case(rig, [])
    case = await rig.client.set_case_status(case_id, status, idempotency_key=key())
    assert rig.contract.last().request.content == b'{"meta":{"status":"%s"}}' % status.encode()
    assert case.attributes.status == status
    assert (case.attributes.resolved_at is not None) is resolved


async def account_of(rig: Rig, reference_id: str) -> str:
    created = await create_with_outcome(rig, "approved", reference_id=reference_id)
    assert created.data.account_id is not None
    return created.data.account_id


async def test_add_relation_keeps_the_contract(rig: Rig) -> None:
    account_id = await account_of(rig, "user-rel-1")
    target_id = await account_of(rig, "user-rel-2")
    account = await rig.client.add_account_relation(
        account_id, relation_key="household", target_id=target_id, idempotency_key=key()
    )
    assert account.id == account_id
    assert json.loads(rig.contract.last().request.content) == {
        "meta": {"relation-schema-key": "household", "target-object-id": target_id}
    }


async def related(rig: Rig, reference_id: str, count: int) -> tuple[str, list[str]]:
    account_id = await account_of(rig, reference_id)
    targets = [await account_of(rig, f"{reference_id}-target-{n}") for n in range(count)]
    for target_id in targets:
        await rig.client.add_account_relation(
            account_id, relation_key="household", target_id=target_id, idempotency_key=key()
        )
    return account_id, targets


async def test_list_relations_keeps_the_contract(rig: Rig) -> None:
    account_id, targets = await related(rig, "user-rel-3", 3)
    page = await rig.client.list_account_relations(account_id, key="household")
    assert rig.contract.last().request.url.params["filter[key]"] == "household"
    assert [item["id"] for item in page.data] == list(reversed(targets))
    assert (page.links.prev, page.links.next) == (None, None)


async def test_list_relations_under_an_unused_key_keeps_the_contract(rig: Rig) -> None:
    account_id = await account_of(rig, "user-rel-4")
    page = await rig.client.list_account_relations(account_id, key="employer")
    assert page.data == []

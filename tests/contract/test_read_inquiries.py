"""retrieve-an-inquiry and list-all-inquiries: every status, with and without verifications."""

from __future__ import annotations

import json

import pytest

from tests.contract.flows import INQUIRY_STATES, create_with_outcome, inquiry_in
from tests.contract.harness import Rig

_VERIFICATIONS_BY_STATE = {
    "created": set(),
    "pending": {"initiated"},
    "completed": {"passed"},
    "failed": {"failed", "passed"},
    "expired": set(),
    "needs_review": {"passed"},
    "approved": {"passed"},
    "declined": {"passed", "failed"},
    "redacted": {"passed"},
}


@pytest.mark.parametrize("state", INQUIRY_STATES)
async def test_retrieve_with_verifications_keeps_the_contract(rig: Rig, state: str) -> None:
    inquiry_id = await inquiry_in(rig, state)
    document = await rig.client.retrieve_inquiry(inquiry_id, include=("verifications",))
    assert rig.contract.last().request.url.params["include"] == "verifications"
    expected_status = "approved" if state == "redacted" else state
    assert document.data.status == expected_status
    assert {ver.attributes.status for ver in document.verifications()} == (
        _VERIFICATIONS_BY_STATE[state]
    )


@pytest.mark.parametrize("state", INQUIRY_STATES)
async def test_retrieve_without_include_keeps_the_contract(rig: Rig, state: str) -> None:
    inquiry_id = await inquiry_in(rig, state)
    await rig.client.retrieve_inquiry(inquiry_id)
    exchange = rig.contract.last()
    assert "include" not in exchange.request.url.params
    assert json.loads(exchange.response.content)["included"] == []


async def test_included_account_keeps_the_contract(rig: Rig) -> None:
    created = await create_with_outcome(rig, "approved", reference_id="user-include-1")
    rig.advance(100)
    document = await rig.client.retrieve_inquiry(
        created.data.id, include=("verifications", "account")
    )
    assert rig.contract.last().request.url.params["include"] == "verifications,account"
    kinds = sorted(str(item["type"]) for item in document.included)
    assert kinds == ["account", "verification/government-id", "verification/selfie"]


async def test_redacted_inquiry_shows_redaction_in_the_contract_shape(rig: Rig) -> None:
    inquiry_id = await inquiry_in(rig, "redacted")
    document = await rig.client.retrieve_inquiry(inquiry_id, include=("verifications",))
    assert document.data.attributes.redacted_at is not None
    assert document.data.attributes.fields["name-first"].value is None


async def test_list_by_inquiry_ids_keeps_the_contract(rig: Rig) -> None:
    ids = [await inquiry_in(rig, state) for state in ("created", "approved", "declined")]
    page = await rig.client.list_inquiries(inquiry_ids=ids)
    assert rig.contract.last().request.url.params["filter[inquiry-id]"] == ",".join(ids)
    assert sorted(inquiry.id for inquiry in page.data) == sorted(ids)


async def test_list_by_reference_id_keeps_the_contract(rig: Rig) -> None:
    mine = await create_with_outcome(rig, "approved", reference_id="user-list-1")
    await create_with_outcome(rig, "approved", reference_id="user-list-2")
    page = await rig.client.list_inquiries(reference_id="user-list-1")
    assert [inquiry.id for inquiry in page.data] == [mine.data.id]


async def test_list_by_statuses_keeps_the_contract(rig: Rig) -> None:
    approved = await inquiry_in(rig, "approved")
    declined = await inquiry_in(rig, "declined")
    await inquiry_in(rig, "created")
    page = await rig.client.list_inquiries(statuses=["approved", "declined"])
    assert rig.contract.last().request.url.params["filter[status]"] == "approved,declined"
    assert {inquiry.id for inquiry in page.data} == {approved, declined}


async def test_list_with_no_match_keeps_the_contract(rig: Rig) -> None:
    page = await rig.client.list_inquiries(reference_id="nobody")
    assert page.data == []
    assert (page.links.prev, page.links.next) == (None, None)


async def test_list_pages_keep_the_contract(rig: Rig) -> None:
    created = [
        (await create_with_outcome(rig, "approved", reference_id="user-pages")).data.id
        for _ in range(5)
    ]
    seen: list[str] = []
    after: str | None = None
    for _ in range(3):
        page = await rig.client.list_inquiries(reference_id="user-pages", page_size=2, after=after)
        seen.extend(inquiry.id for inquiry in page.data)
        if page.links.next is None:
            break
        after = page.data[-1].id
    assert seen == list(reversed(created))
    sizes = [exchange.request.url.params["page[size]"] for exchange in rig.contract.exchanges[5:]]
    assert sizes == ["2", "2", "2"]


async def test_list_by_ids_and_statuses_together_keeps_the_contract(rig: Rig) -> None:
    approved = await inquiry_in(rig, "approved")
    pending = await inquiry_in(rig, "pending")
    page = await rig.client.list_inquiries(
        inquiry_ids=[approved, pending], statuses=["pending"], page_size=100
    )
    assert [inquiry.id for inquiry in page.data] == [pending]

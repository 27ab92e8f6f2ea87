"""create-a-report and retrieve-a-report: the client's requests and the sandbox's answers keep
Persona's schemas, for each report type, pending, ready (with and without a match) and errored.

The sandbox's rule (`persona_sandbox.report_rules`): a report ends `report_after_s` (10 s)
after its creation; `Sanctioned`, `Exposed` or `Newsworthy` in the query's names make the
watchlist, PEP or adverse-media report match, `Unscreenable` makes any report error.
"""

from __future__ import annotations

import pytest

from jobs.errors import BadRequestError, NotFoundError
from tests.contract.flows import key
from tests.contract.harness import Rig

QUERIES = {
    "watchlist": {
        "name-first": "Ada",
        "name-last": "Sanctioned",
        "birthdate": "1980-02-03",
        "address-country-code": "GB",
    },
    "politically-exposed-person": {
        "name-first": "Ada",
        "name-last": "Exposed",
        "birthdate": "1980-02-03",
        "country-code": "GB",
    },
    "adverse-media": {
        "term": "Ada Newsworthy",
        "birthdate": "1980-02-03",
        "country-code": "GB",
    },
}
TYPES = list(QUERIES)


@pytest.mark.parametrize("report_type", TYPES)
async def test_a_created_report_is_pending_and_keeps_the_contract(
    rig: Rig, report_type: str
) -> None:
    document = await rig.client.create_report(
        report_type=report_type,
        query=QUERIES[report_type],
        idempotency_key=key(),
        reference_id="user-report-1",
    )
    assert (document.data.type, document.data.status) == (f"report/{report_type}", "pending")
    assert rig.contract.operations() == ["create-a-report"]
    assert rig.contract.last().response.status_code == 201


@pytest.mark.parametrize("report_type", TYPES)
async def test_a_ready_report_that_matches_keeps_the_contract(rig: Rig, report_type: str) -> None:
    created = await rig.client.create_report(
        report_type=report_type,
        query=QUERIES[report_type],
        idempotency_key=key(),
        reference_id="user-report-2",
        report_template_id="rptp_Contract01",
    )
    rig.advance(11)
    document = await rig.client.retrieve_report(created.data.id)
    attributes = document.data.attributes
    assert (attributes.status, attributes.has_match) == ("ready", True)
    assert rig.contract.operations() == ["create-a-report", "retrieve-a-report"]


@pytest.mark.parametrize("report_type", TYPES)
async def test_a_ready_report_without_a_match_keeps_the_contract(
    rig: Rig, report_type: str
) -> None:
    account = rig.sandbox.state.account_by_reference("user-report-3", rig.clock.now())
    created = await rig.client.create_report(
        report_type=report_type,
        query={"name-first": "Plain", "name-last": "Person"},
        idempotency_key=key(),
        account_id=account.id,
    )
    rig.advance(11)
    document = await rig.client.retrieve_report(created.data.id)
    assert (document.data.attributes.status, document.data.attributes.has_match) == (
        "ready",
        False,
    )
    assert document.data.relationships["account"].ids() == [account.id]


async def test_an_errored_report_keeps_the_contract(rig: Rig) -> None:
    created = await rig.client.create_report(
        report_type="watchlist",
        query={"name-last": "Unscreenable"},
        idempotency_key=key(),
        reference_id="user-report-4",
    )
    rig.advance(11)
    document = await rig.client.retrieve_report(created.data.id)
    assert document.data.attributes.status == "errored"


async def test_the_same_key_creates_one_report(rig: Rig) -> None:
    same = key()
    first = await rig.client.create_report(
        report_type="watchlist", query={"term": "A B"}, idempotency_key=same, reference_id="u-5"
    )
    again = await rig.client.create_report(
        report_type="watchlist", query={"term": "A B"}, idempotency_key=same, reference_id="u-5"
    )
    assert again.data.id == first.data.id
    assert list(rig.sandbox.state.reports) == [first.data.id]


async def test_a_query_without_a_name_is_refused(rig: Rig) -> None:
    with pytest.raises(BadRequestError) as caught:
        await rig.client.create_report(
            report_type="watchlist",
            query={"birthdate": "1980-02-03"},
            idempotency_key=key(),
            reference_id="u-6",
        )
    assert caught.value.status_code == 400


async def test_an_unknown_report_is_a_404_that_keeps_the_contract(rig: Rig) -> None:
    with pytest.raises(NotFoundError):
        await rig.client.retrieve_report("rep_Unknown000000000000001")
    assert rig.contract.last().response.status_code == 404

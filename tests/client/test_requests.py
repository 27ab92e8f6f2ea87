from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from jobs.persona.client import PersonaClient
from jobs.persona.errors import ClientSetupError, NotFoundError
from tests.client.fakes import API_KEY, PREFIX, FakePersona
from tests.client.operations import INQUIRY_ID, TEMPLATE_ID, seed

KEY = "job-7:attempt-1"


@pytest.fixture(autouse=True)
def _seeded(fake: FakePersona) -> None:
    seed(fake)


# --- create-an-inquiry ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template_id", "attribute"),
    [
        ("itmpl_abc123", "inquiry-template-id"),
        ("itmplv_abc123", "inquiry-template-version-id"),
        ("tmpl_abc123", "template-id"),
    ],
)
async def test_each_template_id_kind_goes_to_its_own_attribute(
    client: PersonaClient, fake: FakePersona, template_id: str, attribute: str
) -> None:
    await client.create_inquiry(template_id=template_id, idempotency_key=KEY)
    assert fake.last_body()["data"]["attributes"] == {attribute: template_id}


@pytest.mark.parametrize(
    "template_id", ["", "itmpl_", "ITMPL_abc", "itmplabc", "vtmpl_abc", "inq_abc", " itmpl_abc"]
)
async def test_a_bad_template_id_is_refused_before_any_request(
    client: PersonaClient, fake: FakePersona, template_id: str
) -> None:
    with pytest.raises(ValueError, match="template_id"):
        await client.create_inquiry(template_id=template_id, idempotency_key=KEY)
    assert fake.requests == []


async def test_reference_id_goes_to_meta_auto_create_account_reference_id(
    client: PersonaClient, fake: FakePersona
) -> None:
    await client.create_inquiry(template_id=TEMPLATE_ID, idempotency_key=KEY, reference_id="usr_9")
    body = fake.last_body()
    assert body["meta"]["auto-create-account-reference-id"] == "usr_9"
    assert "reference-id" not in body["data"]["attributes"]


async def test_create_with_defaults_sends_only_the_template_and_link_switches(
    client: PersonaClient, fake: FakePersona
) -> None:
    await client.create_inquiry(template_id=TEMPLATE_ID, idempotency_key=KEY)
    assert fake.last_body() == {
        "data": {"attributes": {"inquiry-template-id": TEMPLATE_ID}},
        "meta": {"auto-create-one-time-link": True, "auto-create-inquiry-session": False},
    }


async def test_create_with_every_option_sends_each_under_its_documented_key(
    client: PersonaClient, fake: FakePersona
) -> None:
    await client.create_inquiry(
        template_id="itmplv_version1",
        idempotency_key=KEY,
        reference_id="usr_9",
        fields={"name-first": "Jane", "birthdate": "1994-04-12"},
        account_id="act_123",
        note="vip",
        tags=("onboarding", "eu"),
        redirect_uri="https://example.com/done",
        one_time_link=False,
        session_token=True,
        expires_in_s=3600,
    )
    assert fake.last_body() == {
        "data": {
            "attributes": {
                "inquiry-template-version-id": "itmplv_version1",
                "account-id": "act_123",
                "note": "vip",
                "redirect-uri": "https://example.com/done",
                "tags": ["onboarding", "eu"],
                "fields": {"name-first": "Jane", "birthdate": "1994-04-12"},
            }
        },
        "meta": {
            "auto-create-one-time-link": False,
            "auto-create-inquiry-session": True,
            "auto-create-account-reference-id": "usr_9",
            "expiration-after-create-interval-seconds": 3600,
        },
    }


# --- reads: include and filters ---------------------------------------------------------------


async def test_include_is_sent_comma_separated(client: PersonaClient, fake: FakePersona) -> None:
    await client.retrieve_inquiry(INQUIRY_ID, include=("verifications", "account"))
    assert dict(fake.last.url.params) == {"include": "verifications,account"}


async def test_retrieve_without_include_sends_no_query(
    client: PersonaClient, fake: FakePersona
) -> None:
    await client.retrieve_inquiry(INQUIRY_ID)
    assert fake.last.url.query == b""


async def test_inquiry_ids_are_one_comma_separated_filter(
    client: PersonaClient, fake: FakePersona
) -> None:
    await client.list_inquiries(inquiry_ids=["inq_a", "inq_b"])
    assert fake.last.url.params.get_list("filter[inquiry-id]") == ["inq_a,inq_b"]
    assert b"filter%5Binquiry-id%5D=inq_a%2Cinq_b" in fake.last.url.query


async def test_one_hundred_inquiry_ids_fit_in_one_call(
    client: PersonaClient, fake: FakePersona
) -> None:
    ids = [f"inq_{n:03d}" for n in range(100)]
    await client.list_inquiries(inquiry_ids=ids)
    assert fake.last.url.params["filter[inquiry-id]"].split(",") == ids


async def test_status_reference_and_page_filters_use_persona_parameter_names(
    client: PersonaClient, fake: FakePersona
) -> None:
    await client.list_inquiries(
        reference_id="usr_9", statuses=["created", "pending"], page_size=25, after="inq_last"
    )
    assert dict(fake.last.url.params) == {
        "filter[reference-id]": "usr_9",
        "filter[status]": "created,pending",
        "page[size]": "25",
        "page[after]": "inq_last",
    }


async def test_list_without_filters_sends_no_query(
    client: PersonaClient, fake: FakePersona
) -> None:
    await client.list_inquiries()
    assert fake.last.url.query == b""


async def test_account_relations_filter_on_key_and_send_no_paging(
    client: PersonaClient, fake: FakePersona
) -> None:
    await client.list_account_relations("act_1", key="beneficial_owners")
    assert dict(fake.last.url.params) == {"filter[key]": "beneficial_owners"}


# --- action bodies ----------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["approve", "decline"])
async def test_decision_with_a_comment_sends_meta_comment(
    client: PersonaClient, fake: FakePersona, action: str
) -> None:
    decide = client.approve_inquiry if action == "approve" else client.decline_inquiry
    await decide(INQUIRY_ID, idempotency_key=KEY, comment="documents match")
    assert fake.last_body() == {"meta": {"comment": "documents match"}}


@pytest.mark.parametrize("action", ["approve", "decline"])
async def test_decision_without_a_comment_sends_no_body(
    client: PersonaClient, fake: FakePersona, action: str
) -> None:
    decide = client.approve_inquiry if action == "approve" else client.decline_inquiry
    await decide(INQUIRY_ID, idempotency_key=KEY)
    assert fake.last.content == b""


async def test_one_time_link_expiry_goes_to_meta_expires_in_seconds(
    client: PersonaClient, fake: FakePersona
) -> None:
    await client.generate_one_time_link(INQUIRY_ID, idempotency_key=KEY, expires_in_s=900)
    assert fake.last_body() == {"meta": {"expires-in-seconds": 900}}


async def test_one_time_link_without_expiry_sends_no_body(
    client: PersonaClient, fake: FakePersona
) -> None:
    await client.generate_one_time_link(INQUIRY_ID, idempotency_key=KEY)
    assert fake.last.content == b""


async def test_simulate_actions_are_sent_in_order_under_meta(
    client: PersonaClient, fake: FakePersona
) -> None:
    actions: list[dict[str, Any]] = [
        {"type": "start_inquiry"},
        {"type": "create_passed_verification", "data": {"verification-template-id": "vtmpl_1"}},
        {"type": "complete_inquiry"},
    ]
    await client.simulate_actions(INQUIRY_ID, actions, idempotency_key=KEY)
    assert fake.last_body() == {"meta": {"simulate-actions": actions}}


async def test_case_status_goes_to_meta_status(client: PersonaClient, fake: FakePersona) -> None:
    await client.set_case_status("case_1", "Approved", idempotency_key=KEY)
    assert fake.last_body() == {"meta": {"status": "Approved"}}


async def test_add_relation_sends_schema_key_and_target(
    client: PersonaClient, fake: FakePersona
) -> None:
    await client.add_account_relation(
        "act_1", relation_key="beneficial_owners", target_id="act_2", idempotency_key=KEY
    )
    assert fake.last_body() == {
        "meta": {"relation-schema-key": "beneficial_owners", "target-object-id": "act_2"}
    }


# --- arguments refused before any request ----------------------------------------------------

#: Sends one request through the client.
Send = Callable[[PersonaClient], Awaitable[object]]


def _create(**option: Any) -> Send:
    return lambda c: c.create_inquiry(template_id=TEMPLATE_ID, idempotency_key=KEY, **option)


def _list(**option: Any) -> Send:
    return lambda c: c.list_inquiries(**option)


def _retrieve(inquiry_id: str) -> Send:
    return lambda c: c.retrieve_inquiry(inquiry_id)


@pytest.mark.parametrize(
    ("send", "match"),
    [
        pytest.param(_create(tags="onboarding"), "tags", id="create-tags-string"),
        pytest.param(_create(expires_in_s=0), "expires_in_s", id="create-expires-0"),
        pytest.param(_create(reference_id=""), "reference_id", id="create-empty-reference"),
        pytest.param(_list(inquiry_ids=[]), "inquiry_ids must not be empty", id="list-no-ids"),
        pytest.param(_list(inquiry_ids="inq_a"), "not a single string", id="list-ids-string"),
        pytest.param(_list(inquiry_ids=["inq_a,inq_b"]), "contain no comma", id="list-id-comma"),
        pytest.param(
            _list(inquiry_ids=[f"inq_{n:03d}" for n in range(101)]), "at most 100", id="list-101"
        ),
        pytest.param(_list(statuses=[]), "statuses must not be empty", id="list-no-statuses"),
        pytest.param(_list(page_size=0), "page_size", id="list-page-size-0"),
        pytest.param(_list(page_size=101), "page_size", id="list-page-size-101"),
        pytest.param(_list(reference_id=""), "reference_id", id="list-empty-reference"),
        pytest.param(_retrieve(""), "inquiry_id", id="empty-id"),
        pytest.param(_retrieve("."), "dot segment", id="dot-id"),
        pytest.param(_retrieve(".."), "dot segment", id="dot-dot-id"),
    ],
)
async def test_bad_arguments_are_refused_before_any_request(
    client: PersonaClient, fake: FakePersona, send: Send, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        await send(client)
    assert fake.requests == []


# --- ids and simulate guards ------------------------------------------------------------------


async def test_ids_are_quoted_as_a_single_path_segment(
    client: PersonaClient, fake: FakePersona
) -> None:
    with pytest.raises(NotFoundError):
        await client.retrieve_inquiry("inq_1/../../cases?x=1")
    assert fake.last.url.raw_path == f"{PREFIX}/inquiries/inq_1%2F..%2F..%2Fcases%3Fx%3D1".encode()


async def test_simulate_actions_are_refused_with_a_production_key_without_a_request(
    http: httpx.AsyncClient, fake: FakePersona
) -> None:
    production = PersonaClient(http, api_key=SecretStr("persona_production_abc"))
    with pytest.raises(ClientSetupError, match="refused with a production API key"):
        await production.simulate_actions(
            INQUIRY_ID, [{"type": "start_inquiry"}], idempotency_key=KEY
        )
    assert fake.requests == []


async def test_simulate_actions_are_refused_when_turned_off_without_a_request(
    http: httpx.AsyncClient, fake: FakePersona
) -> None:
    sandbox = PersonaClient(http, api_key=SecretStr(API_KEY), allow_simulate=False)
    with pytest.raises(ClientSetupError, match="turned off"):
        await sandbox.simulate_actions(INQUIRY_ID, [{"type": "start_inquiry"}], idempotency_key=KEY)
    assert fake.requests == []


async def test_create_report_sends_its_type_query_and_person(
    client: PersonaClient, fake: FakePersona
) -> None:
    await client.create_report(
        report_type="politically-exposed-person",
        query={"name-first": "Jane", "country-code": "GB"},
        idempotency_key="report:job-1:politically-exposed-person",
        reference_id="user-9",
        report_template_id="rptp_Template01",
    )
    assert fake.last_body() == {
        "data": {
            "type": "report/politically-exposed-person",
            "attributes": {
                "query": {"name-first": "Jane", "country-code": "GB"},
                "report-template-id": "rptp_Template01",
            },
        },
        "meta": {"auto-create-account-reference-id": "user-9"},
    }


async def test_create_report_for_an_account_sends_its_id_and_no_meta(
    client: PersonaClient, fake: FakePersona
) -> None:
    await client.create_report(
        report_type="watchlist", query={"term": "Jane Doe"}, idempotency_key="k", account_id="act_1"
    )
    assert fake.last_body() == {
        "data": {
            "type": "report/watchlist",
            "attributes": {"query": {"term": "Jane Doe"}, "account-id": "act_1"},
        }
    }


async def test_create_report_without_a_person_sends_nothing(
    client: PersonaClient, fake: FakePersona
) -> None:
    with pytest.raises(ValueError, match="reference_id or an account_id"):
        await client.create_report(
            report_type="watchlist", query={"term": "x"}, idempotency_key="k"
        )
    assert fake.requests == []

from __future__ import annotations

import httpx
import pytest

from jobs.persona.client import PersonaClient
from tests.client.fakes import FakePersona, inquiry_resource, verification_resource
from tests.client.operations import INQUIRY_ID, TEMPLATE_ID, VERIFICATION_ID, seed

KEY = "job-3:attempt-1"


async def test_create_returns_the_new_inquiry_with_its_one_time_link(
    client: PersonaClient, fake: FakePersona
) -> None:
    document = await client.create_inquiry(
        template_id=TEMPLATE_ID,
        idempotency_key=KEY,
        reference_id="usr_1",
        fields={"name-first": "Jane"},
    )
    assert document.data.status == "created"
    assert document.data.attributes.reference_id == "usr_1"
    assert document.data.attributes.fields["name-first"].value == "Jane"
    assert document.meta is not None
    assert document.meta.one_time_link == f"https://withpersona.com/verify?code={document.data.id}"
    assert document.meta.session_token is None


async def test_create_with_a_session_token_returns_it_in_meta(
    client: PersonaClient, fake: FakePersona
) -> None:
    document = await client.create_inquiry(
        template_id=TEMPLATE_ID, idempotency_key=KEY, one_time_link=False, session_token=True
    )
    assert document.meta is not None
    assert (document.meta.session_token, document.meta.one_time_link) == (
        "fake.session.token",
        None,
    )


async def test_included_verifications_come_back_in_relationship_order(
    client: PersonaClient, fake: FakePersona
) -> None:
    related = [
        ("ver_first", "verification/government-id"),
        ("ver_second", "verification/selfie"),
        ("ver_third", "verification/government-id"),
    ]
    for ver_id, kind in related:
        fake.verifications[ver_id] = verification_resource(ver_id, kind, "failed")
    fake.add_inquiry(inquiry_resource(INQUIRY_ID, "completed", verification_ids=related))
    document = await client.retrieve_inquiry(INQUIRY_ID, include=("verifications",))
    assert [item["id"] for item in document.included] == ["ver_third", "ver_second", "ver_first"]
    verifications = document.verifications()
    assert [(v.id, v.type) for v in verifications] == related
    assert verifications[0].attributes.checks[0].requirement == "required"


async def test_without_include_there_are_no_verifications(
    client: PersonaClient, fake: FakePersona
) -> None:
    seed(fake)
    document = await client.retrieve_inquiry(INQUIRY_ID)
    assert document.included == []
    assert document.verifications() == []


async def test_an_empty_to_one_relationship_reads_as_none(
    client: PersonaClient, fake: FakePersona
) -> None:
    seed(fake)
    document = await client.retrieve_inquiry(INQUIRY_ID)
    assert document.data.relationships["template"].ids() == []
    assert document.data.account_id == "act_fake0001"


async def test_list_returns_the_inquiries_and_links(
    client: PersonaClient, fake: FakePersona
) -> None:
    fake.add_inquiry(inquiry_resource("inq_a", "pending"))
    fake.add_inquiry(inquiry_resource("inq_b", "approved"))
    fake.add_inquiry(inquiry_resource("inq_c", "approved"))
    page = await client.list_inquiries(inquiry_ids=["inq_a", "inq_b"])
    assert [(item.id, item.status) for item in page.data] == [
        ("inq_a", "pending"),
        ("inq_b", "approved"),
    ]
    assert page.links.next is None


@pytest.mark.parametrize(
    ("action", "status"),
    [
        ("approve_inquiry", "approved"),
        ("decline_inquiry", "declined"),
        ("mark_for_review", "needs_review"),
        ("expire_inquiry", "expired"),
        ("resume_inquiry", "pending"),
    ],
)
async def test_actions_return_the_updated_inquiry(
    client: PersonaClient, fake: FakePersona, action: str, status: str
) -> None:
    seed(fake)
    document = await getattr(client, action)(INQUIRY_ID, idempotency_key=KEY)
    assert document.data.status == status


async def test_resume_returns_the_session_token(client: PersonaClient, fake: FakePersona) -> None:
    seed(fake)
    document = await client.resume_inquiry(INQUIRY_ID, idempotency_key=KEY)
    assert document.meta is not None
    assert document.meta.session_token == "fake.resumed.token"


async def test_simulate_actions_return_the_inquiry_after_the_last_action(
    client: PersonaClient, fake: FakePersona
) -> None:
    seed(fake)
    actions = [{"type": "start_inquiry"}, {"type": "complete_inquiry"}, {"type": "approve_inquiry"}]
    document = await client.simulate_actions(INQUIRY_ID, actions, idempotency_key=KEY)
    assert document.data.status == "approved"


async def test_redact_returns_the_redacted_inquiry(
    client: PersonaClient, fake: FakePersona
) -> None:
    fake.add_inquiry(inquiry_resource(INQUIRY_ID, fields={"name-first": "Jane"}))
    document = await client.redact_inquiry(INQUIRY_ID, idempotency_key=KEY)
    assert document.data.attributes.redacted_at is not None
    assert document.data.attributes.fields == {}


async def test_retrieve_verification_returns_its_checks(
    client: PersonaClient, fake: FakePersona
) -> None:
    seed(fake)
    document = await client.retrieve_verification(VERIFICATION_ID)
    assert (document.data.id, document.data.attributes.status) == (VERIFICATION_ID, "passed")
    assert [check.name for check in document.data.attributes.checks] == ["id_expired_detection"]


async def test_case_calls_return_the_case(client: PersonaClient) -> None:
    updated = await client.set_case_status("case_1", "Declined", idempotency_key=KEY)
    assert (updated.id, updated.attributes.status) == ("case_1", "Declined")
    read = await client.retrieve_case("case_1")
    assert read.id == "case_1"


async def test_account_relation_calls_return_accounts(client: PersonaClient) -> None:
    account = await client.add_account_relation(
        "act_1", relation_key="beneficial_owners", target_id="act_2", idempotency_key=KEY
    )
    assert account.id == "act_1"
    related = await client.list_account_relations("act_1", key="beneficial_owners")
    assert [item["id"] for item in related.data] == ["act_related1"]


async def test_any_2xx_is_success(client: PersonaClient, fake: FakePersona) -> None:
    fake.script(httpx.Response(200, json={"data": inquiry_resource("inq_ok")}))
    document = await client.create_inquiry(template_id=TEMPLATE_ID, idempotency_key=KEY)
    assert document.data.id == "inq_ok"
    assert document.meta is None

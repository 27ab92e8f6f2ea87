from __future__ import annotations

from datetime import datetime

import httpx
import pytest

from tests.sandbox.support import TEMPLATE_ID, Harness, create_body


async def test_quickstart_create_returns_201_with_a_created_inquiry(harness: Harness) -> None:
    body = {"data": {"attributes": {"inquiry-template-id": TEMPLATE_ID}}}

    response = await harness.post("/inquiries", body)

    assert response.status_code == 201
    document = response.json()
    assert document["data"]["type"] == "inquiry"
    assert document["data"]["id"].startswith("inq_")
    assert document["data"]["attributes"]["status"] == "created"
    assert document["included"] == []


async def test_create_meta_keys_are_present_and_null_unless_requested(harness: Harness) -> None:
    response = await harness.create()

    assert response.json()["meta"] == {
        "session-token": None,
        "one-time-link": None,
        "one-time-link-short": None,
    }


async def test_requested_session_token_and_one_time_link_are_returned(harness: Harness) -> None:
    meta = {"auto-create-inquiry-session": True, "auto-create-one-time-link": True}

    response = await harness.create(meta=meta)

    returned = response.json()["meta"]
    assert returned["session-token"].count(".") == 2
    assert returned["one-time-link"].startswith("https://withpersona.com/verify?code=")
    assert returned["one-time-link-short"]


async def test_missing_template_is_400_naming_the_attribute(harness: Harness) -> None:
    response = await harness.post("/inquiries", {"data": {"attributes": {"note": "x"}}})

    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["title"] == "Bad Request"
    assert "data.attributes.inquiry-template-id" in error["details"]


async def test_malformed_template_id_is_422_with_a_pointer(harness: Harness) -> None:
    response = await harness.create(template_id="tmpl_wrong_kind")

    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert "data.attributes.inquiry-template-id" in error["details"]
    assert error["source"] == {"pointer": "/data/attributes/inquiry-template-id"}


async def test_two_template_attributes_are_400(harness: Harness) -> None:
    body = create_body()
    body["data"]["attributes"]["template-id"] = "tmpl_B2"

    response = await harness.post("/inquiries", body)

    assert response.status_code == 400
    assert "only one" in response.json()["errors"][0]["details"]


@pytest.mark.parametrize(
    ("attribute", "template_id", "relationship"),
    [
        ("inquiry-template-id", "itmpl_Abc123", "inquiry-template"),
        ("inquiry-template-version-id", "itmplv_Abc123", "inquiry-template-version"),
        ("template-id", "tmpl_Abc123", "template"),
    ],
)
async def test_template_kind_picks_its_attribute_and_relationship(
    harness: Harness, attribute: str, template_id: str, relationship: str
) -> None:
    body = {"data": {"attributes": {attribute: template_id}}}

    response = await harness.post("/inquiries", body)

    assert response.status_code == 201
    related = response.json()["data"]["relationships"][relationship]["data"]
    assert related == {"type": relationship, "id": template_id}


async def test_plain_fields_are_returned_as_type_and_value(harness: Harness) -> None:
    fields = {"name-first": "Jane", "birthdate": "1994-04-12", "loyalty-tier": 3}

    response = await harness.create(fields=fields)

    returned = response.json()["data"]["attributes"]["fields"]
    assert returned["name-first"] == {"type": "string", "value": "Jane"}
    assert returned["birthdate"] == {"type": "date", "value": "1994-04-12"}
    assert returned["loyalty-tier"] == {"type": "number", "value": 3}
    assert returned["name-last"] == {"type": "string", "value": None}


async def test_non_string_value_for_a_default_field_is_400(harness: Harness) -> None:
    response = await harness.create(fields={"name-first": 42})

    assert response.status_code == 400
    assert "data.attributes.fields.name-first" in response.json()["errors"][0]["details"]


async def test_reference_id_creates_an_account_shown_on_the_inquiry(harness: Harness) -> None:
    response = await harness.create(meta={"auto-create-account-reference-id": "user-7"})

    data = response.json()["data"]
    assert data["attributes"]["reference-id"] == "user-7"
    account_id = data["relationships"]["account"]["data"]["id"]
    assert account_id.startswith("act_")
    assert harness.sandbox.state.accounts[account_id].reference_id == "user-7"


async def test_same_reference_id_reuses_the_account(harness: Harness) -> None:
    meta = {"auto-create-account-reference-id": "user-8"}
    first = await harness.create(meta=meta)
    second = await harness.create(meta=meta)

    def account(response: httpx.Response) -> object:
        return response.json()["data"]["relationships"]["account"]["data"]["id"]

    assert account(first) == account(second)


async def test_reference_id_with_auto_create_account_false_is_422(harness: Harness) -> None:
    meta = {"auto-create-account": False, "auto-create-account-reference-id": "user-9"}

    response = await harness.create(meta=meta)

    assert response.status_code == 422


async def test_unknown_account_id_is_404(harness: Harness) -> None:
    response = await harness.create(account_id="act_DoesNotExist")

    assert response.status_code == 404
    assert "account-id" in response.json()["errors"][0]["details"]


async def test_expiration_interval_sets_expires_at(harness: Harness) -> None:
    response = await harness.create(meta={"expiration-after-create-interval-seconds": 3600})

    attributes = response.json()["data"]["attributes"]
    created = datetime.fromisoformat(attributes["created-at"])
    expires = datetime.fromisoformat(attributes["expires-at"])
    assert (expires - created).total_seconds() == 3600


async def test_default_expiry_is_24_hours(harness: Harness) -> None:
    attributes = (await harness.create()).json()["data"]["attributes"]

    created = datetime.fromisoformat(attributes["created-at"])
    expires = datetime.fromisoformat(attributes["expires-at"])
    assert (expires - created).total_seconds() == 86_400


async def test_unknown_attribute_is_400(harness: Harness) -> None:
    response = await harness.create(favourite_colour="blue")

    assert response.status_code == 400
    assert "favourite-colour" in response.json()["errors"][0]["details"]


async def test_body_that_is_not_json_is_400(harness: Harness) -> None:
    response = await harness.client.post(
        "/inquiries", content=b"{not json", headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["title"] == "Bad Request"


async def test_snake_case_request_keys_are_accepted(harness: Harness) -> None:
    body = {
        "data": {"attributes": {"inquiry_template_id": TEMPLATE_ID, "fields": {"name_x": "1"}}},
        "meta": {"auto_create_account_reference_id": "user-10"},
    }

    response = await harness.post("/inquiries", body)

    assert response.status_code == 201
    attributes = response.json()["data"]["attributes"]
    assert attributes["reference-id"] == "user-10"
    assert "name_x" in attributes["fields"]


async def test_creation_records_inquiry_created_event(harness: Harness) -> None:
    inquiry_id = await harness.create_id()

    assert harness.event_names(inquiry_id) == ["inquiry.created"]


async def test_tags_and_note_are_stored(harness: Harness) -> None:
    response = await harness.create(note="hello", tags=["vip", "eu"])

    attributes = response.json()["data"]["attributes"]
    assert attributes["note"] == "hello"
    assert attributes["tags"] == ["vip", "eu"]


async def test_bad_include_on_create_is_400_and_creates_nothing(harness: Harness) -> None:
    response = await harness.post("/inquiries?include=pets", create_body())

    assert response.status_code == 400
    assert harness.sandbox.state.inquiries == {}


async def test_create_can_include_the_account(harness: Harness) -> None:
    response = await harness.post("/inquiries?include=account", create_body())

    (account,) = response.json()["included"]
    assert account["type"] == "account"
    assert account["id"] == response.json()["data"]["relationships"]["account"]["data"]["id"]

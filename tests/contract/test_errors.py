"""The sandbox's error answers, each checked against the statuses its operation declares."""

from __future__ import annotations

from typing import Any

import pytest

from jobs.errors import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    IdempotencyError,
    NotFoundError,
    RateLimitedError,
    UnprocessableError,
)
from tests.contract.conftest import RigFactory
from tests.contract.flows import CALLS, MISSING, TEMPLATE_ID, Ids, inquiry_in, key
from tests.contract.harness import INQUIRY_ACTIONS, ContractTransport, Rig


def last_error(rig: Rig) -> dict[str, Any]:
    response = rig.contract.last().response
    errors = response.json()["errors"]
    assert isinstance(errors, list)
    assert len(errors) == 1
    error = errors[0]
    assert isinstance(error, dict)
    return error


# 401 -------------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", list(CALLS))
async def test_wrong_key_is_a_declared_401(make_rig: RigFactory, operation: str) -> None:
    rig = await make_rig(client_key="persona_sandbox_not0the0right0key")
    with pytest.raises(AuthenticationError):
        await CALLS[operation](rig.client, Ids())
    assert rig.contract.last().response.status_code == 401
    assert set(last_error(rig)) == {"title"}


async def test_wrong_key_on_create_a_case_is_a_declared_401(make_rig: RigFactory) -> None:
    rig = await make_rig(client_key="persona_sandbox_not0the0right0key")
    body = {"data": {"attributes": {"case-template-id": "ctmpl_Contract01"}}}
    response = await rig.request("POST", "/cases", json=body, idempotency_key=key())
    assert response.status_code == 401


# 404 -------------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", MISSING)
async def test_unknown_object_is_a_declared_404(rig: Rig, operation: str) -> None:
    with pytest.raises(NotFoundError):
        await CALLS[operation](rig.client, Ids())
    assert rig.contract.last().response.status_code == 404
    assert last_error(rig)["title"] == "Record not found"


async def test_relation_to_an_unknown_target_is_a_declared_404(rig: Rig) -> None:
    created = await rig.client.create_inquiry(
        template_id=TEMPLATE_ID, idempotency_key=key(), reference_id="user-err-1"
    )
    assert created.data.account_id is not None
    with pytest.raises(NotFoundError):
        await CALLS["accounts-add-relation"](rig.client, Ids(account=created.data.account_id))


async def test_case_with_an_unknown_object_is_a_declared_404(rig: Rig) -> None:
    body = {
        "data": {"attributes": {"case-template-id": "ctmpl_Contract01"}},
        "meta": {"object-ids": ["inq_Missing0000000000000000"]},
    }
    response = await rig.request("POST", "/cases", json=body, idempotency_key=key())
    assert response.status_code == 404


# 409 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "state"),
    [
        ("resume-an-inquiry", "approved"),
        ("generate-a-one-time-link", "expired"),
        ("approve-an-inquiry", "approved"),
        ("decline-an-inquiry", "declined"),
        ("mark-an-inquiry-for-review", "approved"),
        ("expire-an-inquiry", "completed"),
        ("redact-an-inquiry", "redacted"),
        ("inquiries-perform-simulate-actions", "approved"),
    ],
)
async def test_invalid_transition_is_a_declared_409(rig: Rig, operation: str, state: str) -> None:
    inquiry_id = await inquiry_in(rig, state)
    with pytest.raises(ConflictError):
        await CALLS[operation](rig.client, Ids(inquiry=inquiry_id))
    assert rig.contract.last().response.status_code == 409


async def test_duplicate_relation_is_a_declared_409(rig: Rig) -> None:
    ids = []
    for reference_id in ("user-err-2", "user-err-3"):
        created = await rig.client.create_inquiry(
            template_id=TEMPLATE_ID, idempotency_key=key(), reference_id=reference_id
        )
        assert created.data.account_id is not None
        ids.append(created.data.account_id)
    pair = Ids(account=ids[0], target=ids[1])
    await CALLS["accounts-add-relation"](rig.client, pair)
    with pytest.raises(ConflictError):
        await CALLS["accounts-add-relation"](rig.client, pair)


# 422 -------------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", INQUIRY_ACTIONS)
async def test_action_on_a_redacted_inquiry_is_a_declared_422(rig: Rig, operation: str) -> None:
    inquiry_id = await inquiry_in(rig, "redacted")
    with pytest.raises(UnprocessableError):
        await CALLS[operation](rig.client, Ids(inquiry=inquiry_id))
    assert rig.contract.last().response.status_code == 422


@pytest.mark.parametrize(
    ("template_id", "note"),
    [("itmpl_not-a-valid-id", None), (TEMPLATE_ID, "sandbox-outcome=teleported")],
)
async def test_unacceptable_create_is_a_declared_422(
    rig: Rig, template_id: str, note: str | None
) -> None:
    with pytest.raises(UnprocessableError):
        await rig.client.create_inquiry(template_id=template_id, idempotency_key=key(), note=note)
    assert "source" in last_error(rig)


async def test_case_with_a_bad_template_id_is_a_declared_422(rig: Rig) -> None:
    body = {"data": {"attributes": {"case-template-id": "tmpl_NotACaseTemplate"}}}
    response = await rig.request("POST", "/cases", json=body, idempotency_key=key())
    assert response.status_code == 422


async def test_unknown_case_status_is_a_declared_422(rig: Rig) -> None:
    body = {"data": {"attributes": {"case-template-id": "ctmpl_Contract01"}}}
    case = await rig.request("POST", "/cases", json=body, idempotency_key=key())
    with pytest.raises(UnprocessableError):
        await rig.client.set_case_status(
            case.json()["data"]["id"], "Teleported", idempotency_key=key()
        )


async def test_relation_to_itself_is_a_declared_422(rig: Rig) -> None:
    created = await rig.client.create_inquiry(
        template_id=TEMPLATE_ID, idempotency_key=key(), reference_id="user-err-4"
    )
    account_id = created.data.account_id
    assert account_id is not None
    with pytest.raises(UnprocessableError):
        await CALLS["accounts-add-relation"](rig.client, Ids(account=account_id, target=account_id))


async def test_simulated_verification_without_a_verification_template_is_a_declared_422(
    rig: Rig,
) -> None:
    inquiry_id = await inquiry_in(rig, "created")
    action = {"type": "create_passed_verification", "data": {"verification-template-id": "x_1"}}
    with pytest.raises(UnprocessableError):
        await rig.client.simulate_actions(inquiry_id, [action], idempotency_key=key())


# 400 -------------------------------------------------------------------------------------


async def test_create_key_reused_with_other_parameters_is_a_declared_400(rig: Rig) -> None:
    reused = key()
    await rig.client.create_inquiry(
        template_id=TEMPLATE_ID, idempotency_key=reused, reference_id="user-err-5"
    )
    with pytest.raises(IdempotencyError):
        await rig.client.create_inquiry(
            template_id=TEMPLATE_ID, idempotency_key=reused, reference_id="user-err-6"
        )
    assert last_error(rig)["title"] == "Idempotency error"


async def test_action_key_reused_with_other_parameters_is_a_declared_400(rig: Rig) -> None:
    inquiry_id = await inquiry_in(rig, "completed")
    reused = key()
    await rig.client.approve_inquiry(inquiry_id, idempotency_key=reused, comment="first")
    with pytest.raises(IdempotencyError):
        await rig.client.approve_inquiry(inquiry_id, idempotency_key=reused, comment="second")


@pytest.mark.parametrize(
    "attributes",
    [
        {},
        {"inquiry-template-id": "itmpl_Contract01", "template-id": "tmpl_Contract01"},
    ],
    ids=["no-template", "two-templates"],
)
async def test_bad_template_choice_is_a_declared_400(rig: Rig, attributes: dict[str, str]) -> None:
    response = await rig.request(
        "POST", "/inquiries", json={"data": {"attributes": attributes}}, idempotency_key=key()
    )
    assert response.status_code == 400


async def test_include_of_an_unknown_relationship_is_a_declared_400(rig: Rig) -> None:
    inquiry_id = await inquiry_in(rig, "created")
    with pytest.raises(BadRequestError):
        await rig.client.retrieve_inquiry(inquiry_id, include=("teleports",))


@pytest.mark.parametrize(
    "params",
    [
        {"page[size]": "0"},
        {"page[size]": "101"},
        {"filter[inquiry-id]": ",".join(f"inq_{n:04d}" for n in range(101))},
    ],
    ids=["page-size-0", "page-size-101", "101-ids"],
)
async def test_bad_list_query_is_a_declared_400(rig: Rig, params: dict[str, str]) -> None:
    response = await rig.request("GET", "/inquiries", params=params)
    assert response.status_code == 400


@pytest.mark.parametrize(
    "params",
    [{"filter[created-at-start]": "yesterday"}, {"filter[colour]": "red"}],
    ids=["bad-date", "unknown-filter"],
)
async def test_query_outside_the_spec_is_refused_with_a_declared_400(
    rig: Rig, params: dict[str, str]
) -> None:
    lenient = ContractTransport(rig.app, check_requests=False)
    response = await rig.request("GET", "/inquiries", params=params, transport=lenient)
    assert response.status_code == 400


async def test_undeclared_attribute_is_refused_with_a_declared_400(rig: Rig) -> None:
    lenient = ContractTransport(rig.app, check_requests=False)
    body = {"data": {"attributes": {"inquiry-template-id": TEMPLATE_ID, "colour": "red"}}}
    response = await rig.request(
        "POST", "/inquiries", json=body, idempotency_key=key(), transport=lenient
    )
    assert response.status_code == 400
    assert lenient.last().operation == "create-an-inquiry"


# 429 -------------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", list(CALLS))
async def test_rate_limited_call_is_a_declared_429(make_rig: RigFactory, operation: str) -> None:
    rig = await make_rig(rate_limit_per_minute=1)
    await rig.client.list_inquiries(reference_id="anyone")
    with pytest.raises(RateLimitedError) as caught:
        await CALLS[operation](rig.client, Ids())
    response = rig.contract.last().response
    assert response.status_code == 429
    assert response.headers["RateLimit-Remaining"] == "0"
    assert caught.value.retry_after_s == float(response.headers["RateLimit-Reset"])
    assert last_error(rig)["title"] == "Rate limit exceeded"

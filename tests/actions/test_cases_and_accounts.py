"""`set_case_status` and `account_relations` end to end against the sandbox."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from jobs.persona.client import PersonaClient
from tests.actions.conftest import Actions, refusals

pytestmark = pytest.mark.redis


def open_case(actions: Actions) -> str:
    """Open a case directly in the sandbox (a scene, not a call under test)."""
    directory = actions.sandbox.state.directory
    case = directory.create_case(
        template_id="ctmpl_Actions01", now=actions.clock.now(), fields={"reason": "pep"}
    )
    return case.id


async def account_of(actions: Actions, reference_id: str) -> str:
    inquiry = await actions.new_inquiry(reference_id=reference_id)
    assert inquiry.account_id is not None
    return inquiry.account_id


# --- set_case_status -----------------------------------------------------------------------


@pytest.mark.parametrize(("status", "resolved"), [("Approved", True), ("Pending", False)])
async def test_a_case_status_is_set_once_with_its_event(
    actions: Actions, status: str, resolved: bool
) -> None:
    case_id = open_case(actions)

    job_id, event = await actions.outcome("set_case_status", case_id=case_id, status=status)

    assert event.event == "case.status-set"
    assert event.inquiry_id == ""
    assert event.data["case_id"] == case_id
    assert event.data["status"] == status
    assert (event.data["resolved_at"] is not None) is resolved
    assert "fields" not in event.data
    assert actions.sandbox.state.directory.case(case_id).status == status
    assert (await actions.job_result(job_id))["r"]["status"] == status


async def test_a_case_status_rerun_changes_nothing(actions: Actions) -> None:
    case_id = open_case(actions)

    await actions.assert_rerun_changes_nothing(
        "set_case_status", case_id=case_id, status="Declined"
    )


async def test_an_unknown_case_status_is_one_failure(actions: Actions) -> None:
    case_id = open_case(actions)

    job_id = await actions.enqueue("set_case_status", case_id=case_id, status="Escalated")
    await actions.run()

    await actions.assert_failed_once(job_id, "UnprocessableError")
    assert actions.sandbox.state.directory.case(case_id).status == "Open"


async def test_an_unknown_case_is_one_failure(actions: Actions) -> None:
    _, event = await actions.outcome("set_case_status", case_id="case_Unknown", status="Open")

    assert event.data["error"]["type"] == "NotFoundError"


async def test_an_unexpected_error_is_one_failure_naming_only_its_type(
    actions: Actions, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = open_case(actions)

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise KeyError("Jane Doe")

    monkeypatch.setattr(PersonaClient, "set_case_status", broken)
    job_id = await actions.enqueue("set_case_status", case_id=case_id, status="Approved")
    await actions.run()

    event = await actions.assert_failed_once(job_id, "UnexpectedJobError")
    assert event.data["error"]["message"] == "unexpected KeyError"
    assert "Jane" not in str(event.to_json())
    assert actions.sandbox.state.directory.case(case_id).status == "Open"


CASE_BAD_ARGUMENTS: list[tuple[str, dict[str, Any]]] = [
    ("missing status", {"case_id": "case_1"}),
    ("missing case", {"status": "Open"}),
    ("status as a number", {"case_id": "case_1", "status": 1}),
    ("empty status", {"case_id": "case_1", "status": ""}),
    ("status with padding", {"case_id": "case_1", "status": " Open"}),
]


@refusals(CASE_BAD_ARGUMENTS)
async def test_bad_case_arguments_fail_once_without_calls(
    actions: Actions, kwargs: dict[str, Any]
) -> None:
    await actions.assert_refused_once("set_case_status", kwargs)


# --- account_relations ---------------------------------------------------------------------


async def test_relations_are_listed_once_with_their_event(actions: Actions) -> None:
    account_id = await account_of(actions, "person-1")
    partner_id = await account_of(actions, "person-2")
    await actions.persona.add_account_relation(
        account_id, relation_key="household", target_id=partner_id, idempotency_key=uuid.uuid4().hex
    )

    job_id, event = await actions.outcome(
        "account_relations", account_id=account_id, key="household"
    )

    assert event.event == "account.relations-listed"
    assert event.data["account_id"] == account_id
    assert event.data["key"] == "household"
    assert event.data["relations"] == [{"type": "account", "id": partner_id}]
    assert (event.data["count"], event.data["more"]) == (1, False)
    assert "person-2" not in str(event.data)
    assert (await actions.job_result(job_id))["r"]["count"] == 1


async def test_relations_rerun_changes_nothing(actions: Actions) -> None:
    account_id = await account_of(actions, "person-1")

    _, first = await actions.assert_rerun_changes_nothing(
        "account_relations", account_id=account_id, key="employer"
    )

    assert first.data["relations"] == []


async def test_relations_of_an_unknown_account_is_one_failure(actions: Actions) -> None:
    job_id = await actions.enqueue("account_relations", account_id="act_Unknown", key="household")
    await actions.run()

    await actions.assert_failed_once(job_id, "NotFoundError")


ACCOUNT_BAD_ARGUMENTS: list[tuple[str, dict[str, Any]]] = [
    ("missing key", {"account_id": "act_1"}),
    ("missing account", {"key": "household"}),
    ("key as a list", {"account_id": "act_1", "key": ["household"]}),
    ("key with a bracket", {"account_id": "act_1", "key": "house]hold"}),
]


@refusals(ACCOUNT_BAD_ARGUMENTS)
async def test_bad_account_arguments_fail_once_without_calls(
    actions: Actions, kwargs: dict[str, Any]
) -> None:
    await actions.assert_refused_once("account_relations", kwargs)

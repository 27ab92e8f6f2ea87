"""The inquiry actions: resume, one-time links, decisions, review, expiry, redaction, simulation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.client.fakes import SIMULATED_STATUS
from tests.contract.flows import inquiry_in, key
from tests.contract.harness import Rig


def sent(rig: Rig) -> bytes:
    return rig.contract.last().request.content


@pytest.mark.parametrize("state", ["created", "pending", "expired"])
async def test_resume_keeps_the_contract(rig: Rig, state: str) -> None:
    inquiry_id = await inquiry_in(rig, state)
    resumed = await rig.client.resume_inquiry(inquiry_id, idempotency_key=key())
    assert sent(rig) == b""
    assert resumed.meta is not None
    assert resumed.meta.session_token
    assert resumed.data.status == ("created" if state == "created" else "pending")


@pytest.mark.parametrize("expires_in_s", [None, 600])
@pytest.mark.parametrize("state", ["created", "pending"])
async def test_one_time_link_keeps_the_contract(
    rig: Rig, state: str, expires_in_s: int | None
) -> None:
    inquiry_id = await inquiry_in(rig, state)
    linked = await rig.client.generate_one_time_link(
        inquiry_id, idempotency_key=key(), expires_in_s=expires_in_s
    )
    expected = b"" if expires_in_s is None else {"meta": {"expires-in-seconds": expires_in_s}}
    assert (sent(rig) if expires_in_s is None else json.loads(sent(rig))) == expected
    assert linked.meta is not None
    assert linked.meta.one_time_link
    assert linked.meta.one_time_link_short


@pytest.mark.parametrize("comment", [None, "checked by hand"])
@pytest.mark.parametrize(
    ("decision", "state"),
    [
        *(("approved", state) for state in ("completed", "needs_review", "failed")),
        *(("declined", state) for state in ("completed", "needs_review", "pending")),
    ],
)
async def test_decision_keeps_the_contract(
    rig: Rig, decision: str, state: str, comment: str | None
) -> None:
    inquiry_id = await inquiry_in(rig, state)
    decide = {"approved": rig.client.approve_inquiry, "declined": rig.client.decline_inquiry}
    decided = await decide[decision](inquiry_id, idempotency_key=key(), comment=comment)
    assert decided.data.status == decision
    assert decided.data.attributes.reviewer_comment == comment


@pytest.mark.parametrize("state", ["created", "pending", "completed", "failed", "expired"])
async def test_mark_for_review_keeps_the_contract(rig: Rig, state: str) -> None:
    inquiry_id = await inquiry_in(rig, state)
    marked = await rig.client.mark_for_review(inquiry_id, idempotency_key=key())
    assert sent(rig) == b""
    assert marked.data.status == "needs_review"


@pytest.mark.parametrize("state", ["created", "pending"])
async def test_expire_keeps_the_contract(rig: Rig, state: str) -> None:
    inquiry_id = await inquiry_in(rig, state)
    expired = await rig.client.expire_inquiry(inquiry_id, idempotency_key=key())
    assert sent(rig) == b""
    assert expired.data.status == "expired"
    assert expired.data.attributes.expired_at is not None


@pytest.mark.parametrize(
    "state", ["created", "pending", "completed", "failed", "expired", "approved", "declined"]
)
async def test_redact_keeps_the_contract(rig: Rig, state: str) -> None:
    inquiry_id = await inquiry_in(rig, state)
    sent_key = key()
    redacted = await rig.client.redact_inquiry(inquiry_id, idempotency_key=sent_key)
    request = rig.contract.last().request
    assert request.method == "DELETE"
    # The spec declares Idempotency-Key on this operation too: a retried redaction is one.
    assert request.headers["Idempotency-Key"] == sent_key
    assert redacted.data.attributes.redacted_at is not None


@pytest.mark.parametrize("action", list(SIMULATED_STATUS))
async def test_each_simulate_status_action_keeps_the_contract(rig: Rig, action: str) -> None:
    inquiry_id = await inquiry_in(rig, "created")
    document = await rig.client.simulate_actions(
        inquiry_id, [{"type": action}], idempotency_key=key()
    )
    assert json.loads(sent(rig)) == {"meta": {"simulate-actions": [{"type": action}]}}
    assert document.data.status == SIMULATED_STATUS[action]


@pytest.mark.parametrize("outcome", ["create_passed_verification", "create_failed_verification"])
@pytest.mark.parametrize("template", ["vtmpl_GovernmentId01", "vtmpl_Selfie01", "vtmpl_Database01"])
async def test_each_simulated_verification_keeps_the_contract(
    rig: Rig, outcome: str, template: str
) -> None:
    inquiry_id = await inquiry_in(rig, "created")
    action: dict[str, Any] = {"type": outcome, "data": {"verification-template-id": template}}
    await rig.client.simulate_actions(inquiry_id, [action], idempotency_key=key())
    document = await rig.client.retrieve_inquiry(inquiry_id, include=("verifications",))
    (verification,) = document.verifications()
    assert verification.attributes.status == outcome.split("_")[1]


async def test_full_simulated_flow_keeps_the_contract(rig: Rig) -> None:
    inquiry_id = await inquiry_in(rig, "created")
    actions: list[dict[str, Any]] = [
        {"type": "start_inquiry"},
        {"type": "create_failed_verification", "data": {"verification-template-id": "vtmpl_A1"}},
        {"type": "create_passed_verification", "data": {"verification-template-id": "vtmpl_A1"}},
        {"type": "complete_inquiry"},
        {"type": "approve_inquiry"},
    ]
    document = await rig.client.simulate_actions(inquiry_id, actions, idempotency_key=key())
    assert document.data.status == "approved"
    assert len(document.data.relationships["verifications"].ids()) == 2


async def test_actions_ask_for_verifications_only_on_retrieve(rig: Rig) -> None:
    inquiry_id = await inquiry_in(rig, "completed")
    await rig.client.approve_inquiry(inquiry_id, idempotency_key=key())
    exchange = rig.contract.last()
    assert "include" not in exchange.request.url.params
    assert json.loads(exchange.response.content)["included"] == []

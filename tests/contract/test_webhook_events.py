"""The webhook bodies the sandbox records for each change, against the official event schemas.

The sandbox keeps every status and verification change as the body Persona would POST
(`Event.to_webhook_body()`); a webhook sender will deliver exactly these, so each one is
checked against the schema of its event name now.
"""

from __future__ import annotations

import pytest

from tests.contract.flows import DELAY_S, create_with_outcome, inquiry_in, key
from tests.contract.harness import Rig
from tests.contract.webhooks import validate_webhook_event

_EVERY_STEP_S = DELAY_S + 30 + 300 + 1


def recorded_names(rig: Rig) -> list[str]:
    rig.sandbox.state.advance_all()
    names = []
    for event in rig.sandbox.events:
        validate_webhook_event(event.to_webhook_body(), event.name)
        names.append(event.name)
    return names


@pytest.mark.parametrize(
    ("outcome", "last_event"),
    [
        ("approved", "inquiry.approved"),
        ("declined", "inquiry.declined"),
        ("completed", "inquiry.completed"),
        ("failed", "inquiry.failed"),
        ("needs_review", "inquiry.marked-for-review"),
        ("review_approved", "inquiry.approved"),
        ("review_declined", "inquiry.declined"),
        ("expired", "inquiry.expired"),
    ],
)
async def test_scenario_events_keep_the_webhook_contract(
    rig: Rig, outcome: str, last_event: str
) -> None:
    await create_with_outcome(rig, outcome, fields={"name-first": "Jane"})
    rig.advance(_EVERY_STEP_S)
    names = recorded_names(rig)
    assert names[0] == "inquiry.created"
    assert names[-1] == last_event


async def test_verification_events_keep_the_webhook_contract(rig: Rig) -> None:
    await create_with_outcome(rig, "declined")
    rig.advance(_EVERY_STEP_S)
    names = set(recorded_names(rig))
    assert {"verification.created", "verification.passed", "verification.failed"} <= names


async def test_cancel_and_resume_events_keep_the_webhook_contract(rig: Rig) -> None:
    inquiry_id = await inquiry_in(rig, "pending")
    await rig.client.expire_inquiry(inquiry_id, idempotency_key=key())
    await rig.client.resume_inquiry(inquiry_id, idempotency_key=key())
    names = recorded_names(rig)
    assert "verification.canceled" in names
    assert names[-1] == "inquiry.transitioned"


async def test_redaction_event_keeps_the_webhook_contract(rig: Rig) -> None:
    await inquiry_in(rig, "redacted")
    assert recorded_names(rig)[-1] == "inquiry.redacted"

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import pytest

from tests.sandbox.support import Harness


async def _expired(harness: Harness) -> str:
    inquiry_id = await harness.create_id(note="sandbox-outcome=expired sandbox-after=60")
    harness.clock.advance(61)
    assert await harness.status(inquiry_id) == "expired"
    return inquiry_id


async def _completed(harness: Harness) -> str:
    inquiry_id = await harness.create_id(note="sandbox-outcome=completed sandbox-after=60")
    harness.clock.advance(61)
    assert await harness.status(inquiry_id) == "completed"
    return inquiry_id


async def _approved(harness: Harness) -> str:
    inquiry_id = await _completed(harness)
    await harness.post(f"/inquiries/{inquiry_id}/approve")
    return inquiry_id


Prepare = Callable[[Harness], Awaitable[str]]


@pytest.mark.parametrize(
    ("prepare", "action", "details"),
    [
        (_completed, "resume", "Cannot resume an inquiry with status 'completed'"),
        (_expired, "generate-one-time-link", "expired inquiry; resume it first"),
        (_approved, "decline", "Cannot decline an inquiry with status 'approved'"),
        (_approved, "mark-for-review", "already approved or declined cannot be marked"),
        (_completed, "expire", "Cannot expire an inquiry with status 'completed'"),
    ],
)
async def test_an_action_the_status_does_not_allow_is_409_and_changes_nothing(
    harness: Harness, prepare: Prepare, action: str, details: str
) -> None:
    inquiry_id = await prepare(harness)
    before = await harness.inquiry(inquiry_id)

    response = await harness.post(f"/inquiries/{inquiry_id}/{action}")

    assert response.status_code == 409
    assert details in response.json()["errors"][0]["details"]
    assert await harness.inquiry(inquiry_id) == before


# --- resume ------------------------------------------------------------------------------


async def test_resume_turns_expired_into_pending_with_a_new_expiry(harness: Harness) -> None:
    inquiry_id = await _expired(harness)
    harness.clock.advance(100)

    response = await harness.post(f"/inquiries/{inquiry_id}/resume")

    assert response.status_code == 200
    attributes = response.json()["data"]["attributes"]
    assert attributes["status"] == "pending"
    assert attributes["expired-at"] is None
    expires = datetime.fromisoformat(attributes["expires-at"])
    assert (expires - harness.clock.now()).total_seconds() == 86_400
    assert response.json()["meta"]["session-token"]
    assert harness.event_names(inquiry_id)[-1] == "inquiry.transitioned"


async def test_resume_of_a_created_inquiry_keeps_its_status(harness: Harness) -> None:
    inquiry_id = await harness.create_id(note="sandbox-outcome=approved sandbox-after=60")

    response = await harness.post(f"/inquiries/{inquiry_id}/resume")

    assert response.json()["data"]["attributes"]["status"] == "created"
    assert set(response.json()["meta"]) == {"session-token"}


async def test_resume_reuses_a_valid_session(harness: Harness) -> None:
    inquiry_id = await harness.create_id()

    first = await harness.post(f"/inquiries/{inquiry_id}/resume")
    second = await harness.post(f"/inquiries/{inquiry_id}/resume")

    assert first.json()["meta"]["session-token"] == second.json()["meta"]["session-token"]


async def test_resume_of_a_redacted_inquiry_is_422(harness: Harness) -> None:
    inquiry_id = await harness.create_id()
    await harness.client.delete(f"/inquiries/{inquiry_id}")

    response = await harness.post(f"/inquiries/{inquiry_id}/resume")

    assert response.status_code == 422
    assert "redacted" in response.json()["errors"][0]["details"]


# --- one-time links ------------------------------------------------------------------------


async def test_one_time_link_for_a_created_inquiry(harness: Harness) -> None:
    inquiry_id = await harness.create_id()

    response = await harness.post(
        f"/inquiries/{inquiry_id}/generate-one-time-link", {"meta": {"expires-in-seconds": 600}}
    )

    assert response.status_code == 200
    assert response.json()["meta"]["one-time-link"].startswith("https://")
    assert response.json()["meta"]["one-time-link-short"].startswith("https://")


async def test_each_one_time_link_is_new(harness: Harness) -> None:
    inquiry_id = await harness.create_id()

    first = await harness.post(f"/inquiries/{inquiry_id}/generate-one-time-link")
    second = await harness.post(f"/inquiries/{inquiry_id}/generate-one-time-link")

    assert first.json()["meta"]["one-time-link"] != second.json()["meta"]["one-time-link"]


async def test_one_time_link_with_non_positive_expiry_is_422(harness: Harness) -> None:
    inquiry_id = await harness.create_id()

    response = await harness.post(
        f"/inquiries/{inquiry_id}/generate-one-time-link", {"meta": {"expires-in-seconds": 0}}
    )

    assert response.status_code == 422


# --- approve, decline, mark for review ----------------------------------------------------


async def test_approve_with_a_comment_sets_reviewer_comment(harness: Harness) -> None:
    inquiry_id = await _completed(harness)

    response = await harness.post(
        f"/inquiries/{inquiry_id}/approve", {"meta": {"comment": "Looks good"}}
    )

    attributes = response.json()["data"]["attributes"]
    assert attributes["status"] == "approved"
    assert attributes["reviewer-comment"] == "Looks good"
    assert attributes["decisioned-at"] is not None


async def test_decline_without_body_is_accepted(harness: Harness) -> None:
    inquiry_id = await _completed(harness)

    response = await harness.post(f"/inquiries/{inquiry_id}/decline")

    assert response.json()["data"]["attributes"]["status"] == "declined"
    assert response.json()["data"]["attributes"]["reviewer-comment"] is None


async def test_unknown_comment_key_is_400(harness: Harness) -> None:
    inquiry_id = await _completed(harness)

    response = await harness.post(f"/inquiries/{inquiry_id}/approve", {"meta": {"note": "x"}})

    assert response.status_code == 400


async def test_mark_for_review_of_a_completed_inquiry(harness: Harness) -> None:
    inquiry_id = await _completed(harness)

    response = await harness.post(f"/inquiries/{inquiry_id}/mark-for-review")

    attributes = response.json()["data"]["attributes"]
    assert attributes["status"] == "needs_review"
    assert attributes["marked-for-review-at"] is not None


async def test_manual_decision_ends_the_scenario(harness: Harness) -> None:
    inquiry_id = await harness.create_id(note="sandbox-outcome=review_approved sandbox-after=60")
    harness.clock.advance(61)
    await harness.post(f"/inquiries/{inquiry_id}/decline")
    harness.clock.advance(1_000)

    assert await harness.status(inquiry_id) == "declined"


# --- expire --------------------------------------------------------------------------------


async def test_expire_a_pending_inquiry(harness: Harness) -> None:
    inquiry_id = await harness.create_id(note="sandbox-outcome=approved sandbox-after=60")
    harness.clock.advance(21)

    response = await harness.post(f"/inquiries/{inquiry_id}/expire")

    attributes = response.json()["data"]["attributes"]
    assert attributes["status"] == "expired"
    assert attributes["expired-at"] is not None


async def test_expired_inquiry_can_be_resumed(harness: Harness) -> None:
    inquiry_id = await harness.create_id()
    await harness.post(f"/inquiries/{inquiry_id}/expire")

    response = await harness.post(f"/inquiries/{inquiry_id}/resume")

    assert response.json()["data"]["attributes"]["status"] == "pending"


# --- redact --------------------------------------------------------------------------------


async def test_redact_clears_fields_and_sets_redacted_at(harness: Harness) -> None:
    inquiry_id = await harness.create_id(fields={"name-first": "Jane", "birthdate": "1990-01-01"})

    response = await harness.client.delete(f"/inquiries/{inquiry_id}")

    assert response.status_code == 200
    attributes = response.json()["data"]["attributes"]
    assert attributes["redacted-at"] is not None
    assert {item["value"] for item in attributes["fields"].values()} == {None}
    assert harness.event_names(inquiry_id)[-1] == "inquiry.redacted"


async def test_redact_clears_verification_data(harness: Harness) -> None:
    inquiry_id = await harness.create_id(
        note="sandbox-outcome=approved sandbox-after=60", fields={"name-first": "Jane"}
    )
    harness.clock.advance(61)
    before = await harness.inquiry(inquiry_id, include="verifications")
    assert before["included"][0]["attributes"]["name-first"] == "Jane"

    await harness.client.delete(f"/inquiries/{inquiry_id}")

    after = await harness.inquiry(inquiry_id, include="verifications")
    government_id = after["included"][0]["attributes"]
    assert government_id["name-first"] is None
    assert government_id["redacted-at"] is not None


async def test_second_redact_is_409(harness: Harness) -> None:
    inquiry_id = await harness.create_id()
    await harness.client.delete(f"/inquiries/{inquiry_id}")

    response = await harness.client.delete(f"/inquiries/{inquiry_id}")

    assert response.status_code == 409
    assert response.json()["errors"][0]["details"] == "Inquiry already redacted"


async def test_action_on_an_unknown_inquiry_is_404(harness: Harness) -> None:
    response = await harness.post("/inquiries/inq_Unknown/approve")

    assert response.status_code == 404
    assert response.json()["errors"][0]["title"] == "Record not found"


# --- the rules the action jobs rely on -------------------------------------------------------


async def test_no_second_decision_whichever_the_first(harness: Harness) -> None:
    for first, second in (("approve", "approve"), ("decline", "approve"), ("approve", "decline")):
        inquiry_id = await _completed(harness)
        await harness.post(f"/inquiries/{inquiry_id}/{first}")

        response = await harness.post(f"/inquiries/{inquiry_id}/{second}")

        assert response.status_code == 409
        assert response.json()["errors"][0]["title"]
        assert f"{first}d" in response.json()["errors"][0]["details"]


async def test_actions_on_a_redacted_inquiry_are_422(harness: Harness) -> None:
    inquiry_id = await harness.create_id()
    await harness.client.delete(f"/inquiries/{inquiry_id}")

    for action in ("approve", "decline", "mark-for-review", "generate-one-time-link", "expire"):
        response = await harness.post(f"/inquiries/{inquiry_id}/{action}")

        assert response.status_code == 422, action
        assert "redacted" in response.json()["errors"][0]["details"]


async def test_any_status_can_be_redacted(harness: Harness) -> None:
    for setup in ((), ("complete_inquiry",), ("expire_inquiry",), ("fail_inquiry",)):
        inquiry_id = await harness.create_id()
        if setup:
            await harness.simulate(inquiry_id, *({"type": name} for name in setup))

        response = await harness.client.delete(f"/inquiries/{inquiry_id}")

        assert response.status_code == 200
        assert response.json()["data"]["attributes"]["redacted-at"] is not None

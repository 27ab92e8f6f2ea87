"""With `POLL_WAIT_FOR_DECISION`, following goes past `completed` and reviews to the decision."""

from __future__ import annotations

import pytest

from tests.pipeline.conftest import Pipeline

pytestmark = pytest.mark.settings(poll_wait_for_decision=True)


@pytest.mark.parametrize(
    ("scenario", "event", "reviewed"),
    [
        ("approved", "inquiry.approved", False),
        ("declined", "inquiry.declined", False),
        ("review_approved", "inquiry.approved", True),
        ("review_declined", "inquiry.declined", True),
    ],
)
async def test_the_decision_is_published_once(
    pipeline: Pipeline, scenario: str, event: str, reviewed: bool
) -> None:
    await pipeline.create("person-1", note=f"sandbox-outcome={scenario} sandbox-after=30")

    await pipeline.run()

    [result] = await pipeline.events()
    assert result.event == event
    assert result.data["final"] is True
    assert result.data["timestamps"]["decisioned_at"] is not None
    assert (result.data["timestamps"]["marked_for_review_at"] is not None) is reviewed

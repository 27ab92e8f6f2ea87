"""The rule that lets status checks step back while signed webhooks flow (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jobs.policy.cadence import (
    UNCOVERED_GRACE_S,
    WEBHOOK_SILENCE_S,
    Mode,
    check_can_wait_until,
    decide_mode,
    uncovered_change,
)
from settings import DEFAULT_TERMINAL_STATUSES

NOW = 1_000_000.0


@pytest.mark.parametrize(
    ("last_webhook_at", "uncovered_at", "mode"),
    [
        (None, None, Mode.POLLING),
        (NOW - 1, None, Mode.WEBHOOKS),
        (NOW - WEBHOOK_SILENCE_S, None, Mode.WEBHOOKS),
        (NOW - WEBHOOK_SILENCE_S - 1, None, Mode.POLLING),
        (NOW - 1, NOW - 10, Mode.POLLING),
        (NOW - 1, NOW - WEBHOOK_SILENCE_S - 1, Mode.WEBHOOKS),
    ],
)
def test_the_mode_follows_recent_webhooks_and_changes_without_one(
    last_webhook_at: float | None, uncovered_at: float | None, mode: Mode
) -> None:
    decision = decide_mode(NOW, last_webhook_at=last_webhook_at, uncovered_at=uncovered_at)

    assert decision.mode is mode
    assert decision.reason


@pytest.mark.parametrize(
    ("status", "checks", "created_by_us", "until"),
    [
        ("pending", 0, True, NOW + 500),
        ("pending", 3, False, NOW + 500),
        ("pending", 0, False, None),
        ("approved", 3, True, None),
    ],
)
def test_a_known_open_inquiry_waits_for_the_safety_net(
    status: str, checks: int, created_by_us: bool, until: float | None
) -> None:
    assert (
        check_can_wait_until(
            NOW,
            status=status,
            checks=checks,
            created_by_us=created_by_us,
            last_news_at=NOW - 100,
            safety_net_s=600,
            terminal=DEFAULT_TERMINAL_STATUSES,
        )
        == until
    )


def test_an_inquiry_past_its_safety_net_is_checked() -> None:
    assert (
        check_can_wait_until(
            NOW,
            status="pending",
            checks=1,
            created_by_us=True,
            last_news_at=NOW - 600,
            safety_net_s=600,
            terminal=DEFAULT_TERMINAL_STATUSES,
        )
        is None
    )


@pytest.mark.parametrize(
    ("seen", "age_s", "uncovered"),
    [
        ("pending", 3_600, False),
        ("completed", UNCOVERED_GRACE_S - 1, False),
        ("completed", UNCOVERED_GRACE_S + 1, True),
    ],
)
def test_a_change_is_uncovered_once_its_webhook_is_overdue(
    seen: str, age_s: float, uncovered: bool
) -> None:
    changed = datetime.fromtimestamp(NOW - age_s, tz=UTC)

    assert (
        uncovered_change(NOW, known_status="pending", seen_status=seen, changed_at=changed)
        is uncovered
    )

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from jobs.policy.backoff import DEFAULT_EXPIRY, PollPolicy, full_jitter

POLICY = PollPolicy(
    min_interval_s=2, max_interval_s=60, review_interval_s=600, deadline_grace_s=300
)
NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("attempt", range(12))
def test_full_jitter_stays_between_base_and_capped_exponential(attempt: int) -> None:
    rng = random.Random(attempt)
    for _ in range(200):
        delay = full_jitter(attempt, base_s=2, cap_s=60, rng=rng)
        assert 2 <= delay <= min(60, 2 * 2**attempt)


def test_full_jitter_spreads_delays() -> None:
    rng = random.Random(7)
    delays = {round(full_jitter(5, base_s=1, cap_s=60, rng=rng), 3) for _ in range(50)}
    assert len(delays) > 40


def test_full_jitter_survives_huge_attempt_numbers() -> None:
    assert full_jitter(10_000, base_s=1, cap_s=30, rng=random.Random(1)) <= 30


def test_needs_review_uses_the_slow_cadence() -> None:
    rng = random.Random(3)
    delays = [POLICY.next_delay(0, "needs_review", rng) for _ in range(50)]
    assert all(540 <= d <= 660 for d in delays)


def test_person_active_deadline_is_expiry_plus_grace() -> None:
    expires = NOW + timedelta(hours=2)
    deadline = POLICY.deadline("pending", expires_at=expires, created_at=NOW, followed_since=NOW)
    assert deadline == expires + timedelta(seconds=300)


def test_missing_expiry_assumes_persona_default() -> None:
    deadline = POLICY.deadline("created", expires_at=None, created_at=NOW, followed_since=NOW)
    assert deadline == NOW + DEFAULT_EXPIRY + timedelta(seconds=300)


def test_review_deadline_is_the_long_horizon() -> None:
    deadline = POLICY.deadline("needs_review", expires_at=NOW, created_at=NOW, followed_since=NOW)
    assert deadline == NOW + timedelta(seconds=POLICY.review_horizon_s)


def test_expired_inquiry_deadline_is_short() -> None:
    deadline = POLICY.deadline("expired", expires_at=NOW, created_at=NOW, followed_since=NOW)
    assert deadline == NOW + timedelta(seconds=300)

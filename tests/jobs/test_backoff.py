from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from jobs.errors import RateLimitedError, ServerError
from jobs.persona.errors import DEFAULT_RATE_LIMIT_WAIT_S
from jobs.policy.backoff import (
    DEFAULT_EXPIRY,
    PollPolicy,
    full_jitter,
    retry_delay,
)

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


def test_the_retry_after_the_first_failed_attempt_waits_the_base() -> None:
    # Attempts count from 1 like arq's job_try: the first failure is attempt 1.
    for seed in range(20):
        assert retry_delay(1, base_s=2, cap_s=120, rng=random.Random(seed)) == 2


@pytest.mark.parametrize("attempt", range(1, 12))
def test_retry_delay_doubles_its_ceiling_per_failed_attempt(attempt: int) -> None:
    rng = random.Random(attempt)
    ceiling = min(60, 2 ** (attempt - 1))
    delays = [retry_delay(attempt, base_s=1, cap_s=60, rng=rng) for _ in range(200)]
    assert all(1 <= delay <= ceiling for delay in delays)
    if ceiling >= 4:
        assert max(delays) > ceiling / 2, "the ceiling is reached for, not only the base"


def test_retry_delay_backs_off_on_errors_that_name_no_wait() -> None:
    delay = retry_delay(1, base_s=3, cap_s=30, rng=random.Random(1), error=ServerError("5xx"))
    assert delay == 3


@pytest.mark.parametrize("attempt", [1, 5, 40])
def test_a_rate_limit_is_waited_out_whatever_the_attempt(attempt: int) -> None:
    rng = random.Random(attempt)
    error = RateLimitedError("429", retry_after_s=12.0)
    delays = [retry_delay(attempt, base_s=1, cap_s=60, rng=rng, error=error) for _ in range(50)]
    assert all(12 <= delay <= 13 for delay in delays)
    assert len(set(delays)) > 40, "jitter spreads the workers one window deferred"


def test_a_rate_limit_without_a_wait_waits_the_default() -> None:
    delay = retry_delay(1, base_s=1, cap_s=60, rng=random.Random(2), error=RateLimitedError("429"))
    assert DEFAULT_RATE_LIMIT_WAIT_S <= delay <= DEFAULT_RATE_LIMIT_WAIT_S + 1


def test_a_rate_limited_status_check_waits_out_the_window_even_in_review() -> None:
    error = RateLimitedError("429", retry_after_s=40.0)
    assert 40 <= POLICY.next_delay(3, "needs_review", random.Random(4), error=error) <= 41


def test_other_failed_status_checks_keep_the_cadence() -> None:
    delay = POLICY.next_delay(0, "pending", random.Random(5), error=ServerError("5xx"))
    assert delay == POLICY.min_interval_s
    review = POLICY.next_delay(0, "needs_review", random.Random(5), error=ServerError("5xx"))
    assert 540 <= review <= 660


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

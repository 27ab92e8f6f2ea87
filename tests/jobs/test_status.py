from __future__ import annotations

import logging

import pytest

from jobs.policy.status import (
    InquiryStatus,
    event_name,
    is_final,
    is_terminal,
    parse_status,
    status_of_event,
)
from settings import DECISION_STATUSES, DEFAULT_TERMINAL_STATUSES

DEFAULT = frozenset(DEFAULT_TERMINAL_STATUSES)


@pytest.mark.parametrize("status", ["completed", "failed", "expired", "approved", "declined"])
def test_default_terminal_set_ends_polling(status: str) -> None:
    assert is_terminal(status, DEFAULT)


@pytest.mark.parametrize("status", ["created", "pending", "needs_review"])
def test_default_terminal_set_keeps_following(status: str) -> None:
    assert not is_terminal(status, DEFAULT)


@pytest.mark.parametrize("status", ["completed", "failed", "expired", "needs_review"])
def test_waiting_for_a_decision_keeps_following_done_inquiries(status: str) -> None:
    assert not is_terminal(status, frozenset(DECISION_STATUSES))


def test_unknown_status_is_not_terminal_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    assert not is_terminal("escalated_to_mars", {"escalated_to_mars"})
    assert parse_status("escalated_to_mars") is None
    assert [r.message for r in caplog.records].count(
        "unknown inquiry status 'escalated_to_mars': treated as not terminal"
    ) == 1


@pytest.mark.parametrize(
    ("status", "final"),
    [("approved", True), ("declined", True), ("completed", False), ("expired", False)],
)
def test_only_decisions_are_final(status: str, final: bool) -> None:
    assert is_final(status) is final


@pytest.mark.parametrize(
    ("status", "event"),
    [
        ("approved", "inquiry.approved"),
        ("completed", "inquiry.completed"),
        ("needs_review", "inquiry.marked-for-review"),
        ("pending", "inquiry.started"),
        ("somethingnew", "inquiry.status-unknown"),
    ],
)
def test_event_names_follow_persona(status: str, event: str) -> None:
    assert event_name(status) == event


@pytest.mark.parametrize(
    ("event", "status"),
    [
        ("inquiry.created", "created"),
        ("inquiry.started", "pending"),
        ("inquiry.marked-for-review", "needs_review"),
        ("inquiry.declined", "declined"),
        ("inquiry.transitioned", None),
        ("inquiry.status-unknown", None),
    ],
)
def test_persona_events_announce_statuses(event: str, status: str | None) -> None:
    assert status_of_event(event) == status


@pytest.mark.parametrize("status", list(InquiryStatus))
def test_every_status_has_an_event_that_announces_it(status: InquiryStatus) -> None:
    assert status_of_event(event_name(status)) is status

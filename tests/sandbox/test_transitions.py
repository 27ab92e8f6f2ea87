from __future__ import annotations

import pytest

from persona_sandbox.transitions import ALLOWED_FROM, LIVE, Action

STATUSES = ("created", "pending", "completed", "failed", "expired", "needs_review", "approved",
            "declined")  # fmt: skip


def test_every_action_has_a_rule() -> None:
    assert set(ALLOWED_FROM) == set(Action)


@pytest.mark.parametrize("action", list(Action))
def test_decisions_are_final(action: Action) -> None:
    assert not {"approved", "declined"} & ALLOWED_FROM[action]


@pytest.mark.parametrize("action", list(Action))
def test_rules_name_only_known_statuses(action: Action) -> None:
    assert ALLOWED_FROM[action] <= set(STATUSES)


def test_only_live_inquiries_take_person_actions() -> None:
    person_actions = (Action.complete, Action.fail, Action.expire, Action.verification)

    assert all(ALLOWED_FROM[action] == LIVE for action in person_actions)

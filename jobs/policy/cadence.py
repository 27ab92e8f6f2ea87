"""Whether status checks may step back because signed webhooks announce the changes (pure).

Two modes, decided by the polling tick and shared by every worker (`jobs.state.webhook_flow`):

- `polling`: the normal cadence (`POLL_MIN_INTERVAL_S` with backoff, `jobs.policy.backoff`);
- `webhooks`: a followed inquiry whose status we know from a create, a check or a webhook is
  checked only every `POLL_SAFETY_NET_S`, the net under a lost webhook.

The tick is in `webhooks` mode while both hold: a signed webhook was accepted within the last
`WEBHOOK_SILENCE_S`, and no status check in that time saw a change that Persona made more than
`UNCOVERED_GRACE_S` before and that no webhook had announced (the record did not show it). The
first makes the mode follow the webhooks' arrival (the web process down, the subscription
disabled or its secret wrong all stop it); the second catches a subscription that delivers
something but not the inquiry events. Either failing puts the next tick back in `polling`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from jobs.policy.status import is_terminal

__all__ = [
    "UNCOVERED_GRACE_S",
    "WEBHOOK_SILENCE_S",
    "Mode",
    "ModeDecision",
    "check_can_wait_until",
    "decide_mode",
    "uncovered_change",
]

#: Longest gap between signed webhooks before polling returns to its normal cadence.
WEBHOOK_SILENCE_S: Final = 120.0
#: How long after Persona's change its webhook may still be on its way.
UNCOVERED_GRACE_S: Final = 60.0


class Mode(StrEnum):
    """How status checks are paced."""

    POLLING = "polling"
    WEBHOOKS = "webhooks"


@dataclass(frozen=True, slots=True)
class ModeDecision:
    """The mode for the tick at hand, and why (for the log line and `persona-worker status`)."""

    mode: Mode
    reason: str


def decide_mode(
    now: float, *, last_webhook_at: float | None, uncovered_at: float | None
) -> ModeDecision:
    """The mode at `now` from the last signed webhook and the last change without one."""
    if last_webhook_at is None:
        return ModeDecision(Mode.POLLING, "no signed webhook accepted yet")
    silence = now - last_webhook_at
    if silence > WEBHOOK_SILENCE_S:
        return ModeDecision(Mode.POLLING, f"no signed webhook for {silence:.0f} s")
    if uncovered_at is not None and now - uncovered_at <= WEBHOOK_SILENCE_S:
        return ModeDecision(Mode.POLLING, "a status check saw a change no webhook announced")
    return ModeDecision(Mode.WEBHOOKS, "signed webhooks announce the changes")


def check_can_wait_until(
    now: float,
    *,
    status: str,
    checks: int,
    created_by_us: bool,
    last_news_at: float,
    safety_net_s: float,
    terminal: Collection[str],
) -> float | None:
    """While webhooks flow: when a due inquiry's check may wait until, or None to check now.

    An inquiry checks now when its status is terminal (a request that follows an inquiry
    already answered waits for no webhook), or when nothing of ours has seen it yet (a
    `poll_inquiry` of an inquiry created elsewhere: its changes may be older than our
    following). Otherwise its check waits until `POLL_SAFETY_NET_S` after its last news.
    """
    if is_terminal(status, terminal):
        return None
    if checks == 0 and not created_by_us:
        return None
    until = last_news_at + safety_net_s
    return until if until > now else None


def uncovered_change(
    now: float, *, known_status: str, seen_status: str, changed_at: datetime | None
) -> bool:
    """A check saw a status the record does not show, set by Persona long enough ago that its
    webhook should have arrived."""
    if seen_status == known_status:
        return False
    return changed_at is not None and now - changed_at.timestamp() > UNCOVERED_GRACE_S

"""What an inquiry's status means for the pipeline (pure rules, no I/O).

Persona's statuses: `created` and `pending` while the person works; `completed` and `failed`
when the person is done (not a decision); `expired` when time ran out (it can be resumed);
`needs_review` while a human looks; `approved` and `declined` as decisions. Persona warns the
list is open-ended, so an unknown status is never terminal: we keep following it and log it
once per process.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from enum import StrEnum
from typing import Final

__all__ = [
    "FINAL_DECISIONS",
    "PERSON_ACTIVE",
    "InquiryStatus",
    "event_name",
    "is_final",
    "is_terminal",
    "parse_status",
]

logger = logging.getLogger(__name__)


class InquiryStatus(StrEnum):
    """The inquiry statuses Persona documents; values are the wire values."""

    created = "created"
    """Created; the person has not started."""
    pending = "pending"
    """The person started (Persona's event: `inquiry.started`)."""
    completed = "completed"
    """The person finished every step; not yet a decision."""
    failed = "failed"
    """The person ran out of attempts."""
    expired = "expired"
    """Time ran out before the person finished; can be resumed."""
    needs_review = "needs_review"
    """Waiting for a human (Persona's event: `inquiry.marked-for-review`)."""
    approved = "approved"
    """Decision: approved."""
    declined = "declined"
    """Decision: declined."""


#: Decisions that do not change any more.
FINAL_DECISIONS: Final = frozenset({InquiryStatus.approved, InquiryStatus.declined})
#: Statuses in which the person is still working and the inquiry can expire.
PERSON_ACTIVE: Final = frozenset({InquiryStatus.created, InquiryStatus.pending})

_EVENT_NAMES: Final = {
    InquiryStatus.pending: "inquiry.started",
    InquiryStatus.needs_review: "inquiry.marked-for-review",
}
_reported_unknown: set[str] = set()


def parse_status(raw: str) -> InquiryStatus | None:
    """Map Persona's status string to the enum; an unknown value is logged once, then None."""
    try:
        return InquiryStatus(raw)
    except ValueError:
        if raw not in _reported_unknown:
            _reported_unknown.add(raw)
            logger.warning("unknown inquiry status %r: treated as not terminal", raw[:40])
        return None


def is_terminal(raw: str, terminal: Collection[str]) -> bool:
    """Whether polling stops at this status, given the configured terminal set."""
    status = parse_status(raw)
    return status is not None and status in terminal


def is_final(raw: str) -> bool:
    """Whether the status is a decision that will not change."""
    return raw in FINAL_DECISIONS


def event_name(raw: str) -> str:
    """The result event name for a status, following Persona's own event names."""
    status = parse_status(raw)
    if status is None:
        return "inquiry.status-unknown"
    return _EVENT_NAMES.get(status, f"inquiry.{status.value}")

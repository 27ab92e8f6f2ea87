"""What an inquiry's status means for the pipeline (pure rules, no I/O).

Persona's statuses: `created` and `pending` while the person works; `completed` and `failed`
when the person is done (not a decision); `expired` when time ran out (it can be resumed);
`needs_review` while a human looks; `approved` and `declined` as decisions. Persona warns the
list is open-ended, so an unknown status is never terminal: we keep following it and log it
once per process.

The list itself is `settings.InquiryStatus`, re-exported here: the settings check
`POLL_TERMINAL_STATUSES` against it when the process starts, and they import nothing of ours,
so the list has to live with them for there to be only one. The subsets are named there too
(`DECISION_STATUSES`, `DEFAULT_TERMINAL_STATUSES`); this module adds what the pipeline makes of
them, and `jobs.metrics` takes its status label values from the same list.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Final

from settings import DECISION_STATUSES, InquiryStatus

__all__ = [
    "FINAL_DECISIONS",
    "INQUIRY_EVENT_NAMES",
    "NOT_CHECKED",
    "PERSON_ACTIVE",
    "InquiryStatus",
    "event_name",
    "is_final",
    "is_terminal",
    "parse_status",
    "status_of_event",
]

logger = logging.getLogger(__name__)

#: Decisions that do not change any more.
FINAL_DECISIONS: Final = frozenset(DECISION_STATUSES)
#: Statuses in which the person is still working and the inquiry can expire.
PERSON_ACTIVE: Final = frozenset({InquiryStatus.created, InquiryStatus.pending})
#: The status a record holds before its first check (a poll or fetch request for an inquiry
#: created elsewhere); never one of Persona's.
NOT_CHECKED: Final = "unknown"

# Persona's own event names: `inquiry.{status}`, but for the two statuses named otherwise.
_EVENT_NAMES: Final = {
    status: {
        InquiryStatus.pending: "inquiry.started",
        InquiryStatus.needs_review: "inquiry.marked-for-review",
    }.get(status, f"inquiry.{status.value}")
    for status in InquiryStatus
}
_STATUS_OF_EVENT: Final = {name: status for status, name in _EVENT_NAMES.items()}
#: Every inquiry status event, in status order: what a webhook subscription of ours asks for.
INQUIRY_EVENT_NAMES: Final = tuple(_EVENT_NAMES.values())
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
    return _EVENT_NAMES[status]


def status_of_event(name: str) -> InquiryStatus | None:
    """The status a Persona inquiry event announces (`inquiry.started`: pending), if any."""
    return _STATUS_OF_EVENT.get(name)

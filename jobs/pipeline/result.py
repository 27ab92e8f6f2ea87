"""The result document published for an inquiry (pure: no I/O).

It carries what callers decide on (status, whether the decision is final, each verification's
status and checks) and timestamps. Inquiry `fields` hold PII, so only the keys named in
`PUBLISH_FIELDS` are copied, and only their values.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from jobs.documents import published_at
from jobs.persona.models import InquiryDocument, Verification
from jobs.policy.status import event_name, is_final

__all__ = ["build_result"]

_TIMESTAMPS = (
    "created_at",
    "started_at",
    "completed_at",
    "failed_at",
    "expired_at",
    "marked_for_review_at",
    "decisioned_at",
    "expires_at",
    "redacted_at",
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _verification(item: Verification) -> dict[str, Any]:
    return {
        "id": item.id,
        "type": item.type,
        "status": item.attributes.status,
        "created_at": _iso(item.attributes.created_at),
        "completed_at": _iso(item.attributes.completed_at),
        "checks": [
            {
                "name": check.name,
                "status": check.status,
                "requirement": check.requirement,
                "reasons": [reason for reason in check.reasons if reason is not None],
            }
            for check in item.attributes.checks
        ],
    }


def build_result(
    document: InquiryDocument,
    *,
    request_id: str,
    reference_id: str | None,
    publish_fields: Collection[str],
    now: float,
) -> dict[str, Any]:
    """The `data` of an inquiry's result event.

    Args:
        document: the inquiry as retrieved with `include=verifications`.
        request_id: the request this result answers (the create job id, or the poll request).
        reference_id: the caller's id for the person, when known.
        publish_fields: the inquiry field keys a setting allows into events.
        now: the moment of publication (`JobContext.clock`).
    """
    inquiry = document.data
    attributes = inquiry.attributes
    allowed = set(publish_fields)
    return {
        "event": event_name(attributes.status),
        "request_id": request_id,
        "inquiry_id": inquiry.id,
        "reference_id": reference_id or attributes.reference_id,
        "status": attributes.status,
        "final": is_final(attributes.status),
        "verifications": [_verification(item) for item in document.verifications()],
        "timestamps": {name: _iso(getattr(attributes, name)) for name in _TIMESTAMPS},
        "fields": {key: field.value for key, field in attributes.fields.items() if key in allowed},
        "published_at": published_at(now),
    }

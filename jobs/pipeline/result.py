"""The result document published for an inquiry (pure: no I/O).

It carries what callers decide on (status, whether the decision is final, each verification's
status and checks) and timestamps. Inquiry `fields` hold PII, so only the keys named in
`PUBLISH_FIELDS` are copied, and only their values.
"""

from __future__ import annotations

from collections.abc import Collection

from jobs.documents import ResultEvent, ResultTimestamps, ResultVerification, iso, published_at
from jobs.persona.models import InquiryAttributes, InquiryDocument, Verification
from jobs.policy.status import event_name, is_final

__all__ = ["build_result"]


def _verification(item: Verification) -> ResultVerification:
    return {
        "id": item.id,
        "type": item.type,
        "status": item.attributes.status,
        "created_at": iso(item.attributes.created_at),
        "completed_at": iso(item.attributes.completed_at),
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


def _timestamps(attributes: InquiryAttributes) -> ResultTimestamps:
    return {
        "created_at": iso(attributes.created_at),
        "started_at": iso(attributes.started_at),
        "completed_at": iso(attributes.completed_at),
        "failed_at": iso(attributes.failed_at),
        "expired_at": iso(attributes.expired_at),
        "marked_for_review_at": iso(attributes.marked_for_review_at),
        "decisioned_at": iso(attributes.decisioned_at),
        "expires_at": iso(attributes.expires_at),
        "redacted_at": iso(attributes.redacted_at),
    }


def build_result(
    document: InquiryDocument,
    *,
    request_id: str,
    reference_id: str | None,
    publish_fields: Collection[str],
    now: float,
) -> ResultEvent:
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
        "timestamps": _timestamps(attributes),
        "fields": {key: field.value for key, field in attributes.fields.items() if key in allowed},
        "published_at": published_at(now),
    }

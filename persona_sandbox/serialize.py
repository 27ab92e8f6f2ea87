"""Persona's JSON:API documents (API version 2025-12-08, kebab-case), built from records.

Every shape here follows Persona's 2025-12-08 OpenAPI (the copy the contract tests validate
against: `tests/contract/spec/`): all required attributes present, nulls where the schema allows
them, no attribute the schema does not name (`additionalProperties: false`), `included` empty
unless `include=` asks for objects. Field keys are never inflected. This is the only module that
knows the wire format of objects.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, Final

from persona_sandbox.records import (
    AccountRecord,
    CaseRecord,
    InquiryRecord,
    VerificationRecord,
)
from persona_sandbox.webhook_subscriptions import WebhookRecord

__all__ = [
    "account_resource",
    "case_resource",
    "dumps",
    "inquiry_resource",
    "iso",
    "verification_resource",
    "webhook_resource",
]

_TEMPLATE_TYPE: Final = {
    "verification/government-id": "government-id",
    "verification/selfie": "selfie",
    "verification/database": "database",
}


def iso(moment: datetime | None) -> str | None:
    """Persona's timestamp format, `2023-03-29T19:06:45.000Z` (UTC, milliseconds)."""
    if moment is None:
        return None
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def dumps(document: Any) -> bytes:
    """Compact UTF-8 JSON, as sent on the wire."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def _ref(kind: str, object_id: str | None) -> dict[str, Any]:
    return {"data": {"type": kind, "id": object_id} if object_id else None}


def _refs(items: Iterable[tuple[str, str]]) -> dict[str, Any]:
    return {"data": [{"type": kind, "id": object_id} for kind, object_id in items]}


def inquiry_resource(
    inquiry: InquiryRecord, verification_type: Callable[[str], str]
) -> dict[str, Any]:
    """The `inquiry` resource object.

    Args:
        inquiry: the record.
        verification_type: maps a verification id to its `type` (for the relationship).
    """
    return {
        "type": "inquiry",
        "id": inquiry.id,
        "attributes": {
            "status": inquiry.status,
            "reference-id": inquiry.reference_id,
            "note": inquiry.note,
            "behaviors": {},
            "tags": list(inquiry.tags),
            "creator": inquiry.creator,
            "reviewer-comment": inquiry.reviewer_comment,
            "created-at": iso(inquiry.created_at),
            "updated-at": iso(inquiry.updated_at),
            "started-at": iso(inquiry.started_at),
            "expires-at": iso(inquiry.expires_at),
            "completed-at": iso(inquiry.completed_at),
            "failed-at": iso(inquiry.failed_at),
            "marked-for-review-at": iso(inquiry.marked_for_review_at),
            "decisioned-at": iso(inquiry.decisioned_at),
            "expired-at": iso(inquiry.expired_at),
            "redacted-at": iso(inquiry.redacted_at),
            "previous-step-name": inquiry.previous_step_name,
            "next-step-name": inquiry.next_step_name,
            "fields": {
                key: {"type": item.type, "value": item.value}
                for key, item in inquiry.fields.items()
            },
        },
        "relationships": {
            "account": _ref("account", inquiry.account_id),
            "template": _ref("template", inquiry.template_id),
            "inquiry-template": _ref("inquiry-template", inquiry.inquiry_template_id),
            "inquiry-template-version": _ref(
                "inquiry-template-version", inquiry.inquiry_template_version_id
            ),
            "reviewer": {"data": None},
            "reports": {"data": []},
            "verifications": _refs(
                (verification_type(ver_id), ver_id) for ver_id in inquiry.verification_ids
            ),
            "sessions": _refs(("inquiry-session", session.id) for session in inquiry.sessions),
            "documents": {"data": []},
            "selfies": {"data": []},
            "transaction": {"data": None},
        },
    }


def _timestamp(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


def verification_resource(
    verification: VerificationRecord, inquiry: InquiryRecord | None
) -> dict[str, Any]:
    """A `verification/<type>` resource object.

    Args:
        verification: the record.
        inquiry: its inquiry, for the template relationships (None if unknown).
    """
    template_kind = _TEMPLATE_TYPE.get(verification.type, "government-id")
    attributes: dict[str, Any] = {
        "status": verification.status,
        "created-at": iso(verification.created_at),
        "created-at-ts": _timestamp(verification.created_at),
        "submitted-at": iso(verification.submitted_at),
        "submitted-at-ts": _timestamp(verification.submitted_at),
        "completed-at": iso(verification.completed_at),
        "completed-at-ts": _timestamp(verification.completed_at),
        "redacted-at": iso(verification.redacted_at),
        "country-code": verification.country_code,
        "tags": [],
        "checks": [
            {
                "name": check.name,
                "status": check.status,
                "reasons": list(check.reasons),
                "requirement": check.requirement,
                "metadata": {},
            }
            for check in verification.checks
        ],
    }
    attributes.update(verification.details)
    return {
        "type": verification.type,
        "id": verification.id,
        "attributes": attributes,
        "relationships": {
            "inquiry": _ref("inquiry", verification.inquiry_id),
            "template": _ref("template", inquiry.template_id if inquiry else None),
            "inquiry-template-version": _ref(
                "inquiry-template-version",
                inquiry.inquiry_template_version_id if inquiry else None,
            ),
            "inquiry-template": _ref(
                "inquiry-template", inquiry.inquiry_template_id if inquiry else None
            ),
            "transaction": {"data": None},
            "verification-template": _ref(
                f"verification-template/{template_kind}", verification.template_id
            ),
            "verification-template-version": _ref(
                f"verification-template-version/{template_kind}",
                verification.template_version_id,
            ),
        },
    }


def account_resource(account: AccountRecord) -> dict[str, Any]:
    """The `account` resource object (sandbox accounts carry no PII fields)."""
    return {
        "type": "account",
        "id": account.id,
        "attributes": {
            "reference-id": account.reference_id,
            "account-type-name": account.account_type_name,
            "created-at": iso(account.created_at),
            "updated-at": iso(account.updated_at),
            "redacted-at": None,
            "fields": {},
            "tags": [],
        },
        "relationships": {"account-type": _ref("account-type", account.account_type_id)},
    }


_CASE_RELATIONS: Final[Sequence[tuple[str, str | None]]] = (
    ("accounts", "account"),
    ("inquiries", "inquiry"),
    ("reports", None),
    ("verifications", None),
    ("txns", "transaction"),
)


def case_resource(case: CaseRecord, object_type: Callable[[str], str]) -> dict[str, Any]:
    """The `case` resource object.

    Args:
        case: the record.
        object_type: maps an attached object's id to its `type` (for polymorphic relations).
    """
    relationships: dict[str, Any] = {
        "case-template": _ref("case-template", case.template_id),
        "case-queue": _ref("case-queue", case.queue_id),
        "case-comments": {"data": []},
    }
    for name, kind in _CASE_RELATIONS:
        ids = case.object_ids.get(name, [])
        relationships[name] = _refs((kind or object_type(obj_id), obj_id) for obj_id in ids)
    return {
        "type": "case",
        "id": case.id,
        "attributes": {
            "status": case.status,
            "name": case.name,
            "resolution": None,
            "created-at": iso(case.created_at),
            "updated-at": iso(case.updated_at),
            "assigned-at": None,
            "resolved-at": iso(case.resolved_at),
            "redacted-at": None,
            "sla-expires-at": iso(case.sla_expires_at),
            "creator-id": case.creator_email,
            "creator-type": "user" if case.creator_email else None,
            "assignee-id": None,
            "assigner-id": None,
            "assigner-type": None,
            "resolver-id": None,
            "resolver-type": None,
            "updater-id": None,
            "updater-type": None,
            "tags": [],
            "fields": dict(case.fields),
            "attachments": [],
        },
        "relationships": relationships,
    }


def webhook_resource(webhook: WebhookRecord, *, with_secrets: bool) -> dict[str, Any]:
    """The `webhook` resource object; `with_secrets` for the answers that carry them
    (`webhook-with-secret`: create, retrieve, rotate), newest first."""
    attributes: dict[str, Any] = {
        "status": webhook.status,
        "url": webhook.url,
        "name": webhook.name,
        "description": webhook.description,
    }
    if with_secrets:
        # The newest secret never expires, so there is always one; `secret` is the
        # deprecated single-secret attribute, still sent.
        attributes["secret"] = webhook.secrets[0].value
        attributes["secrets"] = [
            {"value": secret.value, "expires-at": iso(secret.expires_at)}
            for secret in webhook.secrets
        ]
    attributes.update(
        {
            "api-version": webhook.api_version,
            "api-key-inflection": "kebab",
            "api-attributes-blocklist": [],
            "file-access-token-expires-in": 21_600,
            "enabled-events": list(webhook.enabled_events),
            "payload-filter": None,
            "included-allowlist": webhook.included_allowlist,
            "relationship-allowlist": {"state": "include_all"},
            "created-at": iso(webhook.created_at),
        }
    )
    return {"type": "webhook", "id": webhook.id, "attributes": attributes}

"""Simulated verifications: which checks run, and how a pass or a failure looks.

A sandbox person produces a government id and a selfie; simulate actions may also create a
database verification. Required checks decide a verification's status, optional ones are
informational (Persona's rule), so a "flagged" government id passes with one failed optional
check, which is why such inquiries go to review. Extracted attributes echo the inquiry's own
fields; nothing else is invented.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from persona_sandbox.ids import derived_id, new_id
from persona_sandbox.records import CheckRecord, FieldRecord, VerificationRecord

__all__ = [
    "GOVERNMENT_ID",
    "SELFIE",
    "initiate",
    "kind_for_template",
    "redact",
    "settle",
]

GOVERNMENT_ID: Final = "verification/government-id"
SELFIE: Final = "verification/selfie"
DATABASE: Final = "verification/database"

_REQUIRED: Final = "required"
_OPTIONAL: Final = "not_required"
#: (name, requirement, reason when it fails); the first required check is the one that fails.
_CHECKS: Final[Mapping[str, Sequence[tuple[str, str, str]]]] = {
    GOVERNMENT_ID: (
        ("id_expired_detection", _REQUIRED, "expired"),
        ("id_fabrication_detection", _REQUIRED, "fabricated"),
        ("id_tamper_detection", _REQUIRED, "tampered"),
        ("id_barcode_detection", _OPTIONAL, "barcode_not_detected"),
        ("id_po_box_detection", _OPTIONAL, "po_box_detected"),
    ),
    SELFIE: (
        ("selfie_id_comparison", _REQUIRED, "no_face_match"),
        ("selfie_liveness_detection", _REQUIRED, "liveness_not_detected"),
        ("selfie_pose_detection", _OPTIONAL, "pose_not_detected"),
    ),
    DATABASE: (
        ("database_identity_comparison", _REQUIRED, "no_match"),
        ("database_deceased_detection", _OPTIONAL, "deceased"),
    ),
}
_ADDRESS_KEYS: Final = (
    "address-street-1",
    "address-street-2",
    "address-city",
    "address-subdivision",
    "address-postal-code",
)
_NAME_KEYS: Final = ("name-first", "name-middle", "name-last", "birthdate")
_GOVERNMENT_ID_NULLS: Final = [
    "entity-confidence-score",
    "front-photo-url",
    "back-photo-url",
    "selfie-photo",
    "selfie-photo-url",
    "video-url",
    "id-class",
    "capture-method",
    "name-suffix",
    "native-name-first",
    "native-name-middle",
    "native-name-last",
    "native-name-title",
    "issuing-authority",
    "issuing-subdivision",
    "nationality",
    "document-number",
    "visa-status",
    "issue-date",
    "expiration-date",
    "birthplace",
    "endorsements",
    "height",
    "sex",
    "restrictions",
    "vehicle-class",
    "identification-number",
]
_SELFIE_NULLS: Final = [
    "capture-method",
    "center-photo-face-coordinates",
    "center-photo-url",
    "document-similarity-score",
    "left-photo-url",
    "right-photo-url",
    "selfie-similarity-score-left",
    "selfie-similarity-score-right",
    "video-url",
]
_DATABASE_NULLS: Final = [
    "phone-number",
    "email-address",
    "identification-number",
    "document-number",
    "document-issuing-date",
    "document-expiry-date",
    "document-issuing-subdivision",
    "normalized-address-street-1",
    "normalized-address-street-2",
    "normalized-address-city",
    "normalized-address-subdivision",
    "normalized-address-postal-code",
]


def kind_for_template(template_id: str) -> str:
    """The verification type a simulate action's `verification-template-id` stands for.

    Sandbox rule: an id containing `selfie` is a selfie template, one containing `database` a
    database template, any other `vtmpl_` id a government-id template.
    """
    lowered = template_id.lower()
    if "selfie" in lowered:
        return SELFIE
    if "database" in lowered:
        return DATABASE
    return GOVERNMENT_ID


def _blank_details(kind: str) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if kind == GOVERNMENT_ID:
        details = dict.fromkeys(_GOVERNMENT_ID_NULLS)
        details.update(dict.fromkeys(_NAME_KEYS + _ADDRESS_KEYS))
        details.update(
            {
                "entity-confidence-reasons": [],
                "photo-urls": [],
                "designations": [],
                "from-reusable-persona": False,
            }
        )
    elif kind == SELFIE:
        details = dict.fromkeys(_SELFIE_NULLS)
        details.update(
            {"entity-confidence-reasons": [], "photo-urls": [], "from-reusable-persona": False}
        )
    else:
        details = dict.fromkeys(_NAME_KEYS + _ADDRESS_KEYS + tuple(_DATABASE_NULLS))
    return details


def initiate(
    kind: str, inquiry_id: str, template_id: str | None, at: datetime
) -> VerificationRecord:
    """A new verification in status `initiated`, with no checks run yet.

    Args:
        kind: the verification type, e.g. `verification/government-id`.
        inquiry_id: the inquiry it belongs to.
        template_id: its `vtmpl_` template; derived from the inquiry when None.
        at: creation time.
    """
    template = template_id or derived_id("vtmpl_", f"{inquiry_id}:{kind}")
    return VerificationRecord(
        id=new_id("ver_"),
        type=kind,
        inquiry_id=inquiry_id,
        template_id=template,
        template_version_id=derived_id("vtmplv_", template),
        status="initiated",
        created_at=at,
        details=_blank_details(kind),
    )


def settle(
    verification: VerificationRecord,
    *,
    passed: bool,
    flagged: bool,
    at: datetime,
    fields: Mapping[str, FieldRecord],
) -> None:
    """Submit and complete a verification: run its checks and fill what it extracted.

    Args:
        verification: the verification to finish (changed in place).
        passed: whether every required check passes; if not, the first required check fails.
        flagged: whether an optional check fails (the verification still passes if `passed`).
        at: submission and completion time.
        fields: the inquiry's fields, echoed into extracted attributes.
    """
    checks = []
    failed_required = failed_optional = False
    for name, requirement, reason in _CHECKS[verification.type]:
        fails = False
        if requirement == _REQUIRED and not passed and not failed_required:
            fails = failed_required = True
        elif requirement == _OPTIONAL and flagged and not failed_optional:
            fails = failed_optional = True
        checks.append(
            CheckRecord(
                name, "failed" if fails else "passed", requirement, [reason] if fails else []
            )
        )
    verification.checks = checks
    verification.status = "passed" if passed else "failed"
    verification.submitted_at = verification.completed_at = at
    country = fields.get("address-country-code")
    verification.country_code = country.value if country and country.value else "US"
    _extract(verification, passed=passed, fields=fields)


def _extract(
    verification: VerificationRecord, *, passed: bool, fields: Mapping[str, FieldRecord]
) -> None:
    details = verification.details
    for key in _NAME_KEYS + _ADDRESS_KEYS:
        if key in details:
            item = fields.get(key)
            details[key] = item.value if item and isinstance(item.value, str) else None
    if verification.type == GOVERNMENT_ID:
        details.update(
            {
                "id-class": "dl",
                "capture-method": "upload",
                "issue-date": "2020-07-28",
                "expiration-date": "2030-07-28" if passed else "2021-07-28",
                "entity-confidence-score": 96.5 if passed else 12.0,
            }
        )
    elif verification.type == SELFIE:
        details.update(
            {"capture-method": "photo", "document-similarity-score": 0.94 if passed else 0.08}
        )


def redact(verification: VerificationRecord, at: datetime) -> None:
    """Remove the personal data a verification extracted."""
    for key, value in verification.details.items():
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            verification.details[key] = None
    verification.redacted_at = at

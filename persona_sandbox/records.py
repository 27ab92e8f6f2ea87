"""The sandbox's stored objects: plain mutable records, one per Persona object.

Records hold Python values (datetimes, lists); `serialize` turns them into Persona's JSON:API
documents. Keeping the two apart lets the state machine work on typed fields and keeps every
wire-format rule in one module.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from persona_sandbox.timeline import PlannedStep, Scenario

__all__ = [
    "AccountRecord",
    "CaseRecord",
    "CheckRecord",
    "FieldRecord",
    "InquiryRecord",
    "RelationRecord",
    "SessionRecord",
    "VerificationRecord",
]


@dataclass(slots=True)
class FieldRecord:
    """One inquiry field as Persona returns it: an open-ended type and a value."""

    type: str
    value: Any


@dataclass(slots=True)
class CheckRecord:
    """One check of a verification."""

    name: str
    status: str
    requirement: str
    reasons: list[str] = field(default_factory=list)


@dataclass(slots=True)
class VerificationRecord:
    """A verification attempt of one type."""

    id: str
    type: str
    """`verification/government-id`, `verification/selfie` or `verification/database`."""
    inquiry_id: str
    template_id: str
    template_version_id: str
    status: str
    created_at: datetime
    submitted_at: datetime | None = None
    completed_at: datetime | None = None
    redacted_at: datetime | None = None
    country_code: str | None = None
    checks: list[CheckRecord] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    """Type-specific attributes (kebab-case keys), e.g. `id-class`, `name-first`."""


@dataclass(slots=True)
class SessionRecord:
    """An inquiry session: what a session token or one-time link opens."""

    id: str
    token: str
    expires_at: datetime


@dataclass(slots=True)
class InquiryRecord:
    """An inquiry and the private bookkeeping that drives its scenario."""

    id: str
    seq: int
    status: str
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    template_id: str | None
    inquiry_template_id: str | None
    inquiry_template_version_id: str | None
    account_id: str | None
    reference_id: str | None
    note: str | None
    tags: list[str]
    fields: dict[str, FieldRecord]
    redirect_uri: str | None = None
    creator: str = "API"
    reviewer_comment: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    failed_at: datetime | None = None
    marked_for_review_at: datetime | None = None
    decisioned_at: datetime | None = None
    expired_at: datetime | None = None
    redacted_at: datetime | None = None
    previous_step_name: str | None = None
    next_step_name: str | None = "start"
    verification_ids: list[str] = field(default_factory=list)
    sessions: list[SessionRecord] = field(default_factory=list)
    start_interval_s: float | None = None
    resume_interval_s: float | None = None
    scenario: Scenario | None = None
    autonomous: bool = True
    """Whether the scenario still drives the inquiry (false after any manual action)."""
    plan: deque[PlannedStep] = field(default_factory=deque)


@dataclass(slots=True)
class AccountRecord:
    """An account; inquiries created with a reference id share one."""

    id: str
    reference_id: str | None
    account_type_id: str
    created_at: datetime
    updated_at: datetime
    account_type_name: str = "User"


@dataclass(slots=True)
class RelationRecord:
    """A relation from one account to another under a relation-schema key."""

    source_id: str
    key: str
    target_id: str
    created_at: datetime


@dataclass(slots=True)
class CaseRecord:
    """A case and the objects attached to it."""

    id: str
    name: str
    status: str
    template_id: str
    created_at: datetime
    updated_at: datetime
    queue_id: str | None = None
    creator_email: str | None = None
    resolved_at: datetime | None = None
    sla_expires_at: datetime | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    object_ids: dict[str, list[str]] = field(default_factory=dict)
    """Attached object ids by relationship name (`inquiries`, `accounts`, ...)."""

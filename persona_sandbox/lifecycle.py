"""What each inquiry action does: timestamps, sessions, verifications and the events recorded.

`transitions` decides whether an action may run; `Machine` carries it out and records one event
per change: `inquiry.started/completed/failed/expired/marked-for-review/approved/declined/
redacted`, `inquiry.transitioned` when a resume turns `expired` into `pending`, and
`verification.created/submitted/passed/failed/canceled` for verifications. `advance` applies
the scenario steps and the expiry that fell due, each at the time it was due.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import datetime, timedelta

from persona_sandbox import verifications as vf
from persona_sandbox.ids import new_id
from persona_sandbox.records import InquiryRecord, SessionRecord, VerificationRecord
from persona_sandbox.timeline import Finish, PlannedStep, StepKind
from persona_sandbox.transitions import LIVE

__all__ = ["Emit", "Machine"]

Emit = Callable[[str, datetime, InquiryRecord | VerificationRecord], None]


class Machine:
    """Applies actions and scenario steps to inquiries, recording events.

    Args:
        verifications: the store of verification records (shared with the state).
        emit: records an event for an inquiry or verification after it changed.
        expiry_s: default lifetime of an inquiry, also after a resume.
    """

    def __init__(
        self, verifications: dict[str, VerificationRecord], emit: Emit, expiry_s: float
    ) -> None:
        self._verifications = verifications
        self._emit = emit
        self._expiry_s = expiry_s

    def _touch(self, inquiry: InquiryRecord, status: str, at: datetime, event: str) -> None:
        inquiry.status = status
        inquiry.updated_at = at
        self._emit(event, at, inquiry)

    def start(self, inquiry: InquiryRecord, at: datetime) -> None:
        """created -> pending."""
        inquiry.started_at = at
        inquiry.previous_step_name, inquiry.next_step_name = "start", "verification_government_id"
        if inquiry.start_interval_s is not None:
            inquiry.expires_at = at + timedelta(seconds=inquiry.start_interval_s)
        self._touch(inquiry, "pending", at, "inquiry.started")

    def _conclude(
        self, inquiry: InquiryRecord, at: datetime, status: str, steps: tuple[str, str]
    ) -> None:
        """created/pending -> `status` (completed or failed), starting a created one first.

        The `<status>_at` timestamp and the steps are set before the event is recorded, and
        only after `inquiry.started`, whose payload must not show them yet.
        """
        if inquiry.status == "created":
            self.start(inquiry, at)
        setattr(inquiry, f"{status}_at", at)
        inquiry.previous_step_name, inquiry.next_step_name = steps
        self._touch(inquiry, status, at, f"inquiry.{status}")

    def complete(self, inquiry: InquiryRecord, at: datetime) -> None:
        """created/pending -> completed (starting a created inquiry first)."""
        self._conclude(inquiry, at, "completed", ("verification_selfie", "success"))

    def fail(self, inquiry: InquiryRecord, at: datetime) -> None:
        """created/pending -> failed (starting a created inquiry first)."""
        self._conclude(inquiry, at, "failed", ("verification_government_id", "fail"))

    def expire(self, inquiry: InquiryRecord, at: datetime) -> None:
        """-> expired; sessions end and initiated verifications are canceled."""
        inquiry.expired_at = at
        inquiry.plan.clear()
        for session in inquiry.sessions:
            session.expires_at = min(session.expires_at, at)
        for ver_id in inquiry.verification_ids:
            verification = self._verifications[ver_id]
            if verification.status == "initiated":
                verification.status = "canceled"
                verification.completed_at = at
                self._emit("verification.canceled", at, verification)
        self._touch(inquiry, "expired", at, "inquiry.expired")

    def mark_for_review(self, inquiry: InquiryRecord, at: datetime) -> None:
        """-> needs_review."""
        inquiry.marked_for_review_at = at
        self._touch(inquiry, "needs_review", at, "inquiry.marked-for-review")

    def decide(
        self, inquiry: InquiryRecord, status: str, at: datetime, comment: str | None = None
    ) -> None:
        """-> approved or declined, with an optional reviewer comment."""
        inquiry.decisioned_at = at
        if comment is not None:
            inquiry.reviewer_comment = comment
        self._touch(inquiry, status, at, f"inquiry.{status}")

    def resume(self, inquiry: InquiryRecord, at: datetime) -> SessionRecord:
        """Reuse or open a session; an expired inquiry becomes pending with a new expiry."""
        if inquiry.status == "expired":
            inquiry.expired_at = None
            interval = inquiry.resume_interval_s or self._expiry_s
            inquiry.expires_at = at + timedelta(seconds=interval)
            self._touch(inquiry, "pending", at, "inquiry.transitioned")
        for session in reversed(inquiry.sessions):
            if session.expires_at > at:
                return session
        return self.open_session(inquiry, at)

    def open_session(self, inquiry: InquiryRecord, at: datetime) -> SessionRecord:
        """A new inquiry session, valid until the inquiry's current expiry."""
        session_id = new_id("iqse_")
        session = SessionRecord(session_id, _session_token(session_id), inquiry.expires_at)
        inquiry.sessions.append(session)
        inquiry.updated_at = at
        return session

    def redact(self, inquiry: InquiryRecord, at: datetime) -> None:
        """Erase the inquiry's and its verifications' personal data."""
        for item in inquiry.fields.values():
            item.value = None
        for ver_id in inquiry.verification_ids:
            vf.redact(self._verifications[ver_id], at)
        inquiry.redacted_at = at
        inquiry.plan.clear()
        inquiry.updated_at = at
        self._emit("inquiry.redacted", at, inquiry)

    def add_verification(
        self,
        inquiry: InquiryRecord,
        kind: str,
        at: datetime,
        *,
        template_id: str | None = None,
        passed: bool | None = None,
        flagged: bool = False,
    ) -> VerificationRecord:
        """Create a verification; settle it at once when `passed` is given.

        A created inquiry is started by its first verification (Persona's `inquiry.started`).
        """
        verification = vf.initiate(kind, inquiry.id, template_id, at)
        self._verifications[verification.id] = verification
        inquiry.verification_ids.append(verification.id)
        inquiry.updated_at = at
        self._emit("verification.created", at, verification)
        if inquiry.status == "created":
            self.start(inquiry, at)
        if passed is not None:
            self.settle(inquiry, verification, passed=passed, flagged=flagged, at=at)
        return verification

    def settle(
        self,
        inquiry: InquiryRecord,
        verification: VerificationRecord,
        *,
        passed: bool,
        flagged: bool,
        at: datetime,
    ) -> None:
        """Submit a verification and decide it."""
        vf.settle(verification, passed=passed, flagged=flagged, at=at, fields=inquiry.fields)
        self._emit("verification.submitted", at, verification)
        self._emit(f"verification.{verification.status}", at, verification)

    def apply_step(self, inquiry: InquiryRecord, step: PlannedStep) -> None:
        """Apply one scenario step."""
        at = step.at
        if step.kind is StepKind.start:
            self.add_verification(inquiry, vf.GOVERNMENT_ID, at)
        elif step.kind is StepKind.finish:
            self._finish(inquiry, Finish(step.result), at)
        elif step.result == "needs_review":
            self.mark_for_review(inquiry, at)
        else:
            self.decide(inquiry, step.result, at)

    def _finish(self, inquiry: InquiryRecord, finish: Finish, at: datetime) -> None:
        government_id = next(
            (
                self._verifications[ver_id]
                for ver_id in reversed(inquiry.verification_ids)
                if self._verifications[ver_id].type == vf.GOVERNMENT_ID
                and self._verifications[ver_id].status == "initiated"
            ),
            None,
        ) or self.add_verification(inquiry, vf.GOVERNMENT_ID, at)
        id_passes = finish is not Finish.id_failed
        flagged = finish is Finish.flagged
        self.settle(inquiry, government_id, passed=id_passes, flagged=flagged, at=at)
        inquiry.previous_step_name = "verification_government_id"
        inquiry.next_step_name = "verification_selfie"
        selfie_passes = finish is not Finish.selfie_failed
        self.add_verification(inquiry, vf.SELFIE, at, passed=selfie_passes)
        if id_passes:
            self.complete(inquiry, at)
        else:
            self.fail(inquiry, at)

    def advance(self, inquiry: InquiryRecord, now: datetime) -> None:
        """Apply every scenario step and the expiry that are due by `now`, in time order."""
        while True:
            step = inquiry.plan[0] if inquiry.plan else None
            expiry = inquiry.expires_at if inquiry.status in LIVE else None
            if step is not None and step.at <= now and (expiry is None or step.at < expiry):
                inquiry.plan.popleft()
                self.apply_step(inquiry, step)
            elif expiry is not None and expiry <= now:
                self.expire(inquiry, expiry)
            else:
                return


def _session_token(session_id: str) -> str:
    """A JWT-shaped session token naming the session (opaque to clients)."""

    def part(data: object) -> str:
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256'})}.{part({'sid': session_id})}.{new_id('sig_')[4:]}"

"""The sandbox's memory: inquiries, verifications, accounts and cases, brought up to date lazily.

Nothing runs in the background by default: whenever a request touches an inquiry, `inquiry()`
first applies every scenario step and expiry that became due (`Machine.advance`), with each
change stamped at the sandbox time it was due, so the answer and the event log look exactly as
if the inquiry had progressed on its own. Every method is synchronous; the request pipeline
never awaits in the middle of a change, so concurrent requests cannot interleave inside one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from persona_sandbox.clock import Clock
from persona_sandbox.config import SandboxConfig
from persona_sandbox.directory import Directory
from persona_sandbox.errors import not_found, stored, unprocessable
from persona_sandbox.events import EventLog
from persona_sandbox.ids import derived_id, new_id
from persona_sandbox.lifecycle import Machine
from persona_sandbox.records import (
    AccountRecord,
    FieldRecord,
    InquiryRecord,
    VerificationRecord,
)
from persona_sandbox.report_rules import ReportRecord
from persona_sandbox.serialize import account_resource, inquiry_resource, verification_resource
from persona_sandbox.timeline import Outcome, Scenario, choose_scenario, plan_steps

__all__ = ["DEFAULT_FIELDS", "NewInquiry", "SandboxState"]

#: The inquiry fields every sandbox template has (Persona's default fields), shown even if null.
DEFAULT_FIELDS: Final = (
    "name-first",
    "name-middle",
    "name-last",
    "address-street-1",
    "address-street-2",
    "address-city",
    "address-subdivision",
    "address-postal-code",
    "address-country-code",
    "birthdate",
    "email-address",
    "phone-number",
    "identification-number",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class NewInquiry:
    """A validated create request."""

    template_id: str | None = None
    inquiry_template_id: str | None = None
    inquiry_template_version_id: str | None = None
    account_id: str | None = None
    reference_id: str | None = None
    auto_create_account: bool = True
    note: str | None = None
    redirect_uri: str | None = None
    creator: str = "API"
    tags: tuple[str, ...] = ()
    fields: Mapping[str, Any] | None = None
    create_interval_s: float | None = None
    start_interval_s: float | None = None
    resume_interval_s: float | None = None


def field_type(key: str, value: Any) -> str:
    """Persona's field type for a plain value."""
    if key == "birthdate":
        return "date"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "hash"
    return "string"


class SandboxState:
    """All objects of one sandbox, and the rules that move inquiries forward.

    Args:
        config: the sandbox configuration (timeline defaults, expiry).
        clock: sandbox time.
        events: the event log to record into (a new one by default).
    """

    def __init__(self, config: SandboxConfig, clock: Clock, events: EventLog | None = None) -> None:
        self.config = config
        self.clock = clock
        self.events = events or EventLog(config.max_events)
        self.account_type_id = derived_id("acttp_", config.environment_id)
        self.reset()

    def reset(self) -> None:
        """Forget every object and event (event subscribers stay)."""
        self.inquiries: dict[str, InquiryRecord] = {}
        self.order: list[InquiryRecord] = []
        self.verifications: dict[str, VerificationRecord] = {}
        self.accounts: dict[str, AccountRecord] = {}
        self._accounts_by_reference: dict[str, AccountRecord] = {}
        self.machine = Machine(self.verifications, self._emit, self.config.expiry_s)
        self.events.clear()
        self.directory = Directory(self)
        self.reports: dict[str, ReportRecord] = {}

    # --- events and documents ------------------------------------------------------------

    def _emit(self, name: str, at: datetime, obj: InquiryRecord | VerificationRecord) -> None:
        if isinstance(obj, InquiryRecord):
            data, inquiry_id = self.inquiry_resource(obj), obj.id
        else:
            data, inquiry_id = self.verification_resource(obj), obj.inquiry_id
        self.events.record(name, at, {"data": data, "included": []}, inquiry_id=inquiry_id)

    def verification_type(self, verification_id: str) -> str:
        """The `type` of a stored verification."""
        return self.verifications[verification_id].type

    def inquiry_resource(self, inquiry: InquiryRecord) -> dict[str, Any]:
        """The inquiry as the API shows it."""
        return inquiry_resource(inquiry, self.verification_type)

    def verification_resource(self, verification: VerificationRecord) -> dict[str, Any]:
        """The verification as the API shows it."""
        return verification_resource(verification, self.inquiries.get(verification.inquiry_id))

    def included(self, inquiry: InquiryRecord, include: Iterable[str]) -> list[dict[str, Any]]:
        """The objects `include=` asks for that the sandbox stores (verifications, account)."""
        objects: list[dict[str, Any]] = []
        names = set(include)
        if "verifications" in names:
            objects.extend(
                self.verification_resource(self.verifications[ver_id])
                for ver_id in inquiry.verification_ids
            )
        if "account" in names and inquiry.account_id in self.accounts:
            objects.append(account_resource(self.accounts[inquiry.account_id]))
        return objects

    # --- lookups (each brings the inquiry up to now) -----------------------------------

    def inquiry(self, inquiry_id: str, now: datetime | None = None) -> InquiryRecord:
        """A stored inquiry, advanced to `now`.

        Raises:
            RefusalError: 404 when there is no such inquiry.
        """
        inquiry = stored(self.inquiries, inquiry_id, "inquiry")
        self.machine.advance(inquiry, now or self.clock.now())
        return inquiry

    def verification(self, verification_id: str, now: datetime | None = None) -> VerificationRecord:
        """A stored verification, its inquiry advanced to `now` first.

        Raises:
            RefusalError: 404 when there is no such verification.
        """
        verification = stored(self.verifications, verification_id, "verification")
        self.inquiry(verification.inquiry_id, now)
        return verification

    def advance_all(self, now: datetime | None = None) -> None:
        """Advance every inquiry that still has steps or may expire (background passes)."""
        moment = now or self.clock.now()
        for inquiry in self.order:
            if inquiry.plan or inquiry.status in ("created", "pending"):
                self.machine.advance(inquiry, moment)

    def end_scenario(self, inquiry: InquiryRecord) -> None:
        """A manual action took over: the scenario no longer moves this inquiry."""
        inquiry.autonomous = False
        inquiry.plan.clear()

    def replan_after_resume(self, inquiry: InquiryRecord, at: datetime) -> None:
        """Restart the remaining scenario steps of a resumed, still autonomous inquiry."""
        if inquiry.autonomous and inquiry.scenario is not None:
            inquiry.plan.clear()
            self._plan(inquiry, inquiry.scenario, at, started=True)

    def _plan(
        self, inquiry: InquiryRecord, scenario: Scenario, at: datetime, *, started: bool
    ) -> None:
        """Queue the scenario's steps from `at`, timed by the configured decision delays."""
        inquiry.plan.extend(
            plan_steps(
                scenario,
                at,
                started=started,
                decision_after_s=self.config.decision_after_s,
                review_after_s=self.config.review_after_s,
            )
        )

    # --- creation ------------------------------------------------------------------------

    def _account_for(self, spec: NewInquiry, now: datetime) -> AccountRecord | None:
        if spec.account_id is not None:
            account = self.accounts.get(spec.account_id)
            if account is None:
                raise not_found(f"data.attributes.account-id {spec.account_id!r} is not found")
            if spec.reference_id is not None and spec.reference_id != account.reference_id:
                raise unprocessable(
                    "meta.auto-create-account-reference-id does not match the account's "
                    "reference id",
                    "/meta/auto-create-account-reference-id",
                )
            return account
        if spec.reference_id is not None:
            return self.account_by_reference(spec.reference_id, now)
        if spec.auto_create_account:
            return self._new_account(None, now)
        return None

    def _new_account(self, reference_id: str | None, now: datetime) -> AccountRecord:
        account = AccountRecord(new_id("act_"), reference_id, self.account_type_id, now, now)
        self.accounts[account.id] = account
        if reference_id is not None:
            self._accounts_by_reference[reference_id] = account
        return account

    def account_by_reference(self, reference_id: str, now: datetime) -> AccountRecord:
        """The account with this reference id, created on first use."""
        account = self._accounts_by_reference.get(reference_id)
        return account or self._new_account(reference_id, now)

    def create_inquiry(self, spec: NewInquiry, now: datetime) -> InquiryRecord:
        """Store a new inquiry, give it its scenario and record `inquiry.created`.

        Raises:
            RefusalError: 404 for an unknown account, 422 for a bad sandbox note.
        """
        inquiry_id = new_id("inq_")
        try:
            scenario = choose_scenario(
                inquiry_id,
                spec.note,
                mix=self.config.outcome_mix,
                delay_range_s=self.config.delay_range_s,
            )
        except ValueError as exc:
            raise unprocessable(f"data.attributes.note: {exc}", "/data/attributes/note") from None
        account = self._account_for(spec, now)
        lifetime = spec.create_interval_s or self.config.expiry_s
        expires_at = now + timedelta(seconds=lifetime)
        if scenario.outcome is Outcome.expired:
            expires_at = min(expires_at, now + timedelta(seconds=scenario.delay_s))
        fields = {key: FieldRecord(field_type(key, None), None) for key in DEFAULT_FIELDS}
        for key, value in (spec.fields or {}).items():
            fields[key] = FieldRecord(field_type(key, value), value)
        template_version = spec.inquiry_template_version_id
        template = spec.inquiry_template_id
        if template and not template_version:
            template_version = derived_id("itmplv_", template)
        elif template_version and not template:
            template = derived_id("itmpl_", template_version)
        inquiry = InquiryRecord(
            id=inquiry_id,
            seq=len(self.order),
            status="created",
            created_at=now,
            updated_at=now,
            expires_at=expires_at,
            template_id=spec.template_id,
            inquiry_template_id=template,
            inquiry_template_version_id=template_version,
            account_id=account.id if account else None,
            reference_id=account.reference_id if account else spec.reference_id,
            note=spec.note,
            tags=list(spec.tags),
            fields=fields,
            redirect_uri=spec.redirect_uri,
            creator=spec.creator,
            start_interval_s=spec.start_interval_s,
            resume_interval_s=spec.resume_interval_s,
            scenario=scenario,
        )
        self._plan(inquiry, scenario, now, started=False)
        self.inquiries[inquiry.id] = inquiry
        self.order.append(inquiry)
        self._emit("inquiry.created", now, inquiry)
        return inquiry

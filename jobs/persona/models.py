"""Typed views of Persona's JSON:API documents (API version 2025-12-08).

Persona answers in kebab-case and warns that statuses, types and attributes are open-ended,
so every model here tolerates unknown values and ignores unknown attributes: an attribute we
do not model is dropped, never an error. That also keeps PII that Persona may add to a
verification out of our objects unless a model names it. Inquiry PII lives in
`attributes.fields` (`{"name-first": {"type": "string", "value": "Jane"}}`) and field keys
are never inflected.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

__all__ = [
    "Account",
    "AccountAttributes",
    "AccountList",
    "Case",
    "CaseAttributes",
    "Check",
    "FieldValue",
    "IncludedAllowlist",
    "IncludedEventType",
    "Inquiry",
    "InquiryAttributes",
    "InquiryDocument",
    "InquiryList",
    "InquiryMeta",
    "Links",
    "RateLimit",
    "RateLimitAttributes",
    "RateLimitList",
    "Relationship",
    "Report",
    "ReportAttributes",
    "ReportDocument",
    "ResourceIdentifier",
    "Verification",
    "VerificationAttributes",
    "VerificationDocument",
    "Webhook",
    "WebhookAttributes",
    "WebhookDocument",
    "WebhookList",
    "WebhookSecret",
]


def _kebab(name: str) -> str:
    return name.replace("_", "-")


class PersonaModel(BaseModel):
    """Base for Persona objects: kebab-case on the wire, unknown keys ignored."""

    model_config = ConfigDict(
        alias_generator=_kebab, populate_by_name=True, extra="ignore", frozen=True
    )


class ResourceIdentifier(PersonaModel):
    """A `{type, id}` pointer to another object."""

    type: str
    id: str


class Relationship(PersonaModel):
    """A relationship's `data`: one identifier, a list of them, or null."""

    data: ResourceIdentifier | list[ResourceIdentifier] | None = None

    @field_validator("data", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        # Persona writes an empty to-one relationship as `{}` as well as `null`.
        if isinstance(value, dict) and not value:
            return None
        return value

    def ids(self) -> list[str]:
        """The related objects' ids, whatever the cardinality."""
        if self.data is None:
            return []
        if isinstance(self.data, list):
            return [item.id for item in self.data]
        return [self.data.id]


class FieldValue(PersonaModel):
    """One inquiry field: its Persona type (open-ended) and value."""

    type: str | None = None
    value: Any = None


class InquiryAttributes(PersonaModel):
    """The inquiry attributes the worker reads; the rest are ignored."""

    status: str
    reference_id: str | None = None
    note: str | None = None
    tags: list[str | None] = Field(default_factory=list)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    started_at: datetime | None = None
    expires_at: datetime | None = None
    completed_at: datetime | None = None
    failed_at: datetime | None = None
    marked_for_review_at: datetime | None = None
    decisioned_at: datetime | None = None
    expired_at: datetime | None = None
    redacted_at: datetime | None = None
    reviewer_comment: str | None = None
    # Field keys are not inflected, so they need no alias; FieldValue handles `type`/`value`.
    fields: dict[str, FieldValue] = Field(default_factory=dict)


class Inquiry(PersonaModel):
    """An inquiry resource object."""

    type: str = "inquiry"
    id: str
    attributes: InquiryAttributes
    relationships: dict[str, Relationship] = Field(default_factory=dict)

    @property
    def status(self) -> str:
        """The inquiry's status, as Persona spells it."""
        return self.attributes.status

    @property
    def account_id(self) -> str | None:
        """The id of the account the inquiry belongs to, when Persona names one."""
        related = self.relationships.get("account")
        ids = related.ids() if related else []
        return ids[0] if ids else None


class Check(PersonaModel):
    """One check of a verification; only `required` checks decide the outcome."""

    name: str
    status: str
    reasons: list[str | None] = Field(default_factory=list)
    requirement: str | None = None


class VerificationAttributes(PersonaModel):
    """The verification attributes shared by every type (no PII)."""

    status: str
    created_at: datetime | None = None
    submitted_at: datetime | None = None
    completed_at: datetime | None = None
    country_code: str | None = None
    checks: list[Check] = Field(default_factory=list)


class Verification(PersonaModel):
    """A verification of any type (`verification/government-id`, `verification/selfie`, ...)."""

    type: str
    id: str
    attributes: VerificationAttributes


class InquiryMeta(PersonaModel):
    """The `meta` of create, resume and one-time-link answers."""

    session_token: str | None = None
    one_time_link: str | None = None
    one_time_link_short: str | None = None


class InquiryDocument(PersonaModel):
    """A single-inquiry answer: the inquiry, what `include=` asked for, and action meta."""

    data: Inquiry
    included: list[dict[str, Any]] = Field(default_factory=list)
    meta: InquiryMeta | None = None

    def verifications(self) -> list[Verification]:
        """The included verifications, in the order of the inquiry's relationship."""
        found = {
            item["id"]: Verification.model_validate(item)
            for item in self.included
            if str(item.get("type", "")).startswith("verification/")
        }
        related = self.data.relationships.get("verifications")
        order = related.ids() if related else []
        ordered = [found.pop(ver_id) for ver_id in order if ver_id in found]
        return ordered + list(found.values())


class Links(PersonaModel):
    """Pagination links of a list answer."""

    prev: str | None = None
    next: str | None = None


class InquiryList(PersonaModel):
    """A page of inquiries."""

    data: list[Inquiry]
    links: Links = Field(default_factory=Links)


class VerificationDocument(PersonaModel):
    """A single-verification answer."""

    data: Verification


class CaseAttributes(PersonaModel):
    """The case attributes the worker reads."""

    status: str | None = None
    name: str | None = None
    resolution: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    resolved_at: datetime | None = None


class Case(PersonaModel):
    """A case resource object."""

    type: str = "case"
    id: str
    attributes: CaseAttributes


class AccountAttributes(PersonaModel):
    """The account attributes the worker reads (no PII)."""

    reference_id: str | None = None
    account_status: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class Account(PersonaModel):
    """An account resource object."""

    type: str = "account"
    id: str
    attributes: AccountAttributes = Field(default_factory=AccountAttributes)


class AccountList(PersonaModel):
    """A page of accounts (or related objects of a relation)."""

    data: list[dict[str, Any]]
    links: Links = Field(default_factory=Links)


class ReportAttributes(PersonaModel):
    """The report attributes the worker reads: status, match and the echoed query.

    Matches are kept only as far as a summary needs them (`jobs.reports.summary`): the lists
    or sources that matched and how many entities each; the matched entities' own details
    (names, birthdates, articles) stay untyped and are never published.
    """

    status: str
    created_at: datetime | None = None
    completed_at: datetime | None = None
    has_match: bool | None = None
    # The query as Persona echoes it: top-level (watchlist, adverse media) or `query` (PEP).
    name_first: str | None = None
    name_middle: str | None = None
    name_last: str | None = None
    term: str | None = None
    birthdate: str | None = None
    country_code: str | None = None
    query: dict[str, Any] | None = None
    # The matches: `matched-lists` (watchlist), `result` (PEP), `related-sources` (adverse media).
    matched_lists: list[dict[str, Any]] | None = None
    result: Any = None
    related_sources: list[dict[str, Any]] | None = None


class Report(PersonaModel):
    """A report resource object (`report/watchlist`, `report/politically-exposed-person`, ...)."""

    type: str
    id: str
    attributes: ReportAttributes
    relationships: dict[str, Relationship] = Field(default_factory=dict)

    @property
    def status(self) -> str:
        """`pending`, `ready` or `errored` (open-ended, as Persona warns)."""
        return self.attributes.status


class ReportDocument(PersonaModel):
    """A single-report answer (create-a-report, retrieve-a-report)."""

    data: Report


class IncludedEventType(PersonaModel):
    """One entry of a custom `included-allowlist`: the relationships an event type includes."""

    event_type: str
    relationships: list[str] = Field(default_factory=list)


class IncludedAllowlist(PersonaModel):
    """Which related objects a webhook's payloads carry in `included`.

    `state` is `include_all`, `include_none` (Persona's default) or `custom`, the last with
    one `event-types` entry per event type (`inquiry`, `account`...).
    """

    state: str
    event_types: list[IncludedEventType] = Field(default_factory=list)

    def includes(self, event_type: str, relationship: str) -> bool:
        """Whether payloads of `event_type` events include the related `relationship`."""
        if self.state == "include_all":
            return True
        if self.state != "custom":
            return False
        return any(
            entry.event_type == event_type
            and ("*" in entry.relationships or relationship in entry.relationships)
            for entry in self.event_types
        )


class WebhookSecret(PersonaModel):
    """One signing secret of a webhook; `expires-at` is set on the old one during a rotation."""

    value: SecretStr
    expires_at: datetime | None = None


class WebhookAttributes(PersonaModel):
    """The webhook attributes the worker reads.

    `secrets` is only in the answers that carry them (create, retrieve, rotate), newest first
    as Persona lists them; list answers have none.
    """

    status: str | None = None
    url: str | None = None
    name: str | None = None
    enabled_events: list[str] = Field(default_factory=list)
    included_allowlist: IncludedAllowlist | None = None
    secrets: list[WebhookSecret] = Field(default_factory=list)
    created_at: datetime | None = None


class Webhook(PersonaModel):
    """A webhook subscription: where Persona sends which events, signed with which secrets."""

    type: str = "webhook"
    id: str
    attributes: WebhookAttributes

    def includes(self, event_type: str, relationship: str) -> bool:
        """Whether its payloads of `event_type` events include `relationship` in `included`."""
        allowlist = self.attributes.included_allowlist
        return allowlist is not None and allowlist.includes(event_type, relationship)


class WebhookDocument(PersonaModel):
    """A single-webhook answer."""

    data: Webhook


class WebhookList(PersonaModel):
    """A page of webhooks, newest first."""

    data: list[Webhook]
    links: Links = Field(default_factory=Links)


class RateLimitAttributes(PersonaModel):
    """One rate limit: requests allowed and left in the current window."""

    limit: int | None = None
    remaining: int | None = None
    seconds_to_reset: int | None = None


class RateLimit(PersonaModel):
    """A rate limit of the environment (`rate-limit/api`: the API request limit)."""

    type: str
    attributes: RateLimitAttributes = Field(default_factory=RateLimitAttributes)


class RateLimitList(PersonaModel):
    """The answer of `list-all-rate-limits`."""

    data: list[RateLimit]

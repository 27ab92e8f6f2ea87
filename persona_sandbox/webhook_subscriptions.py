"""Webhook subscriptions made through the API (`POST /webhooks`), and what they deliver.

At Persona a webhook subscription names a URL, the events it wants (`enabled-events`), the
related objects its payloads include (`included-allowlist`) and its signing secrets, newest
first. Rotating the secret (`rotate-a-webhook-secret`) adds a new one and gives the current
one an `expires-at`; until then deliveries are signed with both, afterwards with the new one
only. The sandbox keeps the subscriptions here and lets the newest *enabled* one drive its one
delivery channel (`WebhookSettings`): its URL, its events, its valid secrets (signing with all
of them while a rotation runs) and the inquiry relationships its allowlist includes. Delivery
knobs the API has no word for (duplicates, reordering, retry compression) stay as configured.

New subscriptions start `disabled`, as in Persona's example answer; `enable-a-webhook` turns
one on. Persona documents no default for how long the old secret stays valid after a rotation
without `expires-in-seconds`: the sandbox keeps it `DEFAULT_ROTATION_EXPIRY_S`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from persona_sandbox.errors import stored
from persona_sandbox.ids import new_id
from persona_sandbox.webhook_settings import SECRET_PREFIX, WebhookSettings

__all__ = [
    "DEFAULT_ROTATION_EXPIRY_S",
    "SecretRecord",
    "WebhookRecord",
    "WebhookSubscriptions",
    "included_relationships",
    "normalized_allowlist",
]

#: How long the old secret stays valid after a rotation that names no expiry (sandbox seconds).
DEFAULT_ROTATION_EXPIRY_S: Final = 86_400
#: `included-allowlist` when none is given: Persona's default for new webhooks.
INCLUDE_NONE: Final[Mapping[str, Any]] = {"state": "include_none"}


@dataclass(slots=True)
class SecretRecord:
    """One signing secret; `expires_at` is set once a rotation replaced it."""

    value: str
    expires_at: datetime | None = None


@dataclass(slots=True)
class WebhookRecord:
    """One webhook subscription."""

    id: str
    name: str | None
    description: str | None
    url: str
    enabled_events: list[str]
    included_allowlist: dict[str, Any]
    created_at: datetime
    api_version: str
    status: str = "disabled"
    secrets: list[SecretRecord] = field(default_factory=list)

    def valid_secrets(self, now: datetime) -> list[SecretRecord]:
        """The secrets still valid at `now`, newest first."""
        return [s for s in self.secrets if s.expires_at is None or s.expires_at > now]


def _new_secret() -> str:
    return f"{SECRET_PREFIX}{uuid.uuid4()}"


def _subscribed(event_type: str, enabled_events: Sequence[str]) -> bool:
    """Whether any enabled event is one of `event_type`'s (`inquiry` for `inquiry.approved`)."""
    return any(name == "*" or name.startswith(f"{event_type}.") for name in enabled_events)


def normalized_allowlist(
    allowlist: Mapping[str, Any] | None, enabled_events: Sequence[str]
) -> dict[str, Any]:
    """The allowlist as Persona saves it.

    Event types listed but not subscribed to are dropped; a custom list whose entries are all
    `["*"]` becomes `include_all`; one left with no entries includes nothing.
    """
    if allowlist is None:
        return dict(INCLUDE_NONE)
    if allowlist.get("state") != "custom":
        return {"state": allowlist["state"]}
    kept = [
        {"event-type": entry["event-type"], "relationships": list(entry["relationships"])}
        for entry in allowlist.get("event-types", [])
        if _subscribed(entry["event-type"], enabled_events)
    ]
    if not kept:
        return dict(INCLUDE_NONE)
    if all(entry["relationships"] == ["*"] for entry in kept):
        return {"state": "include_all"}
    return {"state": "custom", "event-types": kept}


def included_relationships(allowlist: Mapping[str, Any]) -> tuple[str, ...]:
    """The inquiry relationships a saved allowlist includes (`("*",)` for all of them)."""
    if allowlist["state"] == "include_all":
        return ("*",)
    for entry in allowlist.get("event-types", []):
        if entry["event-type"] == "inquiry":
            return tuple(entry["relationships"])
    return ()


class WebhookSubscriptions:
    """The subscriptions of one sandbox, and the delivery settings the newest enabled one sets."""

    def __init__(self) -> None:
        self._records: dict[str, WebhookRecord] = {}

    def clear(self) -> None:
        """Forget every subscription."""
        self._records.clear()

    def create(
        self,
        *,
        name: str | None,
        description: str | None,
        url: str,
        enabled_events: Sequence[str],
        included_allowlist: Mapping[str, Any] | None,
        api_version: str,
        now: datetime,
    ) -> WebhookRecord:
        """A new, disabled subscription with one fresh secret."""
        record = WebhookRecord(
            id=new_id("wbh_"),
            name=name,
            description=description,
            url=url,
            enabled_events=list(enabled_events),
            included_allowlist=normalized_allowlist(included_allowlist, enabled_events),
            created_at=now,
            api_version=api_version,
            secrets=[SecretRecord(_new_secret())],
        )
        self._records[record.id] = record
        return record

    def get(self, webhook_id: str) -> WebhookRecord:
        """One subscription.

        Raises:
            RefusalError: Persona's 404 when there is none of that id.
        """
        return stored(self._records, webhook_id, "webhook")

    def newest_first(self) -> list[WebhookRecord]:
        """Every subscription, the most recently created first (Persona's list order)."""
        return sorted(self._records.values(), key=lambda r: r.created_at, reverse=True)

    def enable(self, webhook_id: str) -> WebhookRecord:
        """Turn a subscription's deliveries on."""
        record = self.get(webhook_id)
        record.status = "enabled"
        return record

    def rotate(self, webhook_id: str, now: datetime, expires_in_s: float | None) -> WebhookRecord:
        """Add a new secret; the ones without an expiry expire `expires_in_s` from now."""
        record = self.get(webhook_id)
        keep_s = DEFAULT_ROTATION_EXPIRY_S if expires_in_s is None else expires_in_s
        expires_at = now + timedelta(seconds=keep_s)
        for secret in record.secrets:
            if secret.expires_at is None:
                secret.expires_at = expires_at
        record.secrets.insert(0, SecretRecord(_new_secret()))
        self.expire(now)
        return record

    def expire(self, now: datetime) -> bool:
        """Drop the secrets whose rotation window has ended; whether any was dropped."""
        dropped = False
        for record in self._records.values():
            valid = record.valid_secrets(now)
            if len(valid) != len(record.secrets):
                record.secrets = valid
                dropped = True
        return dropped

    def driver(self) -> WebhookRecord | None:
        """The subscription that drives delivery: the newest enabled one, if any."""
        return next((r for r in self.newest_first() if r.status == "enabled"), None)

    def delivery(self, base: WebhookSettings, now: datetime) -> WebhookSettings | None:
        """`base` with the driving subscription's URL, events, secrets and allowlist.

        None when no subscription is enabled (the configured settings stay in force).
        """
        record = self.driver()
        if record is None:
            return None
        secrets = tuple(secret.value for secret in record.valid_secrets(now))
        return base.updated(
            {
                "url": record.url if record.enabled_events else None,
                "secrets": secrets,
                "rotation": len(secrets) > 1,
                "events": tuple(record.enabled_events) or base.events,
                "included_relationships": included_relationships(record.included_allowlist),
            }
        )

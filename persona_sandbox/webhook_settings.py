"""Where and how the sandbox delivers signed webhooks: one Persona webhook subscription.

A receiver under test needs Persona's awkward delivery habits on demand, and predictable
behaviour otherwise. Each knob models one of them:

- `url`: where to POST events; None turns delivery off (and, as at Persona, disabling a webhook
  cancels its pending retries).
- `secrets`: `wbhsec_...` strings used as-is as HMAC keys, newest first. Deliveries are signed
  with the first; with `rotation` they carry one `t=...,v1=...` set per secret, space-separated,
  as during Persona's secret rotation.
- `events`: the event names to deliver; exact names or `fnmatch` patterns (`inquiry.*`, `*`),
  like a webhook's `enabled-events`.
- `duplicate_rate`: the share of events delivered twice (Persona warns that the same event may
  occasionally arrive more than once; persona-api.md §7.5).
- `reorder_rate` / `reorder_hold_s`: the share of events held back until a later event has been
  sent (at most `reorder_hold_s` real seconds), so that one arrives first (Persona does not
  guarantee ordering; receivers should order by `created-at`).
- `retry_compression`: Persona's retry intervals (up to about 51 hours) are divided by it.
- `timeout_s`: how long one attempt may take in total (Persona: 5 s).
- `seed`: seeds the duplicate and reorder draws, for repeatable runs.
- `included_relationships`: the inquiry's relationships whose objects a delivery carries in
  `included` (`("verifications",)`; `("*",)` for all), as a webhook's `included-allowlist`
  asks; empty (Persona's default for new webhooks) sends an empty `included`.

A webhook subscription created through the API (`persona_sandbox.webhook_subscriptions`) sets
`url`, `secrets`, `rotation`, `events` and `included_relationships` from its own attributes.

The settings are a frozen pydantic model (`persona_sandbox.settings_model`), validated when
built; the admin route changes them through `updated`, which reads JSON-like values.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Annotated, Any, ClassVar, Final
from urllib.parse import urlsplit

from pydantic import Field, StrictBool, StrictInt, StrictStr, ValidationInfo, field_validator

from persona_sandbox.settings_model import NonNegative, Positive, Rate, SettingsModel, predicate

__all__ = [
    "DEFAULT_EVENTS",
    "PERSONA_TIMEOUT_S",
    "SECRET_PREFIX",
    "WebhookSettings",
    "valid_receiver_url",
]

#: Every event the sandbox records: its inquiry and verification events.
DEFAULT_EVENTS: Final = ("inquiry.*", "verification.*")
#: Persona's webhook secrets look like `wbhsec_...` (a `whsec_` secret is someone else's).
SECRET_PREFIX: Final = "wbhsec_"
#: Persona waits this long for an answer before it counts the attempt as failed.
PERSONA_TIMEOUT_S: Final = 5.0


def valid_receiver_url(url: str) -> bool:
    """Whether `url` is an http or https URL with a host (and a valid port, if any)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - reading it validates the port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


ReceiverUrl = Annotated[
    StrictStr, predicate(valid_receiver_url, "must be a valid http or https URL with a host")
]
Secret = Annotated[
    StrictStr,
    predicate(
        lambda text: text.startswith(SECRET_PREFIX) and len(text) > len(SECRET_PREFIX),
        f"must look like {SECRET_PREFIX}...",
    ),
]
EventPattern = Annotated[
    StrictStr,
    predicate(
        lambda text: bool(text) and not any(char.isspace() for char in text),
        "must name an event or a pattern, without spaces",
    ),
]


class WebhookSettings(SettingsModel):
    """Which events to deliver where, signed how, and how misbehaved the delivery is."""

    noun: ClassVar[str] = "webhook settings"

    url: ReceiverUrl | None = None
    """The receiver's URL (`http` or `https`); None turns delivery off."""
    secrets: tuple[Secret, ...] = Field(default=(), repr=False, validate_default=True)
    """Webhook secrets, newest first; never shown."""
    rotation: StrictBool = False
    """Sign with every secret (a rotation in progress) instead of only the first."""
    events: Annotated[tuple[EventPattern, ...], Field(min_length=1)] = DEFAULT_EVENTS
    """Event names or `fnmatch` patterns to deliver."""
    duplicate_rate: Rate = 0.0
    """Share of events delivered a second time."""
    reorder_rate: Rate = 0.0
    """Share of events held back until a later event has been sent."""
    reorder_hold_s: NonNegative = 1.0
    """Longest a held-back event waits for a later one (real seconds)."""
    retry_compression: Positive = 1.0
    """Persona's retry intervals are divided by this (3600 turns 51 hours into 51 seconds)."""
    timeout_s: Positive = PERSONA_TIMEOUT_S
    """Time allowed for one attempt, connection included (real seconds)."""
    seed: StrictInt | None = None
    """Seed of the duplicate and reorder draws."""
    included_relationships: tuple[StrictStr, ...] = ()
    """Relationship names of the inquiry that deliveries include (`("*",)`: all of them)."""

    @field_validator("secrets")
    @classmethod
    def _signed(cls, secrets: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        if info.data.get("url") is not None and not secrets:
            raise ValueError("must name at least one secret to deliver webhooks")
        return secrets

    @property
    def enabled(self) -> bool:
        """Whether events are delivered at all."""
        return self.url is not None

    @property
    def signing_secrets(self) -> tuple[str, ...]:
        """The secrets each delivery is signed with, in header order."""
        return self.secrets if self.rotation else self.secrets[:1]

    def delivers(self, name: str) -> bool:
        """Whether an event of this name is delivered."""
        return self.enabled and any(fnmatchcase(name, pattern) for pattern in self.events)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready settings (what `GET /_sandbox/webhooks` shows); secrets only counted."""
        data = self.model_dump(mode="json", exclude={"secrets"})
        data["secret_count"] = len(self.secrets)
        return data

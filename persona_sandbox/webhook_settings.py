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

The settings are frozen and validated when built; the admin route and the CLI change them
through `updated`, which reads JSON-like values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from fnmatch import fnmatchcase
from typing import Any, Final
from urllib.parse import urlsplit

__all__ = ["DEFAULT_EVENTS", "PERSONA_TIMEOUT_S", "SECRET_PREFIX", "WebhookSettings"]

#: Every event the sandbox records: its inquiry and verification events.
DEFAULT_EVENTS: Final = ("inquiry.*", "verification.*")
#: Persona's webhook secrets look like `wbhsec_...` (a `whsec_` secret is someone else's).
SECRET_PREFIX: Final = "wbhsec_"
#: Persona waits this long for an answer before it counts the attempt as failed.
PERSONA_TIMEOUT_S: Final = 5.0

_RATES: Final = ("duplicate_rate", "reorder_rate")


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookSettings:
    """Which events to deliver where, signed how, and how misbehaved the delivery is."""

    url: str | None = None
    """The receiver's URL (`http` or `https`); None turns delivery off."""
    secrets: tuple[str, ...] = field(default=(), repr=False)
    """Webhook secrets, newest first; never shown."""
    rotation: bool = False
    """Sign with every secret (a rotation in progress) instead of only the first."""
    events: tuple[str, ...] = DEFAULT_EVENTS
    """Event names or `fnmatch` patterns to deliver."""
    duplicate_rate: float = 0.0
    """Share of events delivered a second time."""
    reorder_rate: float = 0.0
    """Share of events held back until a later event has been sent."""
    reorder_hold_s: float = 1.0
    """Longest a held-back event waits for a later one (real seconds)."""
    retry_compression: float = 1.0
    """Persona's retry intervals are divided by this (3600 turns 51 hours into 51 seconds)."""
    timeout_s: float = PERSONA_TIMEOUT_S
    """Time allowed for one attempt, connection included (real seconds)."""
    seed: int | None = None
    """Seed of the duplicate and reorder draws."""

    def __post_init__(self) -> None:
        if self.url is not None:
            _check_url(self.url)
            if not self.secrets:
                raise ValueError("webhook delivery needs at least one secret")
        for secret in self.secrets:
            if not secret.startswith(SECRET_PREFIX) or len(secret) == len(SECRET_PREFIX):
                raise ValueError(f"webhook secrets must look like {SECRET_PREFIX}...")
        if not self.events or any(not name or _has_space(name) for name in self.events):
            raise ValueError("events must name at least one event, without spaces")
        for name in _RATES:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.reorder_hold_s < 0:
            raise ValueError("reorder_hold_s must not be negative")
        if self.retry_compression <= 0 or self.timeout_s <= 0:
            raise ValueError("retry_compression and timeout_s must be positive")

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
        data: dict[str, Any] = {
            item.name: getattr(self, item.name) for item in fields(self) if item.name != "secrets"
        }
        data["events"] = list(self.events)
        data["secret_count"] = len(self.secrets)
        return data

    def updated(self, changes: Mapping[str, Any]) -> WebhookSettings:
        """A copy with some fields changed, from JSON-like data.

        Raises:
            ValueError: an unknown field, or a value of the wrong type or range.
        """
        known = {item.name for item in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown webhook settings: {', '.join(unknown)}")
        return replace(self, **{name: _coerce(name, value) for name, value in changes.items()})


def _has_space(text: str) -> bool:
    return any(char.isspace() for char in text)


def _check_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - reading it validates the port
    except ValueError:
        raise ValueError("url is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("url must be an http or https URL with a host")


def _strings(name: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{name} must be a list of strings")
    return tuple(value)


def _coerce(name: str, value: Any) -> Any:
    """Check and convert one JSON value for a WebhookSettings field."""
    if name in ("secrets", "events"):
        return _strings(name, value)
    if name == "url":
        if value is not None and not isinstance(value, str):
            raise ValueError("url must be a string or null")
        return value
    if name == "rotation":
        if not isinstance(value, bool):
            raise ValueError("rotation must be a boolean")
        return value
    if name == "seed":
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError("seed must be an integer or null")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number")
    return float(value)

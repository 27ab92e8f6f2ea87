"""How a sandbox behaves: auth, rate limit, time, default scenarios, faults, webhooks.

One frozen dataclass, validated when built, shared by the app factory, the CLI and tests. The
defaults mirror Persona where Persona documents a value (300 requests/min, 24 h expiry, 24 h
idempotency-key retention) and pick a lively demo otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from persona_sandbox.faults import FaultSettings
from persona_sandbox.timeline import Outcome
from persona_sandbox.webhook_settings import WebhookSettings

__all__ = ["DEFAULT_OUTCOME_MIX", "SandboxConfig", "parse_delay_range", "parse_outcome_mix"]

#: Default scenario weights for inquiries whose note does not pick an outcome.
DEFAULT_OUTCOME_MIX: Final[Mapping[str, float]] = MappingProxyType(
    {"approved": 0.6, "declined": 0.2, "needs_review": 0.1, "failed": 0.1}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class SandboxConfig:
    """Everything that shapes one sandbox instance."""

    api_key: str | None = field(default=None, repr=False)
    """The only accepted key; None accepts any key starting with `persona_sandbox_`. Never shown."""
    rate_limit_per_minute: int = 300
    """Requests allowed per fixed 60-second window; 0 turns the limit off."""
    rate_limit_window_s: float = 60.0
    """Length of the fixed window in real seconds (Persona's is 60). A shorter window admits
    `rate_limit_per_minute * window / 60` requests each, so chaos runs see 429 bursts of a
    few seconds instead of a minute-long stall."""
    time_scale: float = 1.0
    """Sandbox seconds per real second for the default scaled clock."""
    outcome_mix: Mapping[str, float] = field(default_factory=lambda: DEFAULT_OUTCOME_MIX)
    """Weights of the outcomes given to inquiries whose note names none."""
    delay_range_s: tuple[float, float] = (5.0, 120.0)
    """How long the person takes (sandbox seconds), when the note names no delay."""
    decision_after_s: float = 30.0
    """Sandbox seconds from completion (or failure) to the automatic decision."""
    review_after_s: float = 300.0
    """Sandbox seconds a `review_*` outcome waits in `needs_review` before its decision."""
    expiry_s: float = 86_400.0
    """Default lifetime of an inquiry from creation (and after a resume)."""
    idempotency_ttl_s: float = 86_400.0
    """Sandbox seconds an Idempotency-Key is remembered."""
    advance_interval_s: float = 0.0
    """Real seconds between background passes that advance every live inquiry; 0 is off,
    unless webhooks are delivered (then a short default interval applies, see `background`)."""
    max_events: int = 100_000
    """How many of the newest events the event log keeps."""
    faults: FaultSettings = field(default_factory=FaultSettings)
    """Faults injected from the start (changeable at run time)."""
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)
    """Signed webhook delivery from the start; off by default (changeable at run time)."""
    environment_id: str = "env_SandboxEmulator7Yk2Pq9xWm4R"
    """Sent as `Persona-Environment-Id`."""
    organization_id: str = "org_SandboxEmulator3Hn8Vt5cLd6J"
    """Sent as `Persona-Organization-Id`."""

    def __post_init__(self) -> None:
        if self.api_key is not None and not self.api_key:
            raise ValueError("api_key must not be empty")
        if self.rate_limit_per_minute < 0:
            raise ValueError("rate_limit_per_minute must not be negative")
        if not 0 < self.rate_limit_window_s <= 60:
            raise ValueError("rate_limit_window_s must be above 0 and at most 60")
        if self.time_scale <= 0:
            raise ValueError("time_scale must be positive")
        low, high = self.delay_range_s
        if not 0 <= low <= high:
            raise ValueError("delay_range_s must be (low, high) with 0 <= low <= high")
        for name in ("decision_after_s", "review_after_s", "advance_interval_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        for name in ("expiry_s", "idempotency_ttl_s", "max_events"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        _check_mix(self.outcome_mix)
        object.__setattr__(self, "outcome_mix", MappingProxyType(dict(self.outcome_mix)))

    @property
    def rate_limit_per_window(self) -> int:
        """Requests one window admits (0: no limit); at least 1 when a limit is set."""
        if not self.rate_limit_per_minute:
            return 0
        return max(1, round(self.rate_limit_per_minute * self.rate_limit_window_s / 60))


def _check_mix(mix: Mapping[str, float]) -> None:
    known = {outcome.value for outcome in Outcome}
    unknown = sorted(set(mix) - known)
    if unknown:
        raise ValueError(f"unknown outcomes in outcome_mix: {', '.join(unknown)}")
    if any(weight < 0 for weight in mix.values()) or sum(mix.values()) <= 0:
        raise ValueError("outcome_mix weights must be non-negative and not all zero")


def parse_outcome_mix(text: str) -> dict[str, float]:
    """Read `approved=0.6,declined=0.2,...` into weights.

    Raises:
        ValueError: a malformed pair, an unknown outcome or a bad weight.
    """
    mix: dict[str, float] = {}
    for pair in filter(None, (part.strip() for part in text.split(","))):
        name, sep, weight = pair.partition("=")
        if not sep:
            raise ValueError(f"expected outcome=weight, got {pair!r}")
        try:
            mix[name.strip()] = float(weight)
        except ValueError:
            raise ValueError(f"weight of {name.strip()!r} is not a number") from None
    _check_mix(mix)
    return mix


def parse_delay_range(text: str) -> tuple[float, float]:
    """Read `low,high` (sandbox seconds); a single number means a fixed delay.

    Raises:
        ValueError: not one or two numbers.
    """
    parts = [part.strip() for part in text.split(",")]
    if len(parts) not in (1, 2):
        raise ValueError("expected low,high")
    try:
        values = [float(part) for part in parts]
    except ValueError:
        raise ValueError("delay range must be numbers") from None
    return (values[0], values[-1])

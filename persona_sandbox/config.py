"""How a sandbox behaves: auth, rate limit, time, default scenarios, faults, webhooks.

One frozen pydantic model (`persona_sandbox.settings_model`), validated when built, shared by
the app factory, the CLI and tests. Its defaults are the only ones: the CLI shows and applies
them from here. They mirror Persona where Persona documents a value (300 requests/min, 24 h
expiry, 24 h idempotency-key retention) and pick a lively demo otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, ClassVar, Final

from pydantic import AfterValidator, Field, StrictInt, StrictStr

from persona_sandbox.faults import FaultSettings
from persona_sandbox.settings_model import NonNegative, Number, Positive, SettingsModel, predicate
from persona_sandbox.timeline import Outcome
from persona_sandbox.webhook_settings import WebhookSettings

__all__ = ["DEFAULT_OUTCOME_MIX", "SandboxConfig", "parse_delay_range", "parse_outcome_mix"]

#: Default scenario weights for inquiries whose note does not pick an outcome.
DEFAULT_OUTCOME_MIX: Final[Mapping[str, float]] = MappingProxyType(
    {"approved": 0.6, "declined": 0.2, "needs_review": 0.1, "failed": 0.1}
)


def _check_mix(mix: Mapping[str, float]) -> Mapping[str, float]:
    """The mix, read-only; a `ValueError` phrase for unknown outcomes or unusable weights."""
    known = {outcome.value for outcome in Outcome}
    unknown = sorted(set(mix) - known)
    if unknown:
        raise ValueError(f"names unknown outcomes: {', '.join(unknown)}")
    if any(weight < 0 for weight in mix.values()) or sum(mix.values()) <= 0:
        raise ValueError("weights must be non-negative and not all zero")
    return MappingProxyType(dict(mix))


OutcomeMix = Annotated[Mapping[StrictStr, Number], AfterValidator(_check_mix)]
DelayRange = Annotated[
    tuple[NonNegative, NonNegative],
    predicate(lambda pair: pair[0] <= pair[1], "must be (low, high) with low <= high"),
]


class SandboxConfig(SettingsModel):
    """Everything that shapes one sandbox instance."""

    noun: ClassVar[str] = "sandbox settings"

    api_key: Annotated[StrictStr, Field(min_length=1)] | None = Field(default=None, repr=False)
    """The only accepted key; None accepts any key starting with `persona_sandbox_`. Never shown."""
    rate_limit_per_minute: Annotated[StrictInt, Field(ge=0)] = 300
    """Requests allowed per fixed 60-second window; 0 turns the limit off."""
    rate_limit_window_s: Annotated[Number, Field(gt=0, le=60)] = 60.0
    """Length of the fixed window in real seconds (Persona's is 60). A shorter window admits
    `rate_limit_per_minute * window / 60` requests each, so chaos runs see 429 bursts of a
    few seconds instead of a minute-long stall."""
    time_scale: Positive = 1.0
    """Sandbox seconds per real second for the default scaled clock."""
    outcome_mix: OutcomeMix = Field(default_factory=lambda: DEFAULT_OUTCOME_MIX)
    """Weights of the outcomes given to inquiries whose note names none."""
    delay_range_s: DelayRange = (5.0, 120.0)
    """How long the person takes (sandbox seconds), when the note names no delay."""
    decision_after_s: NonNegative = 30.0
    """Sandbox seconds from completion (or failure) to the automatic decision."""
    review_after_s: NonNegative = 300.0
    """Sandbox seconds a `review_*` outcome waits in `needs_review` before its decision."""
    report_after_s: NonNegative = 10.0
    """Sandbox seconds from a report's creation to its end (`ready` or `errored`); 0: at once."""
    expiry_s: Positive = 86_400.0
    """Default lifetime of an inquiry from creation (and after a resume)."""
    idempotency_ttl_s: Positive = 86_400.0
    """Sandbox seconds an Idempotency-Key is remembered."""
    advance_interval_s: NonNegative = 0.0
    """Real seconds between background passes that advance every live inquiry; 0 is off,
    unless webhooks are delivered (then a short default interval applies, see `background`)."""
    max_events: Annotated[StrictInt, Field(gt=0)] = 100_000
    """How many of the newest events the event log keeps."""
    faults: FaultSettings = Field(default_factory=FaultSettings)
    """Faults injected from the start (changeable at run time)."""
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    """Signed webhook delivery from the start; off by default (changeable at run time)."""
    environment_id: StrictStr = "env_SandboxEmulator7Yk2Pq9xWm4R"
    """Sent as `Persona-Environment-Id`."""
    organization_id: StrictStr = "org_SandboxEmulator3Hn8Vt5cLd6J"
    """Sent as `Persona-Organization-Id`."""

    @property
    def rate_limit_per_window(self) -> int:
        """Requests one window admits (0: no limit); at least 1 when a limit is set."""
        if not self.rate_limit_per_minute:
            return 0
        return max(1, round(self.rate_limit_per_minute * self.rate_limit_window_s / 60))


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
    try:
        _check_mix(mix)
    except ValueError as exc:
        raise ValueError(f"outcome mix {exc}") from None
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

"""Injected failures: the behaviours a real network and a busy vendor show now and then.

Chaos tests and benchmarks need Persona to misbehave on purpose. Each knob models one failure:

- `error_rate`: the request is answered 500/502/503 *before* anything happens (a proxy error);
  retrying is safe. With `cache_errors` the error is stored under the request's Idempotency-Key
  like any other result, Persona's documented "a retry with the same key returns the same 5xx".
- `error_after_rate`: the request *is* carried out, then 500 is answered instead (a lost
  response). The real result stays cached, so a retry with the same key gets it.
- `latency_ms`: added before each request.
- `hang_rate` / `hang_s`: the request is carried out, then the answer is held for `hang_s`,
  past the client's timeout.

`operations` limits every knob to the named operationIds (empty means all). Draws come from one
seeded generator, so a run with a `seed` is repeatable.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

__all__ = ["FaultInjector", "FaultSettings"]

_RATE_FIELDS = ("error_rate", "error_after_rate", "hang_rate")


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultSettings:
    """Which failures to inject, and how often."""

    error_rate: float = 0.0
    """Share of requests answered with one of `error_statuses` before anything happens."""
    error_statuses: tuple[int, ...] = (500, 502, 503)
    """The 5xx statuses `error_rate` picks from."""
    error_after_rate: float = 0.0
    """Share of requests carried out and then answered 500 (the result is kept for replays)."""
    latency_ms: float = 0.0
    """Delay added before every (matching) request."""
    hang_rate: float = 0.0
    """Share of requests carried out and then held for `hang_s` before answering."""
    hang_s: float = 30.0
    """How long a hanging answer is held."""
    operations: frozenset[str] = field(default_factory=frozenset)
    """operationIds the faults apply to; empty means every operation."""
    cache_errors: bool = False
    """Store `error_rate` answers under the Idempotency-Key, so retries with it get them too."""
    seed: int | None = None
    """Seed of the random draws, for repeatable runs."""

    def __post_init__(self) -> None:
        for name in _RATE_FIELDS:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.latency_ms < 0 or self.hang_s < 0:
            raise ValueError("latency_ms and hang_s must not be negative")
        if not self.error_statuses or any(not 500 <= s <= 599 for s in self.error_statuses):
            raise ValueError("error_statuses must be 5xx codes")

    def to_json(self) -> dict[str, Any]:
        """The settings as JSON-ready data (what `GET /_sandbox/faults` shows)."""
        data = asdict(self)
        data["error_statuses"] = list(self.error_statuses)
        data["operations"] = sorted(self.operations)
        return data

    def updated(self, changes: Mapping[str, Any]) -> FaultSettings:
        """A copy with some fields changed, from JSON-like data.

        Raises:
            ValueError: an unknown field or a value of the wrong type or range.
        """
        known = set(self.to_json())
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(unknown)}")
        values: dict[str, Any] = {}
        for name, value in changes.items():
            values[name] = _coerce(name, value)
        return replace(self, **values)


def _coerce(name: str, value: Any) -> Any:
    """Check and convert one JSON value for a FaultSettings field."""
    if name in ("error_statuses", "operations"):
        if not isinstance(value, list) or not all(
            isinstance(item, int if name == "error_statuses" else str) for item in value
        ):
            raise ValueError(f"{name} must be a list")
        return tuple(value) if name == "error_statuses" else frozenset(value)
    if name == "cache_errors":
        if not isinstance(value, bool):
            raise ValueError("cache_errors must be a boolean")
        return value
    if name == "seed":
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError("seed must be an integer or null")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number")
    return float(value)


class FaultInjector:
    """Draws the faults for each request from the current settings.

    Args:
        settings: the initial settings; replace them at run time with `configure`.
    """

    def __init__(self, settings: FaultSettings | None = None) -> None:
        self._release = asyncio.Event()
        self.configure(settings or FaultSettings())

    @property
    def settings(self) -> FaultSettings:
        """The settings in force."""
        return self._settings

    def configure(self, settings: FaultSettings) -> None:
        """Replace the settings (and reseed the draws)."""
        self._settings = settings
        self._rng = random.Random(settings.seed)
        self.active = bool(
            settings.error_rate
            or settings.error_after_rate
            or settings.latency_ms
            or settings.hang_rate
        )

    def applies(self, operation: str) -> bool:
        """Whether any fault may hit this operation."""
        return self.active and (
            not self._settings.operations or operation in self._settings.operations
        )

    def latency_s(self, operation: str) -> float:
        """Seconds to wait before handling the request."""
        if not self.applies(operation):
            return 0.0
        return self._settings.latency_ms / 1000.0

    def error_status(self, operation: str) -> int | None:
        """The 5xx to answer before doing anything, or None."""
        settings = self._settings
        if not self.applies(operation) or self._rng.random() >= settings.error_rate:
            return None
        return self._rng.choice(settings.error_statuses)

    def error_after(self, operation: str) -> bool:
        """Whether to hide the real answer behind a 500."""
        return self.applies(operation) and self._rng.random() < self._settings.error_after_rate

    def hang_s(self, operation: str) -> float:
        """Seconds to hold the answer, 0 for none."""
        if not self.applies(operation) or self._rng.random() >= self._settings.hang_rate:
            return 0.0
        return self._settings.hang_s

    async def hold(self, seconds: float) -> None:
        """Hold an answer for `seconds`, or until `release_all` is called (server shutdown)."""
        try:
            await asyncio.wait_for(self._release.wait(), timeout=seconds)
        except TimeoutError:
            return

    def release_all(self) -> None:
        """Let every held answer go now; used when the server stops."""
        self._release.set()

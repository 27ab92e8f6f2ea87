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
from typing import Annotated, Any, ClassVar

from pydantic import Field, StrictBool, StrictInt, StrictStr

from persona_sandbox.settings_model import NonNegative, Rate, SettingsModel

__all__ = ["FaultInjector", "FaultSettings"]

#: One of the 5xx statuses an injected error answers with.
ServerErrorStatus = Annotated[StrictInt, Field(ge=500, le=599)]


class FaultSettings(SettingsModel):
    """Which failures to inject, and how often."""

    noun: ClassVar[str] = "fault settings"

    error_rate: Rate = 0.0
    """Share of requests answered with one of `error_statuses` before anything happens."""
    error_statuses: Annotated[tuple[ServerErrorStatus, ...], Field(min_length=1)] = (500, 502, 503)
    """The 5xx statuses `error_rate` picks from."""
    error_after_rate: Rate = 0.0
    """Share of requests carried out and then answered 500 (the result is kept for replays)."""
    latency_ms: NonNegative = 0.0
    """Delay added before every (matching) request."""
    hang_rate: Rate = 0.0
    """Share of requests carried out and then held for `hang_s` before answering."""
    hang_s: NonNegative = 30.0
    """How long a hanging answer is held."""
    operations: frozenset[StrictStr] = frozenset()
    """operationIds the faults apply to; empty means every operation."""
    cache_errors: StrictBool = False
    """Store `error_rate` answers under the Idempotency-Key, so retries with it get them too."""
    seed: StrictInt | None = None
    """Seed of the random draws, for repeatable runs."""

    def to_json(self) -> dict[str, Any]:
        """The settings as JSON-ready data (what `GET /_sandbox/faults` shows)."""
        data = super().to_json()
        data["operations"] = sorted(self.operations)
        return data


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

"""Whether signed webhooks flow, shared by every process of a deployment.

One hash (`KeySpace.webhook_flow`): `last`, when the web process last accepted a signed
webhook; `uncovered`, when a status check last saw a change no webhook had announced; and the
polling tick's decision from them (`jobs.policy.cadence`): `mode`, `since` and `reason`. The
tick writes the mode only when it changes, so every worker, `persona-worker status` and the
metrics read the same one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from redis.asyncio import Redis

from jobs.policy.cadence import Mode
from jobs.state.keys import KeySpace
from jobs.state.redis_typing import resolved

__all__ = ["NOTE_EVERY_S", "FlowState", "WebhookFlow"]

#: How often one process writes the time of the last signed webhook, at most.
NOTE_EVERY_S: Final = 1.0


def _moment(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class FlowState:
    """What the deployment knows about its webhooks, and the mode it polls in."""

    mode: Mode
    since: float | None
    """When the mode last changed (None: never, the deployment polls as it started)."""
    reason: str
    last_webhook_at: float | None
    uncovered_at: float | None

    def to_json(self) -> dict[str, Any]:
        """The state as JSON (`persona-worker status --json`)."""
        return {
            "mode": self.mode.value,
            "since": self.since,
            "reason": self.reason,
            "last_webhook_at": self.last_webhook_at,
            "uncovered_at": self.uncovered_at,
        }


class WebhookFlow:
    """Reads and writes the shared flow state (decoded client)."""

    def __init__(self, redis: Redis, keys: KeySpace) -> None:
        self.redis = redis
        self.key = keys.webhook_flow
        self._noted_at = float("-inf")

    async def webhook_accepted(self, now: float) -> None:
        """A signed webhook was accepted (the web process).

        Written at most once a second per process: the mode looks at gaps of minutes, and a
        busy receiver saves a round trip on nearly every delivery.
        """
        if now - self._noted_at < NOTE_EVERY_S:
            return
        await resolved(self.redis.hset(self.key, "last", f"{now:.3f}"))
        self._noted_at = now

    async def change_uncovered(self, now: float) -> None:
        """A status check saw a change that no webhook announced."""
        await resolved(self.redis.hset(self.key, "uncovered", f"{now:.3f}"))

    async def state(self) -> FlowState:
        """The shared state; a deployment that never decided polls normally."""
        raw = await resolved(self.redis.hgetall(self.key))
        try:
            mode = Mode(raw.get("mode", Mode.POLLING))
        except ValueError:
            mode = Mode.POLLING
        return FlowState(
            mode=mode,
            since=_moment(raw.get("since")),
            reason=raw.get("reason", ""),
            last_webhook_at=_moment(raw.get("last")),
            uncovered_at=_moment(raw.get("uncovered")),
        )

    async def switch(self, mode: Mode, now: float, reason: str) -> None:
        """Record the tick's new mode."""
        mapping = {"mode": mode.value, "since": f"{now:.3f}", "reason": reason}
        await resolved(self.redis.hset(self.key, mapping=mapping))

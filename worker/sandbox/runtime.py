"""One running sandbox: its configuration and every piece of mutable machinery, in one place.

The app factory builds a `Sandbox`, the request pipeline and the admin routes share it, and
`run_sandbox` hands it to tests. `reset()` returns it to its freshly started state.
"""

from __future__ import annotations

from worker.sandbox.clock import Clock, ScaledClock
from worker.sandbox.config import SandboxConfig
from worker.sandbox.counters import Counters
from worker.sandbox.events import EventLog
from worker.sandbox.faults import FaultInjector
from worker.sandbox.idempotency import IdempotencyStore
from worker.sandbox.ratelimit import FixedWindowLimiter
from worker.sandbox.state import SandboxState

__all__ = ["Sandbox"]


class Sandbox:
    """The sandbox's state, limiter, idempotency store, faults and counters.

    Args:
        config: the configuration; defaults to `SandboxConfig()`.
        clock: sandbox time; defaults to a `ScaledClock` at `config.time_scale`.
    """

    def __init__(self, config: SandboxConfig | None = None, clock: Clock | None = None) -> None:
        self.config = config or SandboxConfig()
        self.clock: Clock = clock or ScaledClock(self.config.time_scale)
        self.state = SandboxState(self.config, self.clock)
        self.limiter = FixedWindowLimiter(self.config.rate_limit_per_minute, self.clock.real)
        self.idempotency = IdempotencyStore(self.config.idempotency_ttl_s)
        self.faults = FaultInjector(self.config.faults)
        self.counters = Counters()

    @property
    def events(self) -> EventLog:
        """The event log (also reachable as `state.events`)."""
        return self.state.events

    def reset(self) -> None:
        """Clear objects, events, idempotency keys, the rate window, counters and faults."""
        self.state.reset()
        self.limiter.reset()
        self.idempotency.clear()
        self.faults.configure(self.config.faults)
        self.counters.reset()

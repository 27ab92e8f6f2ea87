"""One running sandbox: its configuration and every piece of mutable machinery, in one place.

The app factory builds a `Sandbox`, the request pipeline and the admin routes share it, and
`run_sandbox` hands it to tests. `reset()` returns it to its freshly started state. Its two
background tasks (the advance pass and webhook delivery) run between `start_background()` and
`stop_background()`, which the app's lifespan calls; an app reached in-process without a
lifespan (`httpx.ASGITransport`) has neither unless a test starts them.
"""

from __future__ import annotations

from datetime import datetime

import httpx

from persona_sandbox.background import WEBHOOK_ADVANCE_INTERVAL_S, BackgroundAdvance
from persona_sandbox.clock import Clock, ScaledClock
from persona_sandbox.config import SandboxConfig
from persona_sandbox.counters import Counters
from persona_sandbox.events import EventLog
from persona_sandbox.faults import FaultInjector
from persona_sandbox.idempotency import IdempotencyStore
from persona_sandbox.ratelimit import FixedWindowLimiter
from persona_sandbox.state import SandboxState
from persona_sandbox.webhook_delivery import WebhookDeliverer
from persona_sandbox.webhook_settings import WebhookSettings
from persona_sandbox.webhook_subscriptions import WebhookSubscriptions

__all__ = ["Sandbox"]


class Sandbox:
    """The sandbox's state, limiter, idempotency store, faults, counters and webhooks.

    Args:
        config: the configuration; defaults to `SandboxConfig()`.
        clock: sandbox time; defaults to a `ScaledClock` at `config.time_scale`.
        webhook_transport: the httpx transport webhooks are sent through (tests inject a mock);
            defaults to real HTTP.
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        clock: Clock | None = None,
        *,
        webhook_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config or SandboxConfig()
        self.clock: Clock = clock or ScaledClock(self.config.time_scale)
        self.state = SandboxState(self.config, self.clock)
        self.limiter = FixedWindowLimiter(
            self.config.rate_limit_per_window, self.clock.real, self.config.rate_limit_window_s
        )
        self.idempotency = IdempotencyStore(self.config.idempotency_ttl_s)
        self.faults = FaultInjector(self.config.faults)
        self.counters = Counters(self.clock.real)
        self.webhooks = WebhookDeliverer(
            self.state.events, self.counters, self.config.webhooks, transport=webhook_transport
        )
        self.webhook_subscriptions = WebhookSubscriptions()
        self.background = BackgroundAdvance(self.advance_all, self.advance_interval_s)

    @property
    def events(self) -> EventLog:
        """The event log (also reachable as `state.events`)."""
        return self.state.events

    def advance_interval_s(self) -> float:
        """Real seconds between background advance passes now; 0 means none.

        `config.advance_interval_s` when set; otherwise a short interval while webhooks are
        delivered, so decisions are recorded (and sent) without anyone reading the inquiry.
        """
        if self.config.advance_interval_s > 0:
            return self.config.advance_interval_s
        return WEBHOOK_ADVANCE_INTERVAL_S if self.webhooks.settings.enabled else 0.0

    def advance_all(self) -> None:
        """One background pass: end finished secret rotations, advance every live inquiry."""
        now = self.clock.now()
        self.apply_webhook_subscriptions(now)
        self.state.advance_all(now)

    def apply_webhook_subscriptions(self, now: datetime) -> None:
        """Let the newest enabled API subscription drive delivery, its expired secrets dropped.

        Without an enabled subscription the settings in force (configuration, admin) stay.
        """
        self.webhook_subscriptions.expire(now)
        settings = self.webhook_subscriptions.delivery(self.webhooks.settings, now)
        if settings is not None and settings != self.webhooks.settings:
            self.configure_webhooks(settings)

    def configure_webhooks(self, settings: WebhookSettings) -> None:
        """Change webhook delivery at run time (turning it off cancels pending deliveries)."""
        self.webhooks.configure(settings)
        self.background.wake()

    def start_background(self) -> None:
        """Start webhook delivery and the advance pass (inside a running event loop)."""
        self.webhooks.start()
        self.background.start()

    async def stop_background(self) -> None:
        """Stop the advance pass, then webhook delivery; no task is left behind."""
        await self.background.stop()
        await self.webhooks.stop()

    def reset(self) -> None:
        """Clear objects, events, idempotency keys, the rate window, counters and faults.

        Pending webhook deliveries are abandoned, webhook subscriptions forgotten and the
        webhook settings go back to the configuration's.
        """
        self.webhooks.cancel_pending()
        self.webhook_subscriptions.clear()
        self.configure_webhooks(self.config.webhooks)
        self.state.reset()
        self.limiter.reset()
        self.idempotency.clear()
        self.faults.configure(self.config.faults)
        self.counters.reset()

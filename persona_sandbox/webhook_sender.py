"""One webhook delivery attempt over HTTP, made the way Persona makes it.

Kept apart from the queueing and retry logic (`webhook_delivery`) because this is the part a
receiver sees: the raw JSON body, `Content-Type`, a `Persona-Signature` made with the wall-clock
unix time of *this* attempt (Persona's `t`; receivers compare it with their own clock, so it must
not be the accelerated sandbox time), and Persona's `Persona-Webhook-Attempts-Made`,
`-Attempts-Left` and `-First-Attempted-At` headers. Success means one of Persona's success
codes; any other answer, a timeout of the whole attempt or a connection error is a failure.

One `httpx.AsyncClient` serves every attempt: made on the first, closed by `aclose`. Logs name
the event, the attempt and the answer, never a secret, a signature or a body.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import httpx

from persona_sandbox.counters import Counters
from persona_sandbox.events import Event
from persona_sandbox.webhook_settings import WebhookSettings
from persona_sandbox.webhook_signing import signature_header

__all__ = [
    "CONTENT_TYPE",
    "MAX_ATTEMPTS",
    "RETRY_INTERVALS_S",
    "SUCCESS_CODES",
    "Delivery",
    "WebhookSender",
]

log = logging.getLogger(__name__)

#: Seconds between a failed attempt and the next. Persona documents that when a delivery gets no
#: successful answer within 5 seconds it is retried up to 7 more times with exponential backoff,
#: at about 3, 64, 729, 4096, 15625, 46656 and 117649 s (roughly n**6 s; 184822 s, some 51 hours,
#: in all), after which it can only be resent by hand from the Dashboard. Source:
#: https://docs.withpersona.com/webhooks.
RETRY_INTERVALS_S: Final = (3.0, 64.0, 729.0, 4_096.0, 15_625.0, 46_656.0, 117_649.0)
#: The first attempt plus the seven retries.
MAX_ATTEMPTS: Final = 1 + len(RETRY_INTERVALS_S)
#: The only answers Persona counts as delivered (persona-api.md §7.5, persona-pitfalls.md §1.23).
SUCCESS_CODES: Final = frozenset({200, 201, 202, 204})
#: Persona's documented webhook content type (persona-api.md §7.1).
CONTENT_TYPE: Final = "application/json; charset=utf-8"
_USER_AGENT: Final = "persona-sandbox-webhooks"


@dataclass(slots=True, eq=False)
class Delivery:
    """One event on its way to the receiver; a duplicate is a delivery of its own."""

    event: Event
    generation: int
    """The deliverer's cancellation era it belongs to; an older one is abandoned."""
    duplicate: bool = False
    """Whether a second delivery of the same event follows this one's first attempt."""
    body: bytes = b""
    """The exact bytes sent and signed; filled in off the request path."""
    attempts: int = 0
    first_attempted_at: int | None = None
    included: list[dict[str, Any]] = field(default_factory=list)
    """The related objects of the payload's `included`, taken when the event was recorded."""

    def again(self) -> Delivery:
        """A second, independent delivery of the same event and body."""
        return Delivery(self.event, self.generation, body=self.body, included=self.included)


class WebhookSender:
    """Makes single attempts and tallies them.

    Args:
        counters: where attempts and their answers are counted.
        transport: an httpx transport for the client (tests inject a mock).
        wall: the wall clock in unix seconds, for `t` and `First-Attempted-At`.
    """

    def __init__(
        self,
        counters: Counters,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._counters = counters
        self._transport = transport
        self._wall = wall
        self._client: httpx.AsyncClient | None = None

    async def attempt(self, delivery: Delivery, settings: WebhookSettings) -> bool:
        """Send the delivery once with `settings`; True when the receiver took it.

        Raises:
            ValueError: delivery is off in `settings` (the deliverer cancels before that).
        """
        if settings.url is None:
            raise ValueError("webhook delivery is off")
        sent_at = int(self._wall())
        delivery.attempts += 1
        if delivery.first_attempted_at is None:
            delivery.first_attempted_at = sent_at
        headers = {
            "Content-Type": CONTENT_TYPE,
            "Persona-Signature": signature_header(settings.signing_secrets, sent_at, delivery.body),
            "Persona-Webhook-Attempts-Made": str(delivery.attempts),
            "Persona-Webhook-Attempts-Left": str(MAX_ATTEMPTS - delivery.attempts),
            "Persona-Webhook-First-Attempted-At": str(delivery.first_attempted_at),
        }
        self._counters.webhook("attempted")
        if delivery.attempts > 1:
            self._counters.webhook("retries")
        answer = await self._post(settings.url, delivery.body, headers, settings.timeout_s)
        self._counters.webhook_answer(answer)
        delivered = answer.isdigit() and int(answer) in SUCCESS_CODES
        self._counters.webhook("succeeded" if delivered else "failed")
        log.debug(
            "webhook %s (%s) attempt %d: %s",
            delivery.event.id,
            delivery.event.name,
            delivery.attempts,
            answer,
        )
        return delivered

    async def aclose(self) -> None:
        """Close the HTTP client (a later attempt makes a new one)."""
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def _post(self, url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> str:
        """POST once; the status code, or `timeout` / `connection_error`."""
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=self._transport,
                trust_env=False,
                follow_redirects=False,
                headers={"User-Agent": _USER_AGENT},
            )
        try:
            async with asyncio.timeout(timeout_s):
                response = await self._client.post(
                    url, content=body, headers=headers, timeout=timeout_s
                )
        except (TimeoutError, httpx.TimeoutException):
            return "timeout"
        except httpx.TransportError:
            return "connection_error"
        return str(response.status_code)

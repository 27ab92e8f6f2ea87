"""Signed webhook delivery: every recorded event POSTed to the configured receiver, as Persona does.

Why it is shaped this way:

- Event subscribers run inline on the request path (`events.py`), so the subscriber only puts
  the event on a bounded queue; when the queue is full the event is dropped and counted rather
  than blocking a request or growing without limit. One background task does the sending.
- First attempts go out one at a time in the order the events were recorded, so a receiver sees
  a predictable stream unless `duplicate_rate` or `reorder_rate` ask otherwise (both drawn from
  a generator seeded by `seed`). A failed delivery moves to a retry task of its own, so one
  failing event never holds up the rest.
- Retries follow Persona's documented schedule (`webhook_sender.RETRY_INTERVALS_S`: 7 retries
  over about 51 hours) divided by `retry_compression`; each attempt uses the settings in force
  when it is sent.
- The payload's `included` holds the related objects `included_relationships` names, as they
  were when the event was recorded: the subscriber runs inline, right after the change, so it
  asks for them there (`included_for`); the body itself is built off the request path.
- Disabling delivery, a reset and shutdown abandon whatever is queued, held back or waiting to
  be retried (Persona: disabling a webhook cancels its pending retries).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from typing import Any, Final

import httpx

from persona_sandbox.counters import Counters
from persona_sandbox.events import Event, EventLog
from persona_sandbox.serialize import dumps
from persona_sandbox.webhook_sender import MAX_ATTEMPTS, RETRY_INTERVALS_S, Delivery, WebhookSender
from persona_sandbox.webhook_settings import WebhookSettings

__all__ = ["QUEUE_SIZE", "IncludedFor", "WebhookDeliverer"]

log = logging.getLogger(__name__)

#: Events waiting for their first attempt; more are dropped (and counted).
QUEUE_SIZE: Final = 10_000

#: The related objects of an event's subject that a subscription includes, by relationship
#: names (`*`: all), as they are now.
IncludedFor = Callable[[Event, tuple[str, ...]], list[dict[str, Any]]]


def _nothing_included(event: Event, names: tuple[str, ...]) -> list[dict[str, Any]]:
    return []


class WebhookDeliverer:
    """Delivers the events of one event log to the configured webhook.

    Args:
        events: the event log to subscribe to while running.
        counters: where deliveries are tallied.
        settings: the initial settings; replace them at run time with `configure`.
        transport: an httpx transport for the delivery client (tests inject a mock).
        wall: the wall clock in unix seconds, for `t` and `First-Attempted-At`.
        queue_size: how many events may wait for their first attempt.
        included_for: the related objects of an event's subject (`SandboxState.webhook_included`).
    """

    def __init__(
        self,
        events: EventLog,
        counters: Counters,
        settings: WebhookSettings | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        wall: Callable[[], float] = time.time,
        queue_size: int = QUEUE_SIZE,
        included_for: IncludedFor = _nothing_included,
    ) -> None:
        self._events = events
        self._included_for = included_for
        self._counters = counters
        self._sender = WebhookSender(counters, transport=transport, wall=wall)
        self._queue_size = queue_size
        self._queue: asyncio.Queue[Delivery] | None = None
        self._held: Delivery | None = None
        self._held_until = 0.0
        self._in_flight = 0
        self._generation = 0
        self._dispatcher: asyncio.Task[None] | None = None
        self._retries: set[asyncio.Task[None]] = set()
        self._unsubscribe: Callable[[], None] | None = None
        self._progress = asyncio.Event()
        self.configure(settings or WebhookSettings())

    @property
    def settings(self) -> WebhookSettings:
        """The settings in force."""
        return self._settings

    @property
    def running(self) -> bool:
        """Whether the deliverer listens to the event log and sends."""
        return self._dispatcher is not None

    @property
    def pending(self) -> int:
        """Deliveries not finished yet: queued, held back, being sent or waiting to retry."""
        queued = self._queue.qsize() if self._queue is not None else 0
        return queued + (self._held is not None) + self._in_flight + len(self._retries)

    async def wait_idle(self) -> None:
        """Wait until no delivery is pending (bound it with a timeout: retries can take hours)."""
        while self.pending:
            self._progress.clear()
            await self._progress.wait()

    def configure(self, settings: WebhookSettings) -> None:
        """Replace the settings and reseed the draws; turning delivery off cancels pending work."""
        self._settings = settings
        self._rng = random.Random(settings.seed)
        if not settings.enabled:
            self.cancel_pending()

    def cancel_pending(self) -> None:
        """Abandon every queued, held-back and retrying delivery (counted as cancelled)."""
        self._generation += 1
        cancelled = 0
        if self._queue is not None:
            while not self._queue.empty():
                self._queue.get_nowait()
                cancelled += 1
        if self._held is not None:
            self._held = None
            cancelled += 1
        for task in self._retries:
            if not task.done() and not task.cancelling():
                task.cancel()
                cancelled += 1
        if cancelled:
            self._counters.webhook("cancelled", cancelled)
        self._progress.set()

    def start(self) -> None:
        """Listen to the event log and start sending (inside a running event loop)."""
        if self._dispatcher is not None:
            return
        self._queue = asyncio.Queue(self._queue_size)
        self._unsubscribe = self._events.subscribe(self._on_event)
        self._dispatcher = asyncio.create_task(self._dispatch(), name="sandbox-webhooks")

    async def stop(self) -> None:
        """Stop listening, abandon pending deliveries, wait for every task and close the client."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.cancel_pending()
        tasks = [task for task in (self._dispatcher, *self._retries) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._dispatcher = None
        self._queue = None
        self._progress.set()
        await self._sender.aclose()

    # --- the request path: queue only -------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if self._queue is None or not self._settings.delivers(event.name):
            return
        names = self._settings.included_relationships
        included = self._included_for(event, names) if names else []
        try:
            self._queue.put_nowait(Delivery(event, self._generation, included=included))
        except asyncio.QueueFull:
            self._counters.webhook("dropped")
            log.warning("webhook queue full, dropped %s (%s)", event.id, event.name)
            return
        self._counters.webhook("enqueued")

    # --- the dispatcher: first attempts in order, duplicates and reordering ---------------------

    async def _dispatch(self) -> None:
        while True:
            delivery = await self._next()
            try:
                if delivery is None:  # the held-back event waited long enough for a later one
                    held, self._held = self._held, None
                    if held is not None:
                        await self._send(held)
                    continue
                hold = self._rng.random() < self._settings.reorder_rate
                delivery.duplicate = self._rng.random() < self._settings.duplicate_rate
                if hold and self._held is None:
                    self._held = delivery
                    self._held_until = _loop_time() + self._settings.reorder_hold_s
                    continue
                await self._send(delivery)
                held, self._held = self._held, None
                if held is not None:
                    self._counters.webhook("reordered")
                    await self._send(held)
            except Exception:
                log.exception("webhook dispatch failed")

    async def _next(self) -> Delivery | None:
        """The next queued delivery, or None when the held-back one should go now."""
        queue = self._queue
        if queue is None:
            raise RuntimeError("the webhook deliverer is not running")
        if self._held is None:
            return await queue.get()
        if not queue.empty():
            return queue.get_nowait()
        remaining = self._held_until - _loop_time()
        if remaining <= 0:
            return None
        try:
            async with asyncio.timeout(remaining):
                return await queue.get()
        except TimeoutError:
            return None

    async def _send(self, delivery: Delivery) -> None:
        """The first attempt of a delivery, then of its duplicate when one was drawn."""
        await self._first_attempt(delivery)
        if delivery.duplicate and delivery.generation == self._generation:
            self._counters.webhook("duplicates")
            await self._first_attempt(delivery.again())

    async def _first_attempt(self, delivery: Delivery) -> None:
        if delivery.generation != self._generation:
            return
        if not delivery.body:
            delivery.body = dumps(delivery.event.to_webhook_body(delivery.included))
        self._in_flight += 1
        try:
            if await self._sender.attempt(delivery, self._settings):
                return
            if delivery.generation != self._generation:
                self._counters.webhook("cancelled")
                return
            name = f"sandbox-webhook-retry-{delivery.event.id}"
            task = asyncio.create_task(self._retry(delivery), name=name)
            self._retries.add(task)
            task.add_done_callback(self._retry_done)
        finally:
            self._in_flight -= 1
            self._progress.set()

    # --- retries ------------------------------------------------------------------------------

    async def _retry(self, delivery: Delivery) -> None:
        while delivery.attempts < MAX_ATTEMPTS:
            interval = RETRY_INTERVALS_S[delivery.attempts - 1]
            await asyncio.sleep(interval / self._settings.retry_compression)
            if await self._sender.attempt(delivery, self._settings):
                return
        self._counters.webhook("exhausted")
        log.warning(
            "webhook %s (%s) failed all %d attempts",
            delivery.event.id,
            delivery.event.name,
            delivery.attempts,
        )

    def _retry_done(self, task: asyncio.Task[None]) -> None:
        self._retries.discard(task)
        self._progress.set()


def _loop_time() -> float:
    return asyncio.get_running_loop().time()

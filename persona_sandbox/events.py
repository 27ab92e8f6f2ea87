"""The event log: every status and verification change, in the shape Persona's webhooks send.

Each change becomes an `Event` (`evt_...`, a name such as `inquiry.completed`, the time it
happened in sandbox time, and a snapshot of the object right after the change, kept as compact
JSON so a long run stays small; the log keeps the newest `max_events`). Subscribers
(plain callbacks) hear about each event as it is recorded, which is how the signed webhook
deliverer (`webhook_delivery`) plugs in without touching the state machine. Callbacks run inline
on the request path: they must be quick and must not block (queue work, do not do it).
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from persona_sandbox.ids import new_id
from persona_sandbox.serialize import dumps, iso

__all__ = ["Event", "EventLog", "Subscriber"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Event:
    """One recorded change."""

    id: str
    name: str
    created_at: datetime
    inquiry_id: str | None
    payload_json: bytes
    """`{"data": <object as the API shows it>, "included": []}` at the time of the event."""

    @property
    def payload(self) -> dict[str, Any]:
        """The payload document, parsed."""
        payload: dict[str, Any] = json.loads(self.payload_json)
        return payload

    def to_resource(self, included: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The `event` resource object, as in a webhook body's `data`.

        Args:
            included: the related objects a subscription's `included-allowlist` adds to the
                payload (none: the recorded payload's empty `included`).
        """
        payload = self.payload
        if included:
            payload["included"] = included
        return {
            "type": "event",
            "id": self.id,
            "attributes": {
                "name": self.name,
                "payload": payload,
                "created-at": iso(self.created_at),
            },
        }

    def to_webhook_body(self, included: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The full webhook request body Persona would POST for this event."""
        return {"data": self.to_resource(included)}


Subscriber = Callable[[Event], None]


class EventLog:
    """Events in the order they were recorded, plus the subscribers to notify.

    Args:
        max_events: how many of the newest events to keep.
    """

    def __init__(self, max_events: int = 100_000) -> None:
        self._events: deque[Event] = deque(maxlen=max_events)
        self.subscribers: list[Subscriber] = []

    def record(
        self, name: str, at: datetime, payload: dict[str, Any], *, inquiry_id: str | None
    ) -> Event:
        """Store a new event and notify every subscriber.

        Args:
            name: Persona's event name, e.g. `inquiry.approved`.
            at: when the change happened (sandbox time).
            payload: the changed object's document at that moment.
            inquiry_id: the inquiry the event concerns, for filtering.
        """
        event = Event(new_id("evt_"), name, at, inquiry_id, dumps(payload))
        self._events.append(event)
        for subscriber in list(self.subscribers):
            try:
                subscriber(event)
            except Exception:
                log.exception("event subscriber failed for %s (%s)", event.id, event.name)
        return event

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add a callback; returns a function that removes it again."""
        self.subscribers.append(subscriber)

        def unsubscribe() -> None:
            if subscriber in self.subscribers:
                self.subscribers.remove(subscriber)

        return unsubscribe

    def events(self, *, inquiry_id: str | None = None, name: str | None = None) -> list[Event]:
        """Recorded events, oldest first, optionally for one inquiry and/or one name."""
        return [
            event
            for event in self._events
            if (inquiry_id is None or event.inquiry_id == inquiry_id)
            and (name is None or event.name == name)
        ]

    def clear(self) -> None:
        """Forget every event (subscribers stay)."""
        self._events.clear()

    def __iter__(self) -> Iterator[Event]:
        return iter(list(self._events))

    def __len__(self) -> int:
        return len(self._events)

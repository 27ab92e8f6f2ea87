"""What a verified Persona webhook event does to the pipeline.

The webhook is only a trigger: its payload may carry an empty `included`, and its order and
uniqueness are not guaranteed, so the result always comes from a fresh API read. An event of
an inquiry that requests follow, whose status is terminal, enqueues `fetch_verification`
under the inquiry's deterministic fetch id (a duplicate or a late copy enqueues nothing new,
and the ledger answers each request once); any other event of a followed inquiry only updates
its record (an earlier check would cost an API call, and the terminal event is on its way).
Events of inquiries nobody follows change nothing: they answer no request of ours. Events are
remembered by id so a redelivery does nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from jobs.context import JobContext
from jobs.errors import PayloadError
from jobs.pipeline.poll_tick import enqueue_fetch
from jobs.policy.status import is_terminal, status_of_event

__all__ = ["EventOutcome", "WebhookEvent", "handle_event", "parse_event"]

_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """The parts of a Persona event the receiver acts on (nothing else is kept)."""

    event_id: str
    name: str
    created_at: str | None
    object_type: str | None
    object_id: str | None
    status: str | None


@dataclass(frozen=True, slots=True)
class EventOutcome:
    """What handling an event did, for the response and the logs."""

    action: str
    inquiry_id: str | None = None


def _identifier(value: Any) -> str | None:
    if isinstance(value, str) and 0 < len(value) <= 128 and set(value) <= _ID_CHARS:
        return value
    return None


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PayloadError(f"not a Persona event: {where} must be an object")
    return value


def parse_event(body: bytes) -> WebhookEvent:
    """Read the event envelope, refusing anything that is not a Persona event."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise PayloadError("body is not JSON") from None
    except RecursionError:
        # Nesting deeper than the parser's stack (within the size limit): refuse, not crash.
        raise PayloadError("body is nested too deeply") from None
    data = _mapping(_mapping(document, "the body").get("data"), "data")
    if data.get("type") != "event":
        raise PayloadError("not a Persona event: data.type must be 'event'")
    event_id = _identifier(data.get("id"))
    if event_id is None:
        raise PayloadError("not a Persona event: data.id is missing or malformed")
    attributes = _mapping(data.get("attributes"), "data.attributes")
    name = attributes.get("name")
    if not isinstance(name, str) or not 0 < len(name) <= 100:
        raise PayloadError("not a Persona event: data.attributes.name is missing")
    payload = _mapping(attributes.get("payload"), "data.attributes.payload")
    subject = _mapping(payload.get("data"), "data.attributes.payload.data")
    subject_attributes = subject.get("attributes")
    status = subject_attributes.get("status") if isinstance(subject_attributes, dict) else None
    created_at = attributes.get("created-at")
    return WebhookEvent(
        event_id=event_id,
        name=name,
        created_at=created_at if isinstance(created_at, str) else None,
        object_type=subject.get("type") if isinstance(subject.get("type"), str) else None,
        object_id=_identifier(subject.get("id")),
        status=status if isinstance(status, str) else None,
    )


async def handle_event(ctx: JobContext, event: WebhookEvent) -> EventOutcome:
    """Act on a verified event once; a redelivered event id does nothing."""
    outcome = await _handle(ctx, event)
    ctx.history.count(f"wh:{outcome.action.replace(' ', '_')}")
    ctx.history.step("webhook", f"{event.name}: {outcome.action}", inquiry_id=outcome.inquiry_id)
    return outcome


async def _handle(ctx: JobContext, event: WebhookEvent) -> EventOutcome:
    marker = ctx.keys.webhook_event(event.event_id)
    if await ctx.redis.exists(marker):
        return EventOutcome("duplicate")
    announced = status_of_event(event.name)
    if announced is None or event.object_type != "inquiry" or event.object_id is None:
        outcome = EventOutcome("ignored")
    else:
        outcome = await _inquiry_event(ctx, event.object_id, announced)
    # Remembered only after acting: a crash in between makes Persona redeliver, which is safe.
    await ctx.redis.set(marker, event.name, ex=ctx.settings.webhook_dedupe_ttl_s)
    return outcome


async def _inquiry_event(ctx: JobContext, inquiry_id: str, status: str) -> EventOutcome:
    record = await ctx.ledger.inquiry(inquiry_id)
    if record is None:
        # Not followed: an inquiry created elsewhere in the environment, or one whose create
        # request has not recorded it yet (its answer was lost and the job will retry).
        # Fetching it here would answer no request; once a request follows it, the polling
        # tick checks it.
        return EventOutcome("not followed", inquiry_id)
    if not record.followers:
        # Every request that followed it has its answer; a new request brings it back to the
        # polling tick.
        return EventOutcome("already published", inquiry_id)
    if is_terminal(status, ctx.settings.terminal_statuses):
        # One fetch per answer round: copies of the event, the tick and a decision enqueue
        # nothing new; a request that follows after this round's answer gets the next one.
        await enqueue_fetch(ctx, record)
        return EventOutcome("fetch enqueued", inquiry_id)
    # Not terminal: note the status for operators. The check is not pulled forward: the
    # terminal status arrives as its own event, and polling stays the net under a lost one.
    await ctx.ledger.note_status(inquiry_id, status, ctx.clock())
    return EventOutcome("status noted", inquiry_id)

"""Which parts of a published event are personal, and the event without them (pure: no I/O).

Result events carry inquiry `fields` values when `PUBLISH_FIELDS` lets some in, and
`inquiry.link-refreshed` events carry one-time links. Redaction must leave none of them behind:
`jobs.state.forget` deletes the events that hold them, and the ledger publishes an event's
redacted form when the inquiry was redacted after its result was read. Both ask this module,
so what counts as personal is decided in one place.

The redacted form keeps every key and nulls the values, the shape a read of a redacted inquiry
gives (Persona erases the values, the field keys stay).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["PERSONAL_LINKS", "holds_personal_data", "without_personal_data"]

#: Event data keys whose values are links into the person's own flow.
PERSONAL_LINKS: Final = ("one_time_link", "one_time_link_short")


def without_personal_data(data: Mapping[str, Any]) -> dict[str, Any] | None:
    """`data` with its field values and links nulled; None when it holds none of them."""
    fields = data.get("fields")
    field_values: Mapping[str, Any] = fields if isinstance(fields, Mapping) else {}
    personal_fields = any(value is not None for value in field_values.values())
    links = [name for name in PERSONAL_LINKS if data.get(name)]
    if not personal_fields and not links:
        return None
    redacted = dict(data)
    if personal_fields:
        redacted["fields"] = dict.fromkeys(field_values)
    for name in links:
        redacted[name] = None
    return redacted


def holds_personal_data(raw: str | None) -> bool:
    """Whether an event's stored `data` (JSON) carries field values or a one-time link."""
    if not raw:
        return False
    try:
        data = json.loads(raw)
    except ValueError:
        return False
    return isinstance(data, dict) and without_personal_data(data) is not None

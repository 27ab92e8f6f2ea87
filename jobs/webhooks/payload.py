"""What a terminal inquiry event's payload gives a result without an API read.

A webhook subscription whose `included-allowlist` names the inquiry's `verifications` sends
them in the payload's `included`, as they were at the event: everything a result needs, so
`fetch_verification` can publish without `GET /inquiries/{id}?include=verifications`. The
payload counts as complete only when the inquiry lists its verifications
(`relationships.verifications`) and every one of them is in `included`; an empty `included`
(the default `include_none`) or a missing one means the fetch reads as before.

What is kept is only what the result reads (`jobs.pipeline.result`): status, reference id,
timestamps, the `fields` named in `PUBLISH_FIELDS` (nothing else of the person's data) and, of
each verification, its type, id, status, times and checks. It is shaped as a retrieve answer
(`InquiryDocument`), so a result built from it is the one a read at the event would give.

`included` of the wrong shape (not a list of objects with a `type` and an `id`, or a
verification that does not read as one) is refused by the receiver: Persona never sends it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from pydantic import ValidationError

from jobs.errors import PayloadError
from jobs.persona.models import Inquiry, Verification

__all__ = ["ResultPayload", "check_included", "result_payload"]

#: The inquiry attributes a result reads (`build_result`), plus `updated-at`, its time.
_RESULT_ATTRIBUTES: Final = frozenset(
    {
        "status",
        "reference_id",
        "created_at",
        "updated_at",
        "started_at",
        "completed_at",
        "failed_at",
        "expired_at",
        "marked_for_review_at",
        "decisioned_at",
        "expires_at",
        "redacted_at",
    }
)
#: The verification attributes a result reads.
_VERIFICATION_ATTRIBUTES: Final = frozenset({"status", "created_at", "completed_at", "checks"})
_VERIFICATION_PREFIX: Final = "verification/"


@dataclass(frozen=True, slots=True)
class ResultPayload:
    """A terminal inquiry as its event carried it, reduced to what its result needs."""

    status: str
    at: float
    """The inquiry's `updated-at` (or, without one, the event's `created-at`), unix seconds:
    what orders it against other payloads and published results."""
    document: dict[str, Any]
    """JSON in the shape of a retrieve answer with `include=verifications`."""


def _is_object(item: Any) -> bool:
    """A resource object as `included` holds them: a `type` and an `id`, both strings."""
    return (
        isinstance(item, dict)
        and isinstance(item.get("type"), str)
        and isinstance(item.get("id"), str)
    )


def _is_verification(item: Mapping[str, Any]) -> bool:
    return str(item.get("type", "")).startswith(_VERIFICATION_PREFIX)


def check_included(payload: Mapping[str, Any]) -> None:
    """Refuse a payload whose `included` is not what Persona sends.

    Raises:
        PayloadError: `included` is not a list of objects each with a string `type` and
            `id`, or an included verification does not read as a verification.
    """
    included = payload.get("included", [])
    if not isinstance(included, list) or not all(map(_is_object, included)):
        raise PayloadError(
            "not a Persona event: data.attributes.payload.included must be a list of objects "
            "with a type and an id"
        )
    for index, item in enumerate(included):
        if _is_verification(item):
            try:
                Verification.model_validate(item)
            except ValidationError:
                raise PayloadError(
                    f"not a Persona event: included[{index}] is not a readable verification"
                ) from None


def _moment(inquiry: Inquiry, event_created_at: str | None) -> float | None:
    if inquiry.attributes.updated_at is not None:
        return inquiry.attributes.updated_at.timestamp()
    if event_created_at is None:
        return None
    try:
        return datetime.fromisoformat(event_created_at).timestamp()
    except ValueError:
        return None


def result_payload(
    payload: Mapping[str, Any], *, event_created_at: str | None, publish_fields: Collection[str]
) -> ResultPayload | None:
    """The reduced result payload of a checked payload (`check_included`); None when it does
    not hold every verification of the inquiry, or does not read as an inquiry."""
    included = payload.get("included") or []
    if not included:
        return None
    try:
        inquiry = Inquiry.model_validate(payload.get("data"))
    except ValidationError:
        return None
    related = inquiry.relationships.get("verifications")
    moment = _moment(inquiry, event_created_at)
    if related is None or moment is None:
        return None
    found = {item["id"]: item for item in included if _is_verification(item)}
    linked = related.ids()
    if any(ver_id not in found for ver_id in linked):
        return None
    verifications = [Verification.model_validate(found[ver_id]) for ver_id in linked]
    attributes = inquiry.attributes.model_dump(
        mode="json", by_alias=True, include=set(_RESULT_ATTRIBUTES)
    )
    allowed = set(publish_fields)
    attributes["fields"] = {
        key: field.model_dump(mode="json", by_alias=True)
        for key, field in inquiry.attributes.fields.items()
        if key in allowed
    }
    document = {
        "data": {
            "type": inquiry.type,
            "id": inquiry.id,
            "attributes": attributes,
            "relationships": {
                "verifications": {"data": [{"type": v.type, "id": v.id} for v in verifications]}
            },
        },
        "included": [
            {
                "type": item.type,
                "id": item.id,
                "attributes": item.attributes.model_dump(
                    mode="json", by_alias=True, include=set(_VERIFICATION_ATTRIBUTES)
                ),
            }
            for item in verifications
        ],
    }
    return ResultPayload(status=inquiry.attributes.status, at=moment, document=document)

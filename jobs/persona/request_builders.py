"""Paths, query strings and JSON bodies of the Persona requests the client sends.

Pure functions, no I/O. Each one checks its arguments and raises `ValueError` before anything
reaches the network, then builds exactly the shape of its 2025-12-08 OpenAPI operation:
kebab-case keys, and no key whose value would be null where the schema does not allow null
(optional parts are left out instead). Keeping them apart from `jobs.persona.client` keeps
that module about HTTP and errors only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import quote

from jobs.persona.templates import TEMPLATE_ID_KINDS, template_kind

__all__ = [
    "MAX_FILTER_IDS",
    "MAX_PAGE_SIZE",
    "add_relation_body",
    "case_status_body",
    "check_idempotency_key",
    "comment_body",
    "create_inquiry_body",
    "create_report_body",
    "create_webhook_body",
    "include_params",
    "list_inquiries_params",
    "list_relations_params",
    "list_webhooks_params",
    "one_time_link_body",
    "path_segment",
    "rotate_secret_body",
    "simulate_actions_body",
    "template_attribute",
]

#: Persona accepts at most this many ids in one `filter[inquiry-id]`.
MAX_FILTER_IDS: Final = 100
#: `page[size]` runs from 1 to this.
MAX_PAGE_SIZE: Final = 100


def template_attribute(template_id: str) -> str:
    """Name the create attribute that carries a template id of this kind.

    Args:
        template_id: `itmpl_...`, `itmplv_...` or `tmpl_...`.

    Raises:
        ValueError: the id has none of those prefixes.
    """
    kind = template_kind(template_id)
    if kind is None:
        raise ValueError(f"template_id must start with {TEMPLATE_ID_KINDS}")
    return kind.attribute


def path_segment(value: str, name: str) -> str:
    """Quote an id for use as one path segment.

    Args:
        value: the id.
        name: the argument's name, for the error message.

    Raises:
        ValueError: the id is empty, `.` or `..`: URL normalisation would drop or climb such a
            segment, so the request would reach a different endpoint.
    """
    if _non_empty(value, name) in {".", ".."}:
        raise ValueError(f"{name} must not be a dot segment ({value!r})")
    return quote(value, safe="")


def check_idempotency_key(key: str) -> str:
    """Return the key if it can be sent as an `Idempotency-Key` header.

    Raises:
        ValueError: the key is empty or blank, or holds characters a header cannot carry.
    """
    if not key or not key.strip():
        raise ValueError("idempotency_key must not be empty")
    if not all(" " <= char <= "~" for char in key):
        raise ValueError("idempotency_key must be printable ASCII")
    return key


def _csv(values: Sequence[str], name: str, *, limit: int | None = None) -> str:
    """Join values into Persona's comma-separated filter form."""
    if isinstance(values, str):
        raise ValueError(f"{name} must be a sequence of strings, not a single string")
    if not values:
        raise ValueError(f"{name} must not be empty")
    if limit is not None and len(values) > limit:
        raise ValueError(f"{name} holds {len(values)} values; Persona accepts at most {limit}")
    for value in values:
        if not value or "," in value:
            raise ValueError(f"{name} values must be non-empty and contain no comma")
    return ",".join(values)


def _page_params(page_size: int | None, after: str | None) -> dict[str, str]:
    params: dict[str, str] = {}
    if page_size is not None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        params["page[size]"] = str(page_size)
    if after is not None:
        params["page[after]"] = _non_empty(after, "after")
    return params


def _non_empty(value: str, name: str) -> str:
    if not value:
        raise ValueError(f"{name} must not be empty")
    return value


def _positive(value: int, name: str) -> int:
    if value <= 0:
        raise ValueError(f"{name} must be greater than 0")
    return value


def include_params(include: Sequence[str]) -> dict[str, str]:
    """Build `?include=a,b` for a single-resource read; nothing when `include` is empty."""
    if isinstance(include, str):
        raise ValueError("include must be a sequence of relationship paths, not a single string")
    return {"include": _csv(include, "include")} if include else {}


def create_inquiry_body(
    *,
    template_id: str,
    reference_id: str | None,
    fields: Mapping[str, Any] | None,
    account_id: str | None,
    note: str | None,
    tags: Sequence[str] | None,
    redirect_uri: str | None,
    one_time_link: bool,
    session_token: bool,
    expires_in_s: int | None,
) -> dict[str, Any]:
    """Build the `create-an-inquiry` body.

    The reference id goes to `meta.auto-create-account-reference-id`, which Persona prefers
    over the deprecated `data.attributes.reference-id`.

    Raises:
        ValueError: a bad template id, an empty reference id, tags given as one string, or a
            non-positive expiry.
    """
    attributes: dict[str, Any] = {template_attribute(template_id): template_id}
    if account_id is not None:
        attributes["account-id"] = account_id
    if note is not None:
        attributes["note"] = note
    if redirect_uri is not None:
        attributes["redirect-uri"] = redirect_uri
    if tags is not None:
        if isinstance(tags, str):
            raise ValueError("tags must be a sequence of tag names, not a single string")
        attributes["tags"] = list(tags)
    if fields is not None:
        attributes["fields"] = dict(fields)
    meta: dict[str, Any] = {
        "auto-create-one-time-link": one_time_link,
        "auto-create-inquiry-session": session_token,
    }
    if reference_id is not None:
        meta["auto-create-account-reference-id"] = _non_empty(reference_id, "reference_id")
    if expires_in_s is not None:
        meta["expiration-after-create-interval-seconds"] = _positive(expires_in_s, "expires_in_s")
    return {"data": {"attributes": attributes}, "meta": meta}


def list_inquiries_params(
    *,
    inquiry_ids: Sequence[str] | None,
    reference_id: str | None,
    statuses: Sequence[str] | None,
    page_size: int | None,
    after: str | None,
) -> dict[str, str]:
    """Build the `list-all-inquiries` query.

    `None` leaves a filter out; an empty sequence is refused, because dropping the filter
    would list every inquiry of the environment.

    Raises:
        ValueError: more than `MAX_FILTER_IDS` ids, an empty filter, or a bad page size.
    """
    params: dict[str, str] = {}
    if inquiry_ids is not None:
        params["filter[inquiry-id]"] = _csv(inquiry_ids, "inquiry_ids", limit=MAX_FILTER_IDS)
    if reference_id is not None:
        params["filter[reference-id]"] = _non_empty(reference_id, "reference_id")
    if statuses is not None:
        params["filter[status]"] = _csv(statuses, "statuses")
    params.update(_page_params(page_size, after))
    return params


def list_relations_params(key: str) -> dict[str, str]:
    """Build the `accounts-list-all-relations` query (`filter[key]` is required)."""
    return {"filter[key]": _non_empty(key, "key")}


def one_time_link_body(expires_in_s: int | None) -> dict[str, Any] | None:
    """Build the optional `generate-a-one-time-link` body."""
    if expires_in_s is None:
        return None
    return {"meta": {"expires-in-seconds": _positive(expires_in_s, "expires_in_s")}}


def comment_body(comment: str | None) -> dict[str, Any] | None:
    """Build the optional approve/decline body: only sent when there is a comment."""
    return None if comment is None else {"meta": {"comment": comment}}


def simulate_actions_body(actions: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Build the `inquiries-perform-simulate-actions` body, actions in order."""
    if not actions:
        raise ValueError("actions must not be empty")
    return {"meta": {"simulate-actions": [dict(action) for action in actions]}}


def case_status_body(status: str) -> dict[str, Any]:
    """Build the `set-status-for-a-case` body."""
    return {"meta": {"status": _non_empty(status, "status")}}


def add_relation_body(relation_key: str, target_id: str) -> dict[str, Any]:
    """Build the `accounts-add-relation` body."""
    if not relation_key or not target_id:
        raise ValueError("relation_key and target_id must not be empty")
    return {"meta": {"relation-schema-key": relation_key, "target-object-id": target_id}}


def create_report_body(
    *,
    report_type: str,
    query: Mapping[str, str],
    reference_id: str | None,
    account_id: str | None,
    report_template_id: str | None,
) -> dict[str, Any]:
    """Build the `create-a-report` body: `data.type` `report/<type>`, its query, the person.

    The reference id goes to `meta.auto-create-account-reference-id`, as for inquiries (the
    attribute `reference-id` is deprecated).

    Raises:
        ValueError: an empty report type or query, or no person (reference id or account id).
    """
    if not report_type or not query:
        raise ValueError("report_type and query must not be empty")
    if reference_id is None and account_id is None:
        raise ValueError("a report needs a reference_id or an account_id")
    attributes: dict[str, Any] = {"query": dict(query)}
    if account_id is not None:
        attributes["account-id"] = _non_empty(account_id, "account_id")
    if report_template_id is not None:
        attributes["report-template-id"] = _non_empty(report_template_id, "report_template_id")
    body: dict[str, Any] = {"data": {"type": f"report/{report_type}", "attributes": attributes}}
    if reference_id is not None:
        body["meta"] = {
            "auto-create-account-reference-id": _non_empty(reference_id, "reference_id")
        }
    return body


def _included_allowlist(include: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """A custom `included-allowlist`: per event type, the relationships payloads include."""
    if not include:
        raise ValueError("include must name at least one event type")
    entries = []
    for event_type, relationships in include.items():
        names = _csv(relationships, f"include[{event_type}]").split(",")
        if "*" in names and len(names) > 1:
            raise ValueError(f"include[{event_type}]: '*' cannot be combined with names")
        entries.append({"event-type": _non_empty(event_type, "event type"), "relationships": names})
    return {"state": "custom", "event-types": entries}


def create_webhook_body(
    *,
    name: str,
    url: str,
    enabled_events: Sequence[str],
    include: Mapping[str, Sequence[str]] | None,
) -> dict[str, Any]:
    """Build the `create-a-webhook` body.

    Args:
        name: a name to recognise the webhook by.
        url: where Persona sends the events.
        enabled_events: the event names to send (`*` for every event).
        include: per event type (`inquiry`), the relationships (`verifications`) whose objects
            the payloads carry in `included`; None leaves Persona's default (none).

    Raises:
        ValueError: an empty name, URL or event list, or a malformed include.
    """
    attributes: dict[str, Any] = {
        "name": _non_empty(name, "name"),
        "url": _non_empty(url, "url"),
        "enabled-events": _csv(enabled_events, "enabled_events").split(","),
    }
    if include is not None:
        attributes["included-allowlist"] = _included_allowlist(include)
    return {"data": {"attributes": attributes}}


def rotate_secret_body(expires_in_s: int | None) -> dict[str, Any] | None:
    """Build the optional `rotate-a-webhook-secret` body: when the current secret expires."""
    if expires_in_s is None:
        return None
    if expires_in_s < 0:
        raise ValueError("expires_in_s must not be negative")
    return {"meta": {"expires-in-seconds": expires_in_s}}


def list_webhooks_params(*, page_size: int | None, after: str | None) -> dict[str, str]:
    """Build the `list-all-webhooks` query (paging only)."""
    return _page_params(page_size, after)

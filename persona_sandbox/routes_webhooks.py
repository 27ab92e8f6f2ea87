"""Handlers of webhook subscriptions and of the environment's rate limits.

They follow their operation files: `create-a-webhook`, `list-all-webhooks`,
`retrieve-a-webhook`, `enable-a-webhook`, `rotate-a-webhook-secret` and `list-all-rate-limits`.
Every change to a subscription, and every read after one of its old secrets expired, is handed
to the sandbox's delivery (`Sandbox.apply_webhook_subscriptions`), so the subscription made
through the API is the one whose deliveries a receiver gets.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import quote

from persona_sandbox.errors import bad_request, unprocessable
from persona_sandbox.pipeline import Answer, Call
from persona_sandbox.ratelimit import UNLIMITED
from persona_sandbox.serialize import webhook_resource
from persona_sandbox.validate import Obj, root
from persona_sandbox.webhook_settings import valid_receiver_url
from persona_sandbox.webhook_subscriptions import WebhookRecord

__all__ = [
    "create_a_webhook",
    "enable_a_webhook",
    "list_all_rate_limits",
    "list_all_webhooks",
    "retrieve_a_webhook",
    "rotate_a_webhook_secret",
]

_ATTRIBUTES: Final = (
    "name",
    "description",
    "url",
    "enabled-events",
    "api-version",
    "api-key-inflection",
    "api-attributes-blocklist",
    "file-access-token-expires-in",
    "payload-filter",
    "included-allowlist",
    "relationship-allowlist",
    "custom-http-headers",
)
_STATES: Final = frozenset({"include_all", "include_none", "custom"})
_DEFAULT_PAGE: Final = 10
_MAX_PAGE: Final = 100
_MAX_EVENT_TYPES: Final = 200


def _allowlist(attributes: Obj) -> dict[str, Any] | None:
    """The `included-allowlist` as sent, checked against the schema's three shapes."""
    where = "data.attributes.included-allowlist"
    found = attributes.obj("included-allowlist", ("state", "event-types"))
    if found is None:
        return None
    state = found.required_str("state")
    if state not in _STATES:
        raise bad_request(f"{where}.state must be one of {', '.join(sorted(_STATES))}")
    if state != "custom":
        if "event-types" in found:
            raise bad_request(f"{where}.event-types is only allowed with state custom")
        return {"state": state}
    entries = found.raw("event-types")
    if not isinstance(entries, list) or not 1 <= len(entries) <= _MAX_EVENT_TYPES:
        raise bad_request(f"{where}.event-types must be an array of 1 to 200 entries")
    kept = []
    for index, entry in enumerate(entries):
        item = Obj(entry, f"{where}.event-types.{index}", ("event-type", "relationships"))
        names = item.strings("relationships")
        if not names:
            raise bad_request(f"{item.path}.relationships must name at least one relationship")
        if "*" in names and len(names) > 1:
            raise bad_request(f"{item.path}.relationships: '*' cannot be combined with names")
        kept.append({"event-type": item.required_str("event-type"), "relationships": names})
    return {"state": "custom", "event-types": kept}


def _events(attributes: Obj) -> list[str]:
    events = attributes.strings("enabled-events")
    if events is None:
        raise bad_request("data.attributes.enabled-events is missing")
    if any(not name or any(char.isspace() for char in name) for name in events):
        raise bad_request("data.attributes.enabled-events must name events, without spaces")
    return events


def _document(call: Call, webhook: WebhookRecord, *, with_secrets: bool) -> dict[str, Any]:
    call.sandbox.apply_webhook_subscriptions(call.now)
    return {"data": webhook_resource(webhook, with_secrets=with_secrets), "included": []}


def create_a_webhook(call: Call) -> Answer:
    """`POST /webhooks` (create-a-webhook): 201 with the new, disabled webhook and its secret."""
    attributes = root(call.body, ("data",)).required_obj("data", ("attributes",))
    attributes = attributes.required_obj("attributes", _ATTRIBUTES)
    url = attributes.required_str("url")
    if not valid_receiver_url(url):
        raise unprocessable(
            "data.attributes.url must be an http or https URL", "/data/attributes/url"
        )
    webhook = call.sandbox.webhook_subscriptions.create(
        name=attributes.required_str("name"),
        description=attributes.string("description"),
        url=url,
        enabled_events=_events(attributes),
        included_allowlist=_allowlist(attributes),
        api_version=attributes.string("api-version") or "2025-12-08",
        now=call.now,
    )
    return Answer(201, _document(call, webhook, with_secrets=True))


def retrieve_a_webhook(call: Call) -> Answer:
    """`GET /webhooks/{id}` (retrieve-a-webhook), with its secrets."""
    call.sandbox.apply_webhook_subscriptions(call.now)
    webhook = call.sandbox.webhook_subscriptions.get(call.params["webhook_id"])
    return Answer(200, _document(call, webhook, with_secrets=True))


def enable_a_webhook(call: Call) -> Answer:
    """`POST /webhooks/{id}/enable` (enable-a-webhook): deliveries start."""
    webhook = call.sandbox.webhook_subscriptions.enable(call.params["webhook_id"])
    return Answer(200, _document(call, webhook, with_secrets=False))


def rotate_a_webhook_secret(call: Call) -> Answer:
    """`POST /webhooks/{id}/rotate-secret`: a new secret; the current one expires later.

    Body (optional): `{"meta": {"expires-in-seconds": N}}`, N >= 0.
    """
    meta = root(call.body, ("meta",)).obj("meta", ("expires-in-seconds",))
    expires_in_s = meta.integer("expires-in-seconds") if meta else None
    if expires_in_s is not None and expires_in_s < 0:
        raise bad_request("meta.expires-in-seconds must not be negative")
    webhook = call.sandbox.webhook_subscriptions.rotate(
        call.params["webhook_id"], call.now, expires_in_s
    )
    return Answer(200, _document(call, webhook, with_secrets=True))


def _page_size(call: Call) -> int:
    raw = call.query.get("page[size]")
    if raw is None:
        return _DEFAULT_PAGE
    try:
        size = int(raw)
    except ValueError:
        raise bad_request("page[size] must be an integer") from None
    if not 1 <= size <= _MAX_PAGE:
        raise bad_request(f"page[size] must be between 1 and {_MAX_PAGE}")
    return size


def list_all_webhooks(call: Call) -> Answer:
    """`GET /webhooks` (list-all-webhooks): newest first, without secrets, cursor pages."""
    call.sandbox.apply_webhook_subscriptions(call.now)
    found = call.sandbox.webhook_subscriptions.newest_first()
    after = call.query.get("page[after]")
    if after is not None:
        ids = [webhook.id for webhook in found]
        found = found[ids.index(after) + 1 :] if after in ids else []
    size = _page_size(call)
    page, rest = found[:size], found[size:]
    next_link = (
        f"/api/v1/webhooks?page%5Bafter%5D={quote(page[-1].id)}&page%5Bsize%5D={size}"
        if rest
        else None
    )
    return Answer(
        200,
        {
            "data": [webhook_resource(webhook, with_secrets=False) for webhook in page],
            "links": {"prev": None, "next": next_link},
        },
    )


def list_all_rate_limits(call: Call) -> Answer:
    """`GET /rate-limits` (list-all-rate-limits): the configured per-minute API limit.

    `limit` is `rate_limit_per_minute` (`UNLIMITED` when the limit is off); `remaining` and
    `seconds-to-reset` describe the current window, as the `RateLimit-*` headers do.
    """
    sandbox = call.sandbox
    window = sandbox.limiter.current()
    return Answer(
        200,
        {
            "data": [
                {
                    "type": "rate-limit/api",
                    "attributes": {
                        "limit": sandbox.config.rate_limit_per_minute or UNLIMITED,
                        "remaining": window.remaining,
                        "seconds-to-reset": window.reset_s,
                    },
                }
            ]
        },
    )

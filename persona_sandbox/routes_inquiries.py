"""Handlers of the inquiry collection: create, retrieve, list and redact.

Create follows `create-an-inquiry` (2025-12-08): exactly one template attribute chosen by kind
(`inquiry-template-id` = `itmpl_...`, `inquiry-template-version-id` = `itmplv_...`,
`template-id` = `tmpl_...`), fields written as plain values and returned as `{type, value}`,
`meta.auto-create-account-reference-id` attaching the inquiry to the account with that
reference id (created on first use), and `meta` in the answer always holding `session-token`,
`one-time-link` and `one-time-link-short` (null unless requested).
"""

from __future__ import annotations

import re
from typing import Any, Final

from persona_sandbox.documents import inquiry_document, inquiry_includes, one_time_link_meta
from persona_sandbox.errors import bad_request, conflict, unprocessable
from persona_sandbox.pipeline import Answer, Call
from persona_sandbox.query import list_inquiries, parse_inquiry_query
from persona_sandbox.state import DEFAULT_FIELDS, NewInquiry
from persona_sandbox.validate import Obj, root

__all__ = ["create_inquiry", "list_all_inquiries", "redact_inquiry", "retrieve_inquiry"]

#: Template attribute -> the id pattern it takes.
TEMPLATE_ATTRIBUTES: Final = {
    "inquiry-template-id": re.compile(r"itmpl_[A-Za-z0-9]+"),
    "inquiry-template-version-id": re.compile(r"itmplv_[A-Za-z0-9]+"),
    "template-id": re.compile(r"tmpl_[A-Za-z0-9]+"),
}
_ATTRIBUTES: Final = (
    *TEMPLATE_ATTRIBUTES,
    "reference-id",
    "account-id",
    "creator-email-address",
    "theme-id",
    "theme-set-id",
    "redirect-uri",
    "note",
    "fields",
    "tags",
    "initial-step-name",
)
_INTERVALS: Final = (
    "expiration-after-create-interval-seconds",
    "expiration-after-start-interval-seconds",
    "expiration-after-resume-interval-seconds",
    "one-time-link-expiration-seconds",
)
_META: Final = (
    "auto-create-account",
    "auto-create-account-type-id",
    "auto-create-account-reference-id",
    "auto-create-inquiry-session",
    "auto-create-one-time-link",
    *_INTERVALS,
)
_STRING_FIELDS: Final = frozenset(DEFAULT_FIELDS)
_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")


def _template(attributes: Obj) -> dict[str, str]:
    given = {
        name: value
        for name in TEMPLATE_ATTRIBUTES
        if (value := attributes.string(name)) is not None
    }
    names = " or ".join(f"data.attributes.{name}" for name in TEMPLATE_ATTRIBUTES)
    if not given:
        raise bad_request(f"data.attributes.inquiry-template-id is missing (give one of {names})")
    if len(given) > 1:
        raise bad_request(f"Give only one of {names}")
    ((name, value),) = given.items()
    if not TEMPLATE_ATTRIBUTES[name].fullmatch(value):
        prefix = TEMPLATE_ATTRIBUTES[name].pattern.split("[", 1)[0]
        raise unprocessable(
            f"data.attributes.{name} {value!r} is not a valid id (expected {prefix}...)",
            f"/data/attributes/{name}",
        )
    return given


def _fields(attributes: Obj) -> dict[str, Any]:
    fields = attributes.raw("fields")
    if fields is None:
        return {}
    if not isinstance(fields, dict):
        raise bad_request("data.attributes.fields must be an object")
    for key, value in fields.items():
        if key in _STRING_FIELDS and value is not None and not isinstance(value, str):
            raise bad_request(f"data.attributes.fields.{key} must be a string")
    birthdate = fields.get("birthdate")
    if isinstance(birthdate, str) and not _DATE.fullmatch(birthdate):
        raise bad_request("data.attributes.fields.birthdate must be a date (YYYY-MM-DD)")
    return dict(fields)


def _interval(meta: Obj | None, name: str) -> float | None:
    if meta is None:
        return None
    value = meta.integer(name)
    if value is not None and value <= 0:
        raise unprocessable(f"meta.{name} must be positive", f"/meta/{name}")
    return None if value is None else float(value)


def _new_inquiry(call: Call) -> tuple[NewInquiry, Obj | None]:
    body = root(call.body, ("data", "meta"))
    attributes = body.required_obj("data", ("attributes",)).required_obj("attributes", _ATTRIBUTES)
    meta = body.obj("meta", _META)
    template = _template(attributes)
    reference_id = attributes.string("reference-id")
    auto_create = True
    if meta is not None:
        reference_id = meta.string("auto-create-account-reference-id") or reference_id
        auto_create = meta.boolean("auto-create-account") is not False
        meta.string("auto-create-account-type-id")
        meta.boolean("auto-create-inquiry-session")
        meta.boolean("auto-create-one-time-link")
    if not auto_create and reference_id is not None:
        raise unprocessable(
            "meta.auto-create-account-reference-id cannot be used with "
            "meta.auto-create-account false",
            "/meta/auto-create-account-reference-id",
        )
    for name in ("theme-id", "theme-set-id", "initial-step-name"):
        attributes.string(name)
    _interval(meta, "one-time-link-expiration-seconds")
    spec = NewInquiry(
        template_id=template.get("template-id"),
        inquiry_template_id=template.get("inquiry-template-id"),
        inquiry_template_version_id=template.get("inquiry-template-version-id"),
        account_id=attributes.string("account-id"),
        reference_id=reference_id,
        auto_create_account=auto_create,
        note=attributes.string("note"),
        redirect_uri=attributes.string("redirect-uri"),
        creator=attributes.string("creator-email-address") or "API",
        tags=tuple(attributes.strings("tags") or ()),
        fields=_fields(attributes),
        create_interval_s=_interval(meta, "expiration-after-create-interval-seconds"),
        start_interval_s=_interval(meta, "expiration-after-start-interval-seconds"),
        resume_interval_s=_interval(meta, "expiration-after-resume-interval-seconds"),
    )
    return spec, meta


def create_inquiry(call: Call) -> Answer:
    """`POST /inquiries` (create-an-inquiry): 201 with the new inquiry and its meta."""
    spec, meta = _new_inquiry(call)
    include = inquiry_includes(call.query)
    state = call.sandbox.state
    inquiry = state.create_inquiry(spec, call.now)
    document_meta: dict[str, Any] = {
        "session-token": None,
        "one-time-link": None,
        "one-time-link-short": None,
    }
    if meta is not None and meta.boolean("auto-create-inquiry-session"):
        document_meta["session-token"] = state.machine.open_session(inquiry, call.now).token
    if meta is not None and meta.boolean("auto-create-one-time-link"):
        state.machine.open_session(inquiry, call.now)
        document_meta.update(one_time_link_meta())
    document = inquiry_document(state, inquiry, include, document_meta)
    return Answer(201, document, inquiry_id=inquiry.id, created=True)


def retrieve_inquiry(call: Call) -> Answer:
    """`GET /inquiries/{id}` (retrieve-an-inquiry)."""
    include = inquiry_includes(call.query)
    state = call.sandbox.state
    inquiry = state.inquiry(call.params["inquiry_id"], call.now)
    return Answer(200, inquiry_document(state, inquiry, include))


def list_all_inquiries(call: Call) -> Answer:
    """`GET /inquiries` (list-all-inquiries): filtered, newest first, cursor pages."""
    state = call.sandbox.state
    page = list_inquiries(state, parse_inquiry_query(call.query), call.now)
    return Answer(
        200,
        {
            "data": [state.inquiry_resource(inquiry) for inquiry in page.items],
            "links": {"prev": page.prev, "next": page.next},
        },
    )


def redact_inquiry(call: Call) -> Answer:
    """`DELETE /inquiries/{id}` (redact-an-inquiry): erase PII; a second redact is a 409."""
    include = inquiry_includes(call.query)
    state = call.sandbox.state
    inquiry = state.inquiry(call.params["inquiry_id"], call.now)
    if inquiry.redacted_at is not None:
        raise conflict("Inquiry already redacted")
    state.end_scenario(inquiry)
    state.machine.redact(inquiry, call.now)
    return Answer(200, inquiry_document(state, inquiry, include))

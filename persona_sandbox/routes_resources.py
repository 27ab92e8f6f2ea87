"""Handlers of verifications, cases and accounts.

Verifications are read-only (they come from scenarios and simulate actions); reading one
brings its inquiry up to date first. Cases and account relations follow their operation files
(`create-a-case`, `retrieve-case`, `set-status-for-a-case`, `retrieve-an-account`,
`accounts-add-relation`, `accounts-list-all-relations`).
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlencode

from persona_sandbox.documents import VERIFICATION_RELATIONSHIPS, parse_include
from persona_sandbox.errors import bad_request
from persona_sandbox.pipeline import Answer, Call
from persona_sandbox.records import CaseRecord
from persona_sandbox.serialize import account_resource, case_resource
from persona_sandbox.validate import root

__all__ = [
    "accounts_add_relation",
    "accounts_list_all_relations",
    "create_a_case",
    "retrieve_a_verification",
    "retrieve_an_account",
    "retrieve_case",
    "set_status_for_a_case",
]

_CASE_RELATIONSHIPS: Final = frozenset(
    {
        "accounts",
        "case-comments",
        "case-template",
        "case-queue",
        "inquiries",
        "reports",
        "verifications",
        "txns",
    }
)
_ACCOUNT_RELATIONSHIPS: Final = frozenset({"account-type"})
_RELATION_FILTERS: Final = frozenset({"key", "created-at-start", "created-at-end"})


def retrieve_a_verification(call: Call) -> Answer:
    """`GET /verifications/{id}` (retrieve-a-verification)."""
    parse_include(call.query, VERIFICATION_RELATIONSHIPS)
    state = call.sandbox.state
    verification = state.verification(call.params["verification_id"], call.now)
    return Answer(
        200,
        {"data": state.verification_resource(verification), "included": []},
        inquiry_id=verification.inquiry_id,
    )


def _case_document(call: Call, case: CaseRecord) -> dict[str, Any]:
    directory = call.sandbox.state.directory
    return {"data": case_resource(case, directory.object_type), "included": []}


def create_a_case(call: Call) -> Answer:
    """`POST /cases` (create-a-case): 201 with the new case, status `Open`."""
    parse_include(call.query, _CASE_RELATIONSHIPS)
    body = root(call.body, ("data", "meta"))
    attributes = body.required_obj("data", ("attributes",)).required_obj(
        "attributes", ("case-template-id", "creator-email-address", "case-queue-id", "fields")
    )
    meta = body.obj("meta", ("object-ids", "sla-expires-in-seconds"))
    fields = attributes.raw("fields")
    if fields is not None and not isinstance(fields, dict):
        raise bad_request("data.attributes.fields must be an object")
    case = call.sandbox.state.directory.create_case(
        template_id=attributes.required_str("case-template-id"),
        now=call.now,
        queue_id=attributes.string("case-queue-id"),
        creator_email=attributes.string("creator-email-address"),
        fields=fields,
        object_ids=(meta.strings("object-ids") or []) if meta else [],
        sla_s=meta.number("sla-expires-in-seconds") if meta else None,
    )
    return Answer(201, _case_document(call, case))


def retrieve_case(call: Call) -> Answer:
    """`GET /cases/{id}` (retrieve-case)."""
    parse_include(call.query, _CASE_RELATIONSHIPS)
    case = call.sandbox.state.directory.case(call.params["case_id"])
    return Answer(200, _case_document(call, case))


def set_status_for_a_case(call: Call) -> Answer:
    """`POST /cases/{id}/set-status` (set-status-for-a-case), body `{"meta": {"status": ...}}`."""
    parse_include(call.query, _CASE_RELATIONSHIPS)
    status = root(call.body, ("meta",)).required_obj("meta", ("status",)).required_str("status")
    directory = call.sandbox.state.directory
    case = directory.set_case_status(directory.case(call.params["case_id"]), status, call.now)
    return Answer(200, _case_document(call, case))


def retrieve_an_account(call: Call) -> Answer:
    """`GET /accounts/{id}` (retrieve-an-account)."""
    parse_include(call.query, _ACCOUNT_RELATIONSHIPS)
    account = call.sandbox.state.directory.account(call.params["account_id"])
    return Answer(200, {"data": account_resource(account), "included": []})


def accounts_add_relation(call: Call) -> Answer:
    """`POST /accounts/{id}/add-relation`: relate the account to another account."""
    parse_include(call.query, _ACCOUNT_RELATIONSHIPS)
    meta = root(call.body, ("meta",)).required_obj(
        "meta", ("relation-schema-key", "target-object-id")
    )
    key = meta.required_str("relation-schema-key")
    target = meta.required_str("target-object-id")
    directory = call.sandbox.state.directory
    account = directory.account(call.params["account_id"])
    directory.add_relation(account, key, target, call.now)
    return Answer(200, {"data": account_resource(account), "included": []})


def accounts_list_all_relations(call: Call) -> Answer:
    """`GET /accounts/{id}/relations?filter[key]=...`: related accounts, newest first."""
    filters = {
        name[len("filter[") : -1]: value
        for name, value in call.query.items()
        if name.startswith("filter[") and name.endswith("]")
    }
    unknown = sorted(set(filters) - _RELATION_FILTERS)
    if unknown:
        raise bad_request(f"filter[{unknown[0]}] is not a supported parameter")
    key = filters.get("key")
    if not key:
        raise bad_request("filter[key] is missing")
    size_text = call.query.get("page[size]", "10")
    if not size_text.isdigit() or not 1 <= int(size_text) <= 100:
        raise bad_request("page[size] must be an integer between 1 and 100")
    size = int(size_text)
    directory = call.sandbox.state.directory
    account = directory.account(call.params["account_id"])
    related = directory.related_accounts(account, key)
    after = call.query.get("page[after]")
    if after is not None:
        ids = [item.id for item in related]
        related = related[ids.index(after) + 1 :] if after in ids else []
    page, more = related[:size], len(related) > size
    next_link = None
    if more:
        params = {"filter[key]": key, "page[size]": str(size), "page[after]": page[-1].id}
        next_link = f"/api/v1/accounts/{account.id}/relations?{urlencode(params)}"
    return Answer(
        200,
        {
            "data": [account_resource(item) for item in page],
            "links": {"prev": None, "next": next_link},
        },
    )

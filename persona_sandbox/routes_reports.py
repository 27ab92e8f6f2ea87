"""Handlers of reports: `POST /reports` (create-a-report) and `GET /reports/{id}`.

The request body is checked against the type's request schema (`report-<type>-request`: closed
query keys, at least one name part, a `YYYY-MM-DD` birthdate); how a report ends is
`persona_sandbox.report_rules`.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Final

from persona_sandbox.documents import parse_include
from persona_sandbox.errors import bad_request, stored, unprocessable
from persona_sandbox.ids import derived_id, new_id
from persona_sandbox.pipeline import Answer, Call
from persona_sandbox.report_rules import NAME_KEYS, QUERY_KEYS, ReportRecord, report_resource
from persona_sandbox.validate import Obj, root

__all__ = ["create_a_report", "retrieve_a_report"]

_ATTRIBUTES: Final = ("account-id", "reference-id", "report-template-id", "query")
_META: Final = (
    "auto-create-account",
    "auto-create-account-type-id",
    "auto-create-account-reference-id",
    "processing-mode",
    "request-flags",
)
_DATE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_RELATIONSHIPS: Final = frozenset({"inquiry", "account", "transaction", "report-template"})


def _query(attributes: Obj, report_type: str) -> dict[str, str]:
    query = attributes.required_obj("query", QUERY_KEYS[report_type])
    values = {key: query.string(key) for key in QUERY_KEYS[report_type]}
    found = {key: value for key, value in values.items() if value}
    birthdate = found.get("birthdate")
    if birthdate is not None and not _DATE.match(birthdate):
        raise bad_request("data.attributes.query.birthdate must be formatted as YYYY-MM-DD")
    if not any(key in found for key in NAME_KEYS):
        raise bad_request(
            "data.attributes.query must have one of name-first, name-middle, name-last or term"
        )
    return found


def create_a_report(call: Call) -> Answer:
    """`POST /reports` (create-a-report): 201 with the new report, `pending` (or ended)."""
    parse_include(call.query, _RELATIONSHIPS)
    body = root(call.body, ("data", "meta"))
    data = body.required_obj("data", ("type", "attributes"))
    kind = data.required_str("type")
    report_type = kind.removeprefix("report/")
    if not kind.startswith("report/") or report_type not in QUERY_KEYS:
        raise unprocessable(
            f"data.type {kind!r} is not a report type the sandbox runs", "/data/type"
        )
    attributes = data.required_obj("attributes", _ATTRIBUTES)
    query = _query(attributes, report_type)
    meta = body.obj("meta", _META)
    state = call.sandbox.state
    account_id = attributes.string("account-id")
    reference_id = meta.string("auto-create-account-reference-id") if meta else None
    reference_id = reference_id or attributes.string("reference-id")
    if account_id is not None:
        account_id = stored(state.accounts, account_id, "account").id
    elif reference_id is not None:
        account_id = state.account_by_reference(reference_id, call.now).id
    after = timedelta(seconds=call.sandbox.config.report_after_s)
    template_id = attributes.string("report-template-id") or derived_id(
        "rptp_", f"{call.sandbox.config.environment_id}:{report_type}"
    )
    report = ReportRecord(
        id=new_id("rep_"),
        report_type=report_type,
        query=query,
        created_at=call.now,
        ends_at=call.now + after,
        template_id=template_id,
        account_id=account_id,
    )
    state.reports[report.id] = report
    return Answer(201, {"data": report_resource(report, call.now)})


def retrieve_a_report(call: Call) -> Answer:
    """`GET /reports/{id}` (retrieve-a-report)."""
    parse_include(call.query, _RELATIONSHIPS)
    report = stored(call.sandbox.state.reports, call.params["report_id"], "report")
    return Answer(200, {"data": report_resource(report, call.now)})

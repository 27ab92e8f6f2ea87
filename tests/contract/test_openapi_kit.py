"""Tests of the contract kit itself: it accepts what the spec allows and names what it does not."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, ParamSpec

import httpx
import pytest

from tests.contract.openapi import (
    ContractError,
    OperationSet,
    load_operation,
    validate_request,
    validate_response,
)
from tests.contract.webhooks import load_webhooks, validate_webhook_event

P = ParamSpec("P")
API = "http://persona.test/api/v1"
AUTH = {"Authorization": "Bearer persona_sandbox_kit", "Persona-Version": "2025-12-08"}
RATE_HEADERS = {
    "RateLimit-Limit": "300",
    "RateLimit-Remaining": "299",
    "RateLimit-Reset": "42",
    "Request-Id": "req_kit",
    "Persona-Environment-Id": "env_kit",
    "Persona-Organization-Id": "org_kit",
}
NULL_ATTRIBUTES = [
    "reference-id",
    "note",
    "reviewer-comment",
    "started-at",
    "expires-at",
    "completed-at",
    "failed-at",
    "marked-for-review-at",
    "decisioned-at",
    "expired-at",
    "redacted-at",
    "previous-step-name",
    "next-step-name",
]


def inquiry(status: str = "created", **attributes: Any) -> dict[str, Any]:
    values: dict[str, Any] = dict.fromkeys(NULL_ATTRIBUTES)
    values.update(
        status=status,
        behaviors={},
        tags=[],
        creator="API",
        fields={"name-first": {"type": "string", "value": "Jane"}},
    )
    values["created-at"] = values["updated-at"] = "2025-12-08T10:00:00.000Z"
    values.update(attributes)
    return {"type": "inquiry", "id": "inq_Kit000", "attributes": values, "relationships": {}}


def government_id(**attributes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "status": "passed",
        "created-at": "2025-12-08T10:00:00.000Z",
        "checks": [{"name": "id_aamva_database_lookup", "status": "passed", "reasons": []}],
    }
    values.update(attributes)
    return {"type": "verification/government-id", "id": "ver_Kit000", "attributes": values}


def json_response(status: int, body: Any, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers={**RATE_HEADERS, **headers}, json=body)


def refused(check: Callable[P, object], *args: P.args, **kwargs: P.kwargs) -> ContractError:
    """The `ContractError` that `check(*args, **kwargs)` raises; the test fails if none."""
    with pytest.raises(ContractError) as caught:
        check(*args, **kwargs)
    return caught.value


def violation(error: ContractError) -> list[tuple[str, str]]:
    """The (part, field) of each problem found."""
    return [(problem.part, problem.field) for problem in error.problems]


# Loading ---------------------------------------------------------------------------------


def test_operations_are_loaded_once_per_process() -> None:
    assert load_operation("retrieve-an-inquiry") is load_operation("retrieve-an-inquiry")


def test_operation_reads_method_and_template() -> None:
    operation = load_operation("approve-an-inquiry")
    assert (operation.method, operation.path_template) == (
        "POST",
        "/inquiries/{inquiry-id}/approve",
    )


def test_unknown_operation_is_an_error_naming_it() -> None:
    with pytest.raises(LookupError, match="no-such-operation is not in the spec"):
        load_operation("no-such-operation")


def test_violation_is_an_assertion_error_naming_operation_part_and_field() -> None:
    request = httpx.Request(
        "POST", f"{API}/inquiries", headers=AUTH, json={"data": {"attributes": {"note": 5}}}
    )
    with pytest.raises(AssertionError) as caught:
        validate_request(request, "create-an-inquiry")
    message = str(caught.value)
    assert message.startswith("create-an-inquiry request (POST /api/v1/inquiries)")
    assert "request body field 'data.attributes.note': 5 is not of type 'string', 'null'" in message


# Requests --------------------------------------------------------------------------------


def test_valid_create_request_passes() -> None:
    body = {
        "data": {"attributes": {"inquiry-template-id": "itmpl_Kit", "fields": {"x": "y"}}},
        "meta": {"auto-create-account-reference-id": "user-1", "auto-create-one-time-link": True},
    }
    request = httpx.Request(
        "POST", f"{API}/inquiries", headers={**AUTH, "Idempotency-Key": "k1"}, json=body
    )
    validate_request(request, "create-an-inquiry", require_headers=["Idempotency-Key"])


def test_unknown_create_attribute_is_named() -> None:
    body = {"data": {"attributes": {"inquiry-template-id": "itmpl_Kit", "template": "x"}}}
    request = httpx.Request("POST", f"{API}/inquiries", headers=AUTH, json=body)
    error = refused(validate_request, request, "create-an-inquiry")
    assert violation(error) == [("request body", "data.attributes")]
    assert "'template' was unexpected" in error.problems[0].detail


def test_missing_required_body_property_is_named_as_the_field() -> None:
    request = httpx.Request("POST", f"{API}/inquiries", headers=AUTH, json={"meta": {}})
    error = refused(validate_request, request, "create-an-inquiry")
    assert violation(error) == [("request body", "data")]


def test_body_on_an_operation_without_one_is_a_violation() -> None:
    request = httpx.Request("POST", f"{API}/inquiries/inq_1/resume", headers=AUTH, json={})
    error = refused(validate_request, request, "resume-an-inquiry")
    assert violation(error) == [("request body", "")]


def test_json_body_needs_a_declared_content_type() -> None:
    request = httpx.Request(
        "POST",
        f"{API}/inquiries/inq_1/approve",
        headers={**AUTH, "Content-Type": "text/plain"},
        content=b"{}",
    )
    error = refused(validate_request, request, "approve-an-inquiry")
    assert violation(error) == [("header", "Content-Type")]


def test_request_to_any_host_under_the_base_path_matches() -> None:
    request = httpx.Request("GET", "http://127.0.0.1:8123/api/v1/inquiries/inq_1", headers=AUTH)
    validate_request(request, "retrieve-an-inquiry")


def test_request_outside_the_base_path_is_a_path_violation() -> None:
    request = httpx.Request("GET", "http://persona.test/inquiries/inq_1", headers=AUTH)
    error = refused(validate_request, request, "retrieve-an-inquiry")
    assert violation(error) == [("path", "")]


def test_wrong_method_is_a_violation() -> None:
    request = httpx.Request("PUT", f"{API}/inquiries/inq_1", headers=AUTH)
    error = refused(validate_request, request, "retrieve-an-inquiry")
    assert violation(error) == [("method", "")]


def test_quoted_path_segment_is_one_parameter() -> None:
    operation = load_operation("retrieve-an-inquiry")
    url = httpx.URL(f"{API}/inquiries/inq%2F1")
    assert operation.match_path(url) == {"inquiry-id": "inq/1"}


def test_missing_bearer_token_breaks_the_security_requirement() -> None:
    request = httpx.Request("GET", f"{API}/inquiries/inq_1", headers={"Authorization": "Basic x"})
    error = refused(validate_request, request, "retrieve-an-inquiry")
    assert violation(error) == [("header", "Authorization")]


def test_header_outside_its_enum_is_named() -> None:
    request = httpx.Request(
        "GET", f"{API}/inquiries/inq_1", headers={**AUTH, "Key-Inflection": "pascal"}
    )
    error = refused(validate_request, request, "retrieve-an-inquiry")
    assert violation(error) == [("header", "Key-Inflection")]


def test_header_the_caller_requires_must_be_sent() -> None:
    request = httpx.Request("POST", f"{API}/inquiries/inq_1/expire", headers=AUTH)
    error = refused(
        validate_request, request, "expire-an-inquiry", require_headers=["Idempotency-Key"]
    )
    assert violation(error) == [("header", "Idempotency-Key")]


def test_deep_object_filters_and_page_pass() -> None:
    params = {
        "filter[inquiry-id]": "inq_1,inq_2",
        "filter[reference-id]": "user-1",
        "filter[status]": "completed,approved",
        "page[size]": "25",
        "page[after]": "inq_0",
    }
    request = httpx.Request("GET", f"{API}/inquiries", params=params, headers=AUTH)
    validate_request(request, "list-all-inquiries")


def test_undeclared_deep_object_key_is_named() -> None:
    params = {"filter[colour]": "red"}
    request = httpx.Request("GET", f"{API}/inquiries", params=params, headers=AUTH)
    error = refused(validate_request, request, "list-all-inquiries")
    assert violation(error) == [("query parameter", "filter")]
    assert "'colour' was unexpected" in error.problems[0].detail


@pytest.mark.parametrize(
    ("path", "params", "operation", "named"),
    [
        pytest.param(
            "/inquiries",
            {"page[size]": "ten"},
            "list-all-inquiries",
            "page[size]",
            id="page-size-not-a-number",
        ),
        pytest.param(
            "/inquiries",
            {"page_size": "5"},
            "list-all-inquiries",
            "page_size",
            id="undeclared-parameter",
        ),
        pytest.param(
            "/accounts/act_1/relations",
            {},
            "accounts-list-all-relations",
            "filter",
            id="required-deep-object-not-sent",
        ),
        pytest.param(
            "/accounts/act_1/relations",
            {"filter[created-at-start]": "2025-12-01"},
            "accounts-list-all-relations",
            "filter[key]",
            id="required-deep-object-key-not-sent",
        ),
    ],
)
def test_query_parameter_violation_is_named(
    path: str, params: dict[str, str], operation: str, named: str
) -> None:
    request = httpx.Request("GET", f"{API}{path}", params=params, headers=AUTH)
    error = refused(validate_request, request, operation)
    assert violation(error) == [("query parameter", named)]


def test_deep_object_sent_flat_is_a_violation() -> None:
    request = httpx.Request("GET", f"{API}/inquiries", params={"filter": "x"}, headers=AUTH)
    error = refused(validate_request, request, "list-all-inquiries")
    assert ("query parameter", "filter") in violation(error)


# Responses -------------------------------------------------------------------------------


def test_valid_inquiry_response_passes() -> None:
    body = {"data": inquiry("approved"), "included": [government_id()]}
    validate_response(json_response(200, body), "retrieve-an-inquiry")


def test_official_example_passes() -> None:
    operation = load_operation("retrieve-an-inquiry")
    example, _ = operation.spec.resolve("/components/examples/inquiry-retrieve")
    validate_response(json_response(200, example["value"]), "retrieve-an-inquiry")


def test_wrong_attribute_type_is_named_by_json_path() -> None:
    document = inquiry()
    document["attributes"]["status"] = None
    body = {"data": document}
    error = refused(validate_response, json_response(200, body), "retrieve-an-inquiry")
    assert violation(error) == [("response body (200)", "data.attributes.status")]


def test_missing_required_attribute_is_named() -> None:
    document = inquiry()
    del document["attributes"]["fields"]
    error = refused(
        validate_response, json_response(200, {"data": document}), "retrieve-an-inquiry"
    )
    assert violation(error) == [("response body (200)", "data.attributes.fields")]


def test_invalid_date_time_is_a_violation() -> None:
    body = {"data": inquiry(**{"completed-at": "2025-12-08 10:00"})}
    error = refused(validate_response, json_response(200, body), "retrieve-an-inquiry")
    assert violation(error) == [("response body (200)", "data.attributes.completed-at")]


def test_included_object_is_checked_against_its_discriminated_schema() -> None:
    body = {"data": inquiry(), "included": [government_id(checks=[{"name": 7}])]}
    error = refused(validate_response, json_response(200, body), "retrieve-an-inquiry")
    assert ("response body (200)", "included[0].attributes.checks[0].name") in violation(error)


def test_included_object_of_an_unmapped_type_is_named() -> None:
    body = {"data": inquiry(), "included": [{"type": "verification/unheard-of", "id": "ver_1"}]}
    error = refused(validate_response, json_response(200, body), "retrieve-an-inquiry")
    assert violation(error) == [("response body (200)", "included[0]")]


def test_undeclared_status_is_a_violation() -> None:
    error = refused(validate_response, json_response(500, {"errors": []}), "retrieve-an-inquiry")
    assert violation(error) == [("status", "")]


def test_missing_declared_response_header_is_named() -> None:
    response = httpx.Response(200, json={"data": inquiry()}, headers={"Request-Id": "req_1"})
    error = refused(validate_response, response, "retrieve-an-inquiry")
    assert ("response header", "RateLimit-Reset") in violation(error)
    assert ("response header", "Request-Id") not in violation(error)


def test_fractional_rate_limit_reset_is_a_type_violation() -> None:
    response = json_response(429, {"errors": [{"title": "Rate limit exceeded"}]})
    response.headers["RateLimit-Reset"] = "1.5"
    error = refused(validate_response, response, "create-an-inquiry")
    assert violation(error) == [("response header", "RateLimit-Reset")]


def test_unauthorized_body_with_details_is_a_violation() -> None:
    body = {"errors": [{"title": "Token is invalid", "details": "no"}]}
    response = httpx.Response(401, json=body)
    error = refused(validate_response, response, "retrieve-an-inquiry")
    assert violation(error) == [("response body (401)", "errors[0]")]


def test_not_found_error_document_passes() -> None:
    body = {"errors": [{"title": "Record not found", "details": "inquiry inq_1 is not found"}]}
    validate_response(json_response(404, body), "retrieve-an-inquiry")


def test_non_json_body_is_a_violation() -> None:
    response = httpx.Response(
        200, headers={**RATE_HEADERS, "Content-Type": "application/json"}, content=b"<html>"
    )
    error = refused(validate_response, response, "retrieve-an-inquiry")
    assert violation(error) == [("response body", "")]


def test_wrong_response_content_type_is_a_violation() -> None:
    response = httpx.Response(200, headers=RATE_HEADERS, text=json.dumps({"data": inquiry()}))
    error = refused(validate_response, response, "retrieve-an-inquiry")
    assert violation(error) == [("response header", "Content-Type")]


# Matching --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/inquiries/inq_1", "retrieve-an-inquiry"),
        ("DELETE", "/inquiries/inq_1", "redact-an-inquiry"),
        ("POST", "/inquiries/inq_1/approve", "approve-an-inquiry"),
        ("GET", "/inquiries", "list-all-inquiries"),
        ("POST", "/inquiries", "create-an-inquiry"),
    ],
)
def test_operation_set_matches_method_and_template(method: str, path: str, expected: str) -> None:
    operations = OperationSet(
        [
            "create-an-inquiry",
            "retrieve-an-inquiry",
            "redact-an-inquiry",
            "approve-an-inquiry",
            "list-all-inquiries",
        ]
    )
    assert operations.match(httpx.Request(method, f"{API}{path}")).operation_id == expected


def test_operation_set_refuses_an_unserved_request() -> None:
    operations = OperationSet(["retrieve-an-inquiry"])
    error = refused(operations.match, httpx.Request("PATCH", f"{API}/inquiries/inq_1"))
    assert violation(error) == [("path", "")]


# Webhooks --------------------------------------------------------------------------------


def approved_event() -> dict[str, Any]:
    return {
        "data": {
            "type": "event",
            "id": "evt_Kit000",
            "attributes": {
                "name": "inquiry.approved",
                "created-at": "2025-12-08T10:05:00.000Z",
                "payload": {"data": inquiry("approved"), "included": []},
            },
        }
    }


def test_webhook_file_names_the_inquiry_and_verification_events() -> None:
    names = load_webhooks().event_names
    assert {"inquiry.approved", "inquiry.marked-for-review", "verification.passed"} <= set(names)


def test_hand_built_webhook_event_passes() -> None:
    validate_webhook_event(approved_event(), "inquiry.approved")


def test_webhook_event_name_is_read_from_the_body() -> None:
    validate_webhook_event(json.dumps(approved_event()).encode())


def test_webhook_event_under_another_name_is_a_violation() -> None:
    error = refused(validate_webhook_event, approved_event(), "inquiry.declined")
    assert violation(error) == [("event body", "data.attributes.name")]


def test_webhook_event_with_a_bad_payload_field_is_named() -> None:
    event = approved_event()
    event["data"]["attributes"]["payload"]["data"]["attributes"]["tags"] = "vip"
    error = refused(validate_webhook_event, event)
    assert violation(error) == [("event body", "data.attributes.payload.data.attributes.tags")]


def test_unknown_webhook_event_is_a_violation() -> None:
    error = refused(validate_webhook_event, approved_event(), "inquiry.teleported")
    assert violation(error) == [("event body", "data.attributes.name")]


def test_webhook_delivery_needs_the_declared_headers() -> None:
    request = httpx.Request(
        "POST",
        "http://receiver.test/webhooks/persona",
        json=approved_event(),
        headers={"Persona-Signature": "t=1,v1=ab", "Persona-Webhook-Attempts-Made": "one"},
    )
    error = refused(load_webhooks().validate_delivery, request)
    assert violation(error) == [
        ("header", "Persona-Webhook-Attempts-Made"),
        ("header", "Persona-Webhook-Attempts-Left"),
        ("header", "Persona-Webhook-First-Attempted-At"),
    ]


def test_complete_webhook_delivery_passes() -> None:
    request = httpx.Request(
        "POST",
        "http://receiver.test/webhooks/persona",
        json=approved_event(),
        headers={
            "Persona-Signature": "t=1733652300,v1=ab",
            "Persona-Webhook-Attempts-Made": "1",
            "Persona-Webhook-Attempts-Left": "7",
            "Persona-Webhook-First-Attempted-At": "1733652300",
        },
    )
    load_webhooks().validate_delivery(request)

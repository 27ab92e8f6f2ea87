"""A small stateful stand-in for Persona behind `httpx.MockTransport`, for client unit tests.

It keeps inquiries in memory, answers in the 2025-12-08 shapes (kebab-case, PII under
`attributes.fields`, `included` only with `include=`), logs every request, and plays scripted
answers or exceptions first when a test queues them.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

API_KEY = "persona_sandbox_test0key0for0tests"
BASE_URL = "http://persona.test/api/v1"
PREFIX = "/api/v1"
RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": "300",
    "RateLimit-Remaining": "299",
    "RateLimit-Reset": "42",
}

_ACTION_STATUS = {
    "approve": "approved",
    "decline": "declined",
    "mark-for-review": "needs_review",
    "expire": "expired",
    "resume": "pending",
}
#: The status each `perform-simulate-actions` status action leaves an inquiry in (Persona's rule;
#: the contract tests hold the sandbox to it too).
SIMULATED_STATUS = {
    "start_inquiry": "pending",
    "complete_inquiry": "completed",
    "fail_inquiry": "failed",
    "expire_inquiry": "expired",
    "mark_for_review_inquiry": "needs_review",
    "approve_inquiry": "approved",
    "decline_inquiry": "declined",
}


def inquiry_resource(
    inquiry_id: str,
    status: str = "created",
    *,
    reference_id: str | None = None,
    verification_ids: Iterable[tuple[str, str]] = (),
    fields: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An inquiry resource object as Persona serialises it."""
    return {
        "type": "inquiry",
        "id": inquiry_id,
        "attributes": {
            "status": status,
            "reference-id": reference_id,
            "note": None,
            "tags": [],
            "created-at": "2025-12-08T10:00:00.000Z",
            "expires-at": "2025-12-09T10:00:00.000Z",
            "fields": {
                key: {"type": "string", "value": value} for key, value in (fields or {}).items()
            },
        },
        "relationships": {
            "account": {"data": {"type": "account", "id": "act_fake0001"}},
            "template": {"data": {}},
            "reviewer": {"data": {}},
            "verifications": {
                "data": [{"type": kind, "id": ver_id} for ver_id, kind in verification_ids]
            },
        },
    }


def verification_resource(
    verification_id: str, kind: str = "verification/government-id", status: str = "passed"
) -> dict[str, Any]:
    """A verification resource object with one required check."""
    return {
        "type": kind,
        "id": verification_id,
        "attributes": {
            "status": status,
            "created-at": "2025-12-08T10:01:00.000Z",
            "country-code": "US",
            "checks": [
                {
                    "name": "id_expired_detection",
                    "status": "passed" if status == "passed" else "failed",
                    "reasons": [],
                    "requirement": "required",
                    "metadata": {},
                }
            ],
        },
    }


def webhook_resource(webhook_id: str, *, secrets: bool = True) -> dict[str, Any]:
    """A webhook resource object, with its one secret unless `secrets` is false (lists)."""
    attributes: dict[str, Any] = {
        "status": "enabled",
        "url": "https://receiver.test/webhooks/persona",
        "enabled-events": ["inquiry.approved"],
        "included-allowlist": {"state": "include_all"},
    }
    if secrets:
        attributes["secrets"] = [{"value": "wbhsec_fake", "expires-at": None}]
    return {"type": "webhook", "id": webhook_id, "attributes": attributes}


def error_response(
    status: int,
    title: str | None,
    details: str | None = None,
    *,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """A Persona error answer: `{"errors": [{"title": ..., "details": ...}]}`."""
    error: dict[str, str] = {}
    if title is not None:
        error["title"] = title
    if details is not None:
        error["details"] = details
    return httpx.Response(status, json={"errors": [error]}, headers=headers)


#: A ready watchlist report with one match.
_READY: dict[str, Any] = {
    "status": "ready",
    "has-match": True,
    "matched-lists": [{"name": "Fake List", "entities": [{"name": "Someone"}]}],
}


@dataclass
class FakePersona:
    """In-memory Persona: inquiries, verifications, a request log and scripted answers."""

    inquiries: dict[str, dict[str, Any]] = field(default_factory=dict)
    verifications: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    scripted: deque[httpx.Response | Exception] = field(default_factory=deque)
    response_headers: dict[str, str] = field(default_factory=lambda: dict(RATE_LIMIT_HEADERS))

    def add_inquiry(self, resource: dict[str, Any]) -> None:
        self.inquiries[resource["id"]] = resource

    def script(self, *answers: httpx.Response | Exception) -> None:
        """Answer the next requests with these, in order, before any routing."""
        self.scripted.extend(answers)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def last_body(self) -> Any:
        content = self.last.content
        return json.loads(content) if content else None

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.scripted:
            answer = self.scripted.popleft()
            if isinstance(answer, Exception):
                raise answer
            return answer
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return error_response(401, "Must be authenticated to access this endpoint")
        response = self._route(request)
        response.headers.update(self.response_headers)
        response.headers["Request-Id"] = f"req_fake{len(self.requests):04d}"
        return response

    def _route(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.removeprefix(PREFIX).strip("/").split("/")
        body = json.loads(request.content) if request.content else {}
        match request.method, parts:
            case "POST", ["inquiries"]:
                return self._create(body)
            case "GET", ["inquiries"]:
                return self._list(request.url.params)
            case "GET" | "DELETE", ["inquiries", inquiry_id]:
                return self._inquiry(request, inquiry_id)
            case "POST", ["inquiries", inquiry_id, action]:
                return self._act(inquiry_id, action, body)
            case "GET", ["verifications", verification_id]:
                found = self.verifications.get(verification_id)
                if found is None:
                    return error_response(404, "Record not found")
                return httpx.Response(200, json={"data": found})
            case "GET" | "POST", ["cases", case_id, *_]:
                status = body.get("meta", {}).get("status", "Open")
                case = {"type": "case", "id": case_id, "attributes": {"status": status}}
                return httpx.Response(200, json={"data": case})
            case "GET", ["accounts", account_id, "relations"]:
                related = {"type": "account", "id": "act_related1", "attributes": {}}
                return httpx.Response(
                    200, json={"data": [related], "links": {"prev": None, "next": None}}
                )
            case _, ["webhooks", *_] | ["rate-limits"] | ["reports", *_]:
                return self._admin(request.method, parts, body)
            case "POST", ["accounts", account_id, "add-relation"]:
                account = {"type": "account", "id": account_id, "attributes": {}}
                return httpx.Response(200, json={"data": account})
        return error_response(404, "Record not found")

    def _admin(self, method: str, parts: list[str], body: dict[str, Any]) -> httpx.Response:
        """Webhooks, rate limits and reports: fixed answers in their operations' shapes."""
        match method, parts:
            case "POST", ["reports"]:
                report = {"type": body["data"]["type"], "id": "rep_fake0001"}
                return httpx.Response(
                    201, json={"data": {**report, "attributes": {"status": "pending"}}}
                )
            case "GET", ["reports", report_id]:
                report = {"type": "report/watchlist", "id": report_id}
                return httpx.Response(200, json={"data": {**report, "attributes": _READY}})
            case "POST", ["webhooks"]:
                return httpx.Response(201, json={"data": webhook_resource("wbh_fake0001")})
            case "GET", ["webhooks"]:
                listed = {"data": [webhook_resource("wbh_fake0001", secrets=False)]}
                return httpx.Response(200, json={**listed, "links": {"prev": None, "next": None}})
            case "GET" | "POST", ["webhooks", webhook_id, *_]:
                return httpx.Response(200, json={"data": webhook_resource(webhook_id)})
            case "GET", ["rate-limits"]:
                limit = {"limit": 300, "remaining": 299, "seconds-to-reset": 42}
                return httpx.Response(
                    200, json={"data": [{"type": "rate-limit/api", "attributes": limit}]}
                )
        return error_response(404, "Record not found")

    def _create(self, body: dict[str, Any]) -> httpx.Response:
        attributes = body["data"]["attributes"]
        meta = body.get("meta", {})
        inquiry_id = f"inq_fake{len(self.inquiries) + 1:04d}"
        resource = inquiry_resource(
            inquiry_id,
            reference_id=meta.get("auto-create-account-reference-id"),
            fields=attributes.get("fields"),
        )
        self.add_inquiry(resource)
        answer_meta = {
            "session-token": "fake.session.token"
            if meta.get("auto-create-inquiry-session")
            else None,
            "one-time-link": None,
            "one-time-link-short": None,
        }
        if meta.get("auto-create-one-time-link"):
            answer_meta["one-time-link"] = f"https://withpersona.com/verify?code={inquiry_id}"
            answer_meta["one-time-link-short"] = f"https://go.perso.na/{inquiry_id}"
        return httpx.Response(201, json={"data": resource, "meta": answer_meta})

    def _list(self, params: httpx.QueryParams) -> httpx.Response:
        found = list(self.inquiries.values())
        if "filter[inquiry-id]" in params:
            wanted = params["filter[inquiry-id]"].split(",")
            found = [item for item in found if item["id"] in wanted]
        if "filter[status]" in params:
            statuses = params["filter[status]"].split(",")
            found = [item for item in found if item["attributes"]["status"] in statuses]
        return httpx.Response(200, json={"data": found, "links": {"prev": None, "next": None}})

    def _inquiry(self, request: httpx.Request, inquiry_id: str) -> httpx.Response:
        resource = self.inquiries.get(inquiry_id)
        if resource is None:
            return error_response(404, "Record not found")
        if request.method == "DELETE":
            resource["attributes"]["redacted-at"] = "2025-12-08T12:00:00.000Z"
            resource["attributes"]["fields"] = {}
        included: list[dict[str, Any]] = []
        if "verifications" in request.url.params.get("include", "").split(","):
            related = resource["relationships"]["verifications"]["data"]
            # Reversed on purpose: Persona promises no order for `included`.
            included = [self.verifications[item["id"]] for item in reversed(related)]
        return httpx.Response(200, json={"data": resource, "included": included})

    def _act(self, inquiry_id: str, action: str, body: dict[str, Any]) -> httpx.Response:
        resource = self.inquiries.get(inquiry_id)
        if resource is None:
            return error_response(404, "Record not found")
        attributes = resource["attributes"]
        meta: dict[str, Any] = {}
        if action in _ACTION_STATUS:
            attributes["status"] = _ACTION_STATUS[action]
            if action == "resume":
                meta["session-token"] = "fake.resumed.token"
            if "comment" in body.get("meta", {}):
                attributes["reviewer-comment"] = body["meta"]["comment"]
        elif action == "generate-one-time-link":
            meta["one-time-link"] = f"https://withpersona.com/verify?code=otl_{inquiry_id}"
            meta["one-time-link-short"] = f"https://go.perso.na/otl_{inquiry_id}"
        elif action == "perform-simulate-actions":
            for step in body["meta"]["simulate-actions"]:
                attributes["status"] = SIMULATED_STATUS.get(step["type"], attributes["status"])
        else:
            return error_response(404, "Record not found")
        return httpx.Response(200, json={"data": resource, **({"meta": meta} if meta else {})})

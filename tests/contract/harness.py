"""The contract loop: the real PersonaClient talks to the sandbox app through a spec checker.

`ContractTransport` is an `httpx.MockTransport` whose handler

1. finds which Persona operation the request is for (method and path template),
2. validates the request against that operation in Persona's official OpenAPI, plus the headers
   our client promises on every call (`Persona-Version: 2025-12-08`, `Key-Inflection: kebab`,
   `Accept`, and `Idempotency-Key` on every POST and DELETE: every change at Persona),
3. forwards it to the sandbox app in-process (`httpx.ASGITransport`),
4. validates the sandbox's response against the same operation, and returns it.

A violation on either side raises `ContractError` out of the client call under test, so a
client and an emulator that drift from Persona together still fail. Every exchange is kept in
`exchanges` for the test to inspect.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx
from starlette.applications import Starlette
from starlette.types import ASGIApp

from jobs.persona.client import PersonaClient
from persona_sandbox import ManualClock, Sandbox
from tests.contract.openapi import SPEC_VERSION, ContractError, OperationSet
from tests.contract.schema import Problem

__all__ = [
    "CLIENT_OPERATIONS",
    "INQUIRY_ACTIONS",
    "SANDBOX_OPERATIONS",
    "ContractTransport",
    "Exchange",
    "Rig",
]

#: The client's POST actions on one inquiry.
INQUIRY_ACTIONS: Final = (
    "resume-an-inquiry",
    "generate-a-one-time-link",
    "approve-an-inquiry",
    "decline-an-inquiry",
    "mark-an-inquiry-for-review",
    "expire-an-inquiry",
    "inquiries-perform-simulate-actions",
)
#: Every Persona operation `jobs.persona.client.PersonaClient` implements.
CLIENT_OPERATIONS: Final = (
    "create-an-inquiry",
    "retrieve-an-inquiry",
    "list-all-inquiries",
    *INQUIRY_ACTIONS,
    "redact-an-inquiry",
    "retrieve-a-verification",
    "set-status-for-a-case",
    "retrieve-case",
    "accounts-list-all-relations",
    "accounts-add-relation",
    "create-a-report",
    "retrieve-a-report",
    "create-a-webhook",
    "retrieve-a-webhook",
    "enable-a-webhook",
    "rotate-a-webhook-secret",
    "list-all-webhooks",
    "list-all-rate-limits",
)
#: What the tests reach besides: cases are opened through the sandbox's `create-a-case`.
SANDBOX_OPERATIONS: Final = (*CLIENT_OPERATIONS, "create-a-case")

#: Methods that change something at Persona: the client sends an Idempotency-Key with each
#: (the spec declares the header on every operation).
MUTATING_METHODS: Final = frozenset({"POST", "DELETE"})
#: Header values the client pins; the response schemas are those of this version and casing.
PINNED_HEADERS: Final[Mapping[str, str]] = {
    "Persona-Version": SPEC_VERSION,
    "Key-Inflection": "kebab",
    "Accept": "application/json",
}


@dataclass(frozen=True, slots=True)
class Exchange:
    """One validated request and the sandbox's validated response."""

    operation: str
    request: httpx.Request
    response: httpx.Response


def _pinned_header_problems(request: httpx.Request) -> list[Problem]:
    problems = []
    for name, expected in PINNED_HEADERS.items():
        sent = request.headers.get(name)
        if sent is not None and sent != expected:
            problems.append(Problem("header", name, f"{sent!r} is sent, {expected!r} is pinned"))
    return problems


class ContractTransport:
    """Validates each exchange against the spec on its way to and from a sandbox app.

    Args:
        app: the sandbox ASGI app.
        check_requests: whether requests are validated (off only for tests that send a
            deliberately malformed request to see the sandbox's error answer).
    """

    def __init__(self, app: ASGIApp, *, check_requests: bool = True) -> None:
        self._inner = httpx.ASGITransport(app=app)
        self._operations = OperationSet(SANDBOX_OPERATIONS)
        self._check_requests = check_requests
        self.exchanges: list[Exchange] = []
        self.transport = httpx.MockTransport(self._handle)

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        operation = self._operations.match(request)
        if self._check_requests:
            required = [*PINNED_HEADERS]
            if request.method in MUTATING_METHODS:
                required.append("Idempotency-Key")
            problems = operation.request_problems(request, require_headers=required)
            problems += _pinned_header_problems(request)
            if problems:
                raw_path = request.url.raw_path.decode("ascii").split("?", 1)[0]
                subject = f"{operation.operation_id} request ({request.method} {raw_path})"
                raise ContractError(subject, problems)
        answer = await self._inner.handle_async_request(request)
        content = await answer.aread()
        await answer.aclose()
        response = httpx.Response(
            answer.status_code, headers=answer.headers, content=content, request=request
        )
        operation.validate_response(response)
        self.exchanges.append(Exchange(operation.operation_id, request, response))
        return response

    def operations(self) -> list[str]:
        """The operationIds of the exchanges so far, in order."""
        return [exchange.operation for exchange in self.exchanges]

    def last(self) -> Exchange:
        """The latest exchange.

        Raises:
            AssertionError: nothing was exchanged yet.
        """
        assert self.exchanges, "no request reached the sandbox"
        return self.exchanges[-1]


@dataclass
class Rig:
    """One sandbox and the client that reaches it through the contract checker."""

    app: Starlette
    sandbox: Sandbox
    clock: ManualClock
    contract: ContractTransport
    client: PersonaClient
    http: httpx.AsyncClient
    api_key: str

    def advance(self, seconds: float) -> None:
        """Move sandbox time forward."""
        self.clock.advance(seconds)

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        transport: ContractTransport | None = None,
    ) -> httpx.Response:
        """Send a hand-made request with the client's headers, through the contract checker.

        Args:
            method: the HTTP method.
            path: the path under the API base, e.g. `/inquiries`.
            json: the JSON body, if any.
            params: the query parameters.
            idempotency_key: sent as `Idempotency-Key` when given.
            transport: another checker for this one request (one that lets a deliberately
                malformed request through); the client's own by default.
        """
        headers = {"Authorization": f"Bearer {self.api_key}", **PINNED_HEADERS}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        if transport is None:
            return await self.http.request(method, path, json=json, params=params, headers=headers)
        async with httpx.AsyncClient(
            base_url=self.http.base_url, transport=transport.transport
        ) as http:
            return await http.request(method, path, json=json, params=params, headers=headers)

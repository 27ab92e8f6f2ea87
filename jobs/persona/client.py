"""The typed async Persona API client: the one boundary between HTTP and the rest of the worker.

Every call goes through `PersonaClient._send`, the only place that catches httpx errors and
reads status codes. It adds the headers Persona expects (the pinned `Persona-Version`, an
explicit `Key-Inflection: kebab`, the caller's `Idempotency-Key` on every POST and DELETE), lets
the shared rate limiter (a `RequestGate`) admit the request, reads `RateLimit-*` and `Request-Id`
from every answer, and turns failures into `jobs.persona.errors`, so nothing above this module
sees httpx or a status code. Paths, queries and bodies are built in
`jobs.persona.request_builders`.

httpx's timeout bounds each phase of an exchange (connect, write, each read, the pool wait), so
an answer that trickles in a byte at a time never times out. Each exchange therefore also runs
under one overall deadline (`deadline_s`, by default the longest phase timeout of the HTTP
client, i.e. `HTTP_TIMEOUT_S`); past it the exchange is abandoned with `ApiTimeoutError`, whose
outcome is unknown, as for any timeout. The rate limiter's wait comes before and is not counted.

The API key lives in a `SecretStr` and in each request's `Authorization` header only. Errors
carry the method, the path (never the query string), the status, Persona's title and details
and the request id; never the key or a body.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Generic, Protocol, TypeVar

import httpx
from pydantic import BaseModel, SecretStr

from jobs.persona import request_builders as build
from jobs.persona.errors import ApiTimeoutError, ClientSetupError
from jobs.persona.models import (
    Account,
    AccountList,
    Case,
    InquiryDocument,
    InquiryList,
    RateLimit,
    RateLimitList,
    ReportDocument,
    VerificationDocument,
    Webhook,
    WebhookDocument,
    WebhookList,
)
from jobs.persona.response_readers import (
    RateLimitInfo,
    parse_document,
    parse_rate_limit,
    status_error,
    transport_error,
)

__all__ = ["ApiCall", "PersonaClient", "RateLimitInfo", "RequestGate"]

logger = logging.getLogger(__name__)

_PRODUCTION_KEY_PREFIX: Final = "persona_production_"
_JSON: Final = "application/json"

ModelT = TypeVar("ModelT", bound=BaseModel)
ResourceT = TypeVar("ResourceT", Case, Account)

#: The operation id of each action on one inquiry (`POST /inquiries/{id}/{action}`).
_INQUIRY_ACTIONS: Final = {
    "resume": "resume-an-inquiry",
    "generate-one-time-link": "generate-a-one-time-link",
    "approve": "approve-an-inquiry",
    "decline": "decline-an-inquiry",
    "mark-for-review": "mark-an-inquiry-for-review",
    "expire": "expire-an-inquiry",
    "perform-simulate-actions": "inquiries-perform-simulate-actions",
}


@dataclass(frozen=True, slots=True)
class ApiCall:
    """What the client observed about one HTTP exchange (for metrics and the rate limiter)."""

    operation: str
    """Persona operationId, e.g. `create-an-inquiry`."""
    method: str
    status_code: int | None
    """`None` when no response arrived (timeout, connect error)."""
    elapsed_s: float
    rate_limit: RateLimitInfo
    request_id: str | None
    """The `Request-Id` header, to quote to Persona support."""


class RequestGate(Protocol):
    """The global rate limiter: admits each request and learns from each answer."""

    async def acquire(self, operation: str) -> None:
        """Wait until the request may be sent."""

    async def observe(self, call: ApiCall) -> None:
        """Learn from one finished exchange (also failed ones)."""


def _longest_phase(timeout: httpx.Timeout) -> float | None:
    """The longest of an httpx timeout's phase limits; None when no phase has one."""
    phases = [t for t in (timeout.connect, timeout.read, timeout.write, timeout.pool) if t]
    return max(phases) if phases else None


class _Single(BaseModel, Generic[ResourceT]):
    """A single-resource answer whose model (unlike `InquiryDocument`) holds only its data."""

    data: ResourceT


class PersonaClient:
    """Typed access to the Persona operations the worker uses, over one shared `AsyncClient`.

    Args:
        http: the process's shared client; its `base_url` is the API root (see `build_http`).
        api_key: `persona_sandbox_...` or `persona_production_...`.
        version: the pinned `Persona-Version`; responses are read in its shapes.
        gate: the rate limiter, awaited before and told after every request.
        allow_simulate: whether simulate actions may be sent (never with a production key).
        deadline_s: the longest one exchange may take in all (sending, waiting, reading the
            whole answer); by default the longest phase timeout of `http`, none if it has none.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_key: SecretStr,
        version: str = "2025-12-08",
        gate: RequestGate | None = None,
        allow_simulate: bool = True,
        deadline_s: float | None = None,
    ) -> None:
        if not api_key.get_secret_value():
            raise ClientSetupError("the Persona API key is empty")
        if deadline_s is not None and deadline_s <= 0:
            raise ClientSetupError("the request deadline must be positive")
        self._http = http
        self.deadline_s = deadline_s if deadline_s is not None else _longest_phase(http.timeout)
        """The overall deadline of one exchange, in seconds (None: only the phase timeouts)."""
        self._api_key = api_key
        self._version = version
        self._gate = gate
        self._allow_simulate = allow_simulate
        self.last_rate_limit = RateLimitInfo(None, None, None)
        """The rate-limit headers of the latest response that carried any."""
        self.observers: list[Callable[[ApiCall], None]] = []
        """Synchronous callbacks (metrics) called after every exchange."""

    @staticmethod
    def build_http(
        *,
        base_url: str,
        timeout_s: float,
        max_connections: int,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> httpx.AsyncClient:
        """Build the one `AsyncClient` a process shares (the caller closes it).

        Args:
            base_url: the API root, e.g. `https://api.withpersona.com/api/v1`.
            timeout_s: the timeout of each phase of a request.
            max_connections: the pool size (kept-alive connections included).
            transport: a replacement transport, e.g. `httpx.MockTransport` in tests.
        """
        return httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            transport=transport,
        )

    # --- inquiries ---------------------------------------------------------------------------

    async def create_inquiry(
        self,
        *,
        template_id: str,
        idempotency_key: str,
        reference_id: str | None = None,
        fields: Mapping[str, Any] | None = None,
        account_id: str | None = None,
        note: str | None = None,
        tags: Sequence[str] | None = None,
        redirect_uri: str | None = None,
        one_time_link: bool = True,
        session_token: bool = False,
        expires_in_s: int | None = None,
    ) -> InquiryDocument:
        """Create an inquiry (`POST /inquiries`).

        The template id's prefix picks its attribute (`itmpl_`, `itmplv_`, `tmpl_`);
        `reference_id` becomes `meta.auto-create-account-reference-id`. The answer's `meta`
        carries the one-time link and/or session token that were asked for.

        Raises:
            ValueError: bad arguments, before any request.
            ApiError: see `jobs.errors`.
        """
        body = build.create_inquiry_body(
            template_id=template_id,
            reference_id=reference_id,
            fields=fields,
            account_id=account_id,
            note=note,
            tags=tags,
            redirect_uri=redirect_uri,
            one_time_link=one_time_link,
            session_token=session_token,
            expires_in_s=expires_in_s,
        )
        return await self._post(
            "create-an-inquiry", "/inquiries", InquiryDocument, idempotency_key, body
        )

    async def retrieve_inquiry(
        self, inquiry_id: str, *, include: Sequence[str] = ()
    ) -> InquiryDocument:
        """Read an inquiry; `include=("verifications",)` also returns its verifications."""
        path = f"/inquiries/{build.path_segment(inquiry_id, 'inquiry_id')}"
        params = build.include_params(include)
        return await self._send("retrieve-an-inquiry", "GET", path, InquiryDocument, params=params)

    async def list_inquiries(
        self,
        *,
        inquiry_ids: Sequence[str] | None = None,
        reference_id: str | None = None,
        statuses: Sequence[str] | None = None,
        page_size: int | None = None,
        after: str | None = None,
    ) -> InquiryList:
        """List inquiries, newest first; up to `MAX_FILTER_IDS` ids in one call."""
        params = build.list_inquiries_params(
            inquiry_ids=inquiry_ids,
            reference_id=reference_id,
            statuses=statuses,
            page_size=page_size,
            after=after,
        )
        return await self._send(
            "list-all-inquiries", "GET", "/inquiries", InquiryList, params=params
        )

    async def resume_inquiry(self, inquiry_id: str, *, idempotency_key: str) -> InquiryDocument:
        """Resume a pending or expired inquiry; the answer's `meta` has a new session token."""
        return await self._inquiry_action("resume", inquiry_id, idempotency_key)

    async def generate_one_time_link(
        self, inquiry_id: str, *, idempotency_key: str, expires_in_s: int | None = None
    ) -> InquiryDocument:
        """Create a one-time link (`meta.one-time-link`); expired inquiries need a resume first."""
        body = build.one_time_link_body(expires_in_s)
        return await self._inquiry_action(
            "generate-one-time-link", inquiry_id, idempotency_key, body
        )

    async def approve_inquiry(
        self, inquiry_id: str, *, idempotency_key: str, comment: str | None = None
    ) -> InquiryDocument:
        """Approve an inquiry, with an optional audit comment."""
        body = build.comment_body(comment)
        return await self._inquiry_action("approve", inquiry_id, idempotency_key, body)

    async def decline_inquiry(
        self, inquiry_id: str, *, idempotency_key: str, comment: str | None = None
    ) -> InquiryDocument:
        """Decline an inquiry, with an optional audit comment."""
        body = build.comment_body(comment)
        return await self._inquiry_action("decline", inquiry_id, idempotency_key, body)

    async def mark_for_review(self, inquiry_id: str, *, idempotency_key: str) -> InquiryDocument:
        """Mark an inquiry for manual review (not allowed once approved or declined)."""
        return await self._inquiry_action("mark-for-review", inquiry_id, idempotency_key)

    async def expire_inquiry(self, inquiry_id: str, *, idempotency_key: str) -> InquiryDocument:
        """Expire an inquiry and its sessions; it can still be resumed."""
        return await self._inquiry_action("expire", inquiry_id, idempotency_key)

    async def redact_inquiry(self, inquiry_id: str, *, idempotency_key: str) -> InquiryDocument:
        """Permanently delete the inquiry's PII (`DELETE /inquiries/{id}`); cannot be undone.

        The operation declares `Idempotency-Key` like every POST, so the key goes along: Persona
        documents keys as without effect on DELETE today, and a retry under the same key is safe
        either way.
        """
        path = f"/inquiries/{build.path_segment(inquiry_id, 'inquiry_id')}"
        key = build.check_idempotency_key(idempotency_key)
        return await self._send(
            "redact-an-inquiry", "DELETE", path, InquiryDocument, idempotency_key=key
        )

    async def simulate_actions(
        self, inquiry_id: str, actions: Sequence[Mapping[str, Any]], *, idempotency_key: str
    ) -> InquiryDocument:
        """Run sandbox simulate actions in order (`start_inquiry`, `complete_inquiry`, ...).

        Raises:
            ClientSetupError: the key is a production key, or simulate actions are turned off;
                nothing is sent.
        """
        if self._api_key.get_secret_value().startswith(_PRODUCTION_KEY_PREFIX):
            raise ClientSetupError("simulate actions are refused with a production API key")
        if not self._allow_simulate:
            raise ClientSetupError("simulate actions are turned off (PERSONA_ALLOW_SIMULATE=false)")
        body = build.simulate_actions_body(actions)
        return await self._inquiry_action(
            "perform-simulate-actions", inquiry_id, idempotency_key, body
        )

    # --- verifications, cases, accounts ------------------------------------------------------

    async def retrieve_verification(self, verification_id: str) -> VerificationDocument:
        """Read one verification of any type."""
        path = f"/verifications/{build.path_segment(verification_id, 'verification_id')}"
        return await self._send("retrieve-a-verification", "GET", path, VerificationDocument)

    async def set_case_status(self, case_id: str, status: str, *, idempotency_key: str) -> Case:
        """Set a case's (customisable) status, e.g. `Approved`."""
        path = f"/cases/{build.path_segment(case_id, 'case_id')}/set-status"
        body = build.case_status_body(status)
        document = await self._post(
            "set-status-for-a-case", path, _Single[Case], idempotency_key, body
        )
        return document.data

    async def retrieve_case(self, case_id: str) -> Case:
        """Read a case."""
        path = f"/cases/{build.path_segment(case_id, 'case_id')}"
        return (await self._send("retrieve-case", "GET", path, _Single[Case])).data

    async def list_account_relations(self, account_id: str, *, key: str) -> AccountList:
        """List the objects related to an account under one relation key.

        The 2025-12-08 operation declares no paging parameters, so none are sent.
        """
        path = f"/accounts/{build.path_segment(account_id, 'account_id')}/relations"
        params = build.list_relations_params(key)
        return await self._send(
            "accounts-list-all-relations", "GET", path, AccountList, params=params
        )

    async def add_account_relation(
        self, account_id: str, *, relation_key: str, target_id: str, idempotency_key: str
    ) -> Account:
        """Relate an account to a target account or transaction."""
        path = f"/accounts/{build.path_segment(account_id, 'account_id')}/add-relation"
        body = build.add_relation_body(relation_key, target_id)
        document = await self._post(
            "accounts-add-relation", path, _Single[Account], idempotency_key, body
        )
        return document.data

    # --- reports -------------------------------------------------------------------------------

    async def create_report(
        self,
        *,
        report_type: str,
        query: Mapping[str, str],
        idempotency_key: str,
        reference_id: str | None = None,
        account_id: str | None = None,
        report_template_id: str | None = None,
    ) -> ReportDocument:
        """Create a report (`POST /reports`): `report_type` without its `report/` prefix.

        The report is usually `pending`; read it with `retrieve_report` until `ready` or
        `errored`.
        """
        body = build.create_report_body(
            report_type=report_type,
            query=query,
            reference_id=reference_id,
            account_id=account_id,
            report_template_id=report_template_id,
        )
        return await self._post(
            "create-a-report", "/reports", ReportDocument, idempotency_key, body
        )

    async def retrieve_report(self, report_id: str) -> ReportDocument:
        """Read a report (`GET /reports/{id}`)."""
        path = f"/reports/{build.path_segment(report_id, 'report_id')}"
        return await self._send("retrieve-a-report", "GET", path, ReportDocument)

    # --- webhooks and rate limits ------------------------------------------------------------

    async def create_webhook(
        self,
        *,
        name: str,
        url: str,
        enabled_events: Sequence[str],
        include: Mapping[str, Sequence[str]] | None = None,
        idempotency_key: str,
    ) -> Webhook:
        """Subscribe `url` to `enabled_events` (`POST /webhooks`); the answer has its secret.

        `include` maps an event type to the relationships its payloads carry in `included`
        (`{"inquiry": ["verifications"]}`); Persona's default is none. Persona may create the
        webhook disabled: see `enable_webhook`.
        """
        body = build.create_webhook_body(
            name=name, url=url, enabled_events=enabled_events, include=include
        )
        document = await self._post(
            "create-a-webhook", "/webhooks", WebhookDocument, idempotency_key, body
        )
        return document.data

    async def retrieve_webhook(self, webhook_id: str) -> Webhook:
        """Read one webhook, with its secrets."""
        path = f"/webhooks/{build.path_segment(webhook_id, 'webhook_id')}"
        return (await self._send("retrieve-a-webhook", "GET", path, WebhookDocument)).data

    async def enable_webhook(self, webhook_id: str, *, idempotency_key: str) -> Webhook:
        """Turn a webhook's deliveries on (the answer carries no secrets)."""
        path = f"/webhooks/{build.path_segment(webhook_id, 'webhook_id')}/enable"
        document = await self._post(
            "enable-a-webhook", path, WebhookDocument, idempotency_key, None
        )
        return document.data

    async def rotate_webhook_secret(
        self, webhook_id: str, *, idempotency_key: str, expires_in_s: int | None = None
    ) -> Webhook:
        """Give a webhook a new secret; the current one stays valid for `expires_in_s`.

        The answer lists both secrets, newest first, the old one with its `expires-at`.
        """
        path = f"/webhooks/{build.path_segment(webhook_id, 'webhook_id')}/rotate-secret"
        body = build.rotate_secret_body(expires_in_s)
        document = await self._post(
            "rotate-a-webhook-secret", path, WebhookDocument, idempotency_key, body
        )
        return document.data

    async def list_webhooks(
        self, *, page_size: int | None = None, after: str | None = None
    ) -> WebhookList:
        """List the environment's webhooks, newest first (without their secrets)."""
        params = build.list_webhooks_params(page_size=page_size, after=after)
        return await self._send("list-all-webhooks", "GET", "/webhooks", WebhookList, params=params)

    async def list_rate_limits(self) -> list[RateLimit]:
        """The environment's current rate limits (`GET /rate-limits`)."""
        document = await self._send("list-all-rate-limits", "GET", "/rate-limits", RateLimitList)
        return document.data

    # --- the HTTP boundary -------------------------------------------------------------------

    async def _inquiry_action(
        self,
        action: str,
        inquiry_id: str,
        idempotency_key: str,
        body: dict[str, Any] | None = None,
    ) -> InquiryDocument:
        path = f"/inquiries/{build.path_segment(inquiry_id, 'inquiry_id')}/{action}"
        operation = _INQUIRY_ACTIONS[action]
        return await self._post(operation, path, InquiryDocument, idempotency_key, body)

    async def _post(
        self,
        operation: str,
        path: str,
        model: type[ModelT],
        idempotency_key: str,
        body: dict[str, Any] | None,
    ) -> ModelT:
        key = build.check_idempotency_key(idempotency_key)
        return await self._send(operation, "POST", path, model, body=body, idempotency_key=key)

    async def _send(
        self,
        operation: str,
        method: str,
        path: str,
        model: type[ModelT],
        *,
        params: Mapping[str, str] | None = None,
        body: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> ModelT:
        headers = {
            "Authorization": f"Bearer {self._api_key.get_secret_value()}",
            "Persona-Version": self._version,
            "Key-Inflection": "kebab",
            "Accept": _JSON,
        }
        if body is not None:
            headers["Content-Type"] = _JSON
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        request = self._http.build_request(method, path, params=params, json=body, headers=headers)
        # The path as sent, without the query string (which may carry reference ids).
        sent_path = request.url.raw_path.split(b"?", 1)[0].decode("ascii")
        if self._gate is not None:
            await self._gate.acquire(operation)
        started = time.perf_counter()
        deadline = asyncio.timeout(self.deadline_s)
        try:
            async with deadline:
                response = await self._http.send(request)
        except httpx.HTTPError as exc:
            await self._record_no_answer(operation, method, started)
            raise transport_error(exc, method=method, path=sent_path) from exc
        except TimeoutError:
            if not deadline.expired():
                raise  # not the deadline's: nothing of ours to classify
            await self._record_no_answer(operation, method, started)
            raise ApiTimeoutError(
                f"no whole answer from Persona for {method} {sent_path} "
                f"within {self.deadline_s:g}s",
                method=method,
                path=sent_path,
            ) from None
        elapsed_s = time.perf_counter() - started
        rate_limit = parse_rate_limit(response.headers)
        request_id = response.headers.get("request-id")
        call = ApiCall(operation, method, response.status_code, elapsed_s, rate_limit, request_id)
        await self._record(call)
        if not response.is_success:
            secret = self._api_key.get_secret_value()
            raise status_error(response, method=method, path=sent_path, secret=secret)
        return parse_document(response, model, method=method, path=sent_path)

    async def _record_no_answer(self, operation: str, method: str, started: float) -> None:
        """Record an exchange that ended without a response (its time, no status or headers)."""
        elapsed_s = time.perf_counter() - started
        no_headers = RateLimitInfo(None, None, None)
        await self._record(ApiCall(operation, method, None, elapsed_s, no_headers, None))

    async def _record(self, call: ApiCall) -> None:
        """Hand one exchange to the observers and the gate; their failures never mask it."""
        if call.rate_limit.present:
            self.last_rate_limit = call.rate_limit
        logger.debug(
            "persona %s %s -> %s in %.3fs (request %s)",
            call.method,
            call.operation,
            call.status_code,
            call.elapsed_s,
            call.request_id,
        )
        for observer in list(self.observers):
            try:
                observer(call)
            except Exception:
                logger.exception("an API call observer failed on %s", call.operation)
        if self._gate is not None:
            try:
                await self._gate.observe(call)
            except Exception:
                logger.exception("the request gate failed to observe %s", call.operation)

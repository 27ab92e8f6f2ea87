"""The per-request chain every `/api/v1` call goes through, in Persona's order.

1. injected latency;
2. authentication (401 without rate-limit headers, never cached);
3. the rate limiter (429 with headers, never cached);
4. `Persona-Version` check (400);
5. injected `error_rate` answers (before anything happens);
6. Idempotency-Key replay or mismatch (POST only; GET and DELETE ignore keys, as at Persona);
7. the handler, whose answer (any status) is stored under the key;
8. injected `error_after_rate` (the answer is replaced by 500) and `hang_rate` (held).

Every authenticated answer carries `RateLimit-*`, `Request-Id`, `Persona-Environment-Id` and
`Persona-Organization-Id`. Steps 6 and 7 run without awaiting, which is what makes concurrent
requests with one key safe.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import Response

from persona_sandbox.errors import (
    UNAUTHORIZED_BODY,
    RefusalError,
    bad_request,
    rate_limited_body,
    server_error_body,
)
from persona_sandbox.idempotency import fingerprint
from persona_sandbox.ids import new_id
from persona_sandbox.runtime import Sandbox
from persona_sandbox.serialize import dumps
from persona_sandbox.validate import normalize_keys
from settings import PERSONA_VERSIONS

__all__ = ["Answer", "Call", "Handler", "Pipeline"]

log = logging.getLogger(__name__)

MEDIA_TYPE: Final = "application/json; charset=utf-8"
_SANDBOX_KEY_PREFIX: Final = "persona_sandbox_"
_UNAUTHORIZED: Final = dumps(UNAUTHORIZED_BODY)


@dataclass(slots=True)
class Call:
    """What a handler gets: the sandbox, the request's parts and the time it arrived."""

    sandbox: Sandbox
    params: Mapping[str, str]
    query: Mapping[str, str]
    body: Any
    now: datetime
    idempotency_key: str | None


@dataclass(slots=True)
class Answer:
    """What a handler returns."""

    status: int
    document: dict[str, Any]
    inquiry_id: str | None = None
    """The inquiry the call concerned, for the per-inquiry counter."""
    created: bool = False
    """Whether the call created an inquiry (counted per Idempotency-Key)."""


Handler = Callable[[Call], Answer]


class Pipeline:
    """Runs requests through the chain above.

    Args:
        sandbox: the sandbox the requests act on.
    """

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        config = sandbox.config
        self._key = config.api_key.encode() if config.api_key else None
        self._static_headers = {
            "Persona-Environment-Id": config.environment_id,
            "Persona-Organization-Id": config.organization_id,
        }

    def _authenticated(self, request: Request) -> bool:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            return False
        if self._key is not None:
            return hmac.compare_digest(key.encode(), self._key)
        return key.startswith(_SANDBOX_KEY_PREFIX) and len(key) > len(_SANDBOX_KEY_PREFIX)

    def _reply(
        self,
        operation: str,
        status: int,
        payload: bytes,
        headers: dict[str, str],
        inquiry_id: str | None,
    ) -> Response:
        self.sandbox.counters.call(operation, status, inquiry_id)
        return Response(payload, status, headers, MEDIA_TYPE)

    async def run(self, request: Request, operation: str, handler: Handler) -> Response:
        """Answer one API request."""
        sandbox = self.sandbox
        faults = sandbox.faults
        if faults.active and (delay := faults.latency_s(operation)):
            await asyncio.sleep(delay)
        params = {name: unquote(value) for name, value in request.path_params.items()}
        inquiry_id = params.get("inquiry_id")
        if not self._authenticated(request):
            sandbox.counters.call(operation, 401, inquiry_id)
            return Response(_UNAUTHORIZED, 401, media_type=MEDIA_TYPE)
        decision = sandbox.limiter.hit()
        headers = decision.headers()
        headers["Request-Id"] = new_id("req_")
        headers.update(self._static_headers)
        if not decision.allowed:
            body = dumps(rate_limited_body(decision.limit))
            return self._reply(operation, 429, body, headers, inquiry_id)
        version = request.headers.get("persona-version")
        if version is not None and version not in PERSONA_VERSIONS:
            problem = bad_request(f"Persona-Version {version!r} is not a supported API version")
            return self._reply(operation, 400, dumps(problem.body()), headers, inquiry_id)
        raw = b"" if request.method == "GET" else await request.body()
        key = request.headers.get("idempotency-key") if request.method == "POST" else None
        if faults.active and not (key and faults.settings.cache_errors):
            injected = faults.error_status(operation)
            if injected is not None:
                sandbox.counters.faults["error"] += 1
                return self._reply(
                    operation, injected, dumps(server_error_body(injected)), headers, inquiry_id
                )
        status, payload, inquiry_id = self._execute(request, operation, handler, params, raw, key)
        if faults.active:
            if faults.error_after(operation):
                sandbox.counters.faults["error_after"] += 1
                status, payload = 500, dumps(server_error_body(500))
            if hang := faults.hang_s(operation):
                sandbox.counters.faults["hang"] += 1
                await faults.hold(hang)
        return self._reply(operation, status, payload, headers, inquiry_id)

    def _execute(
        self,
        request: Request,
        operation: str,
        handler: Handler,
        params: dict[str, str],
        raw: bytes,
        key: str | None,
    ) -> tuple[int, bytes, str | None]:
        """Replay, or run the handler and store its answer; synchronous on purpose."""
        sandbox = self.sandbox
        now = sandbox.clock.now()
        inquiry_id = params.get("inquiry_id")
        print_ = ""
        if key:
            path = request.url.path
            if request.url.query:
                path = f"{path}?{request.url.query}"
            print_ = fingerprint(request.method, path, raw)
            try:
                stored = sandbox.idempotency.lookup(key, print_, now)
            except RefusalError as problem:
                return problem.status, dumps(problem.body()), inquiry_id
            if stored is not None:
                return stored.status, stored.body, inquiry_id
            if sandbox.faults.active and sandbox.faults.settings.cache_errors:
                injected = sandbox.faults.error_status(operation)
                if injected is not None:
                    sandbox.counters.faults["error"] += 1
                    payload = dumps(server_error_body(injected))
                    sandbox.idempotency.store(key, print_, injected, payload, now)
                    return injected, payload, inquiry_id
        answer = self._answer(request, handler, params, raw, now, key)
        payload = dumps(answer.document)
        if key:
            sandbox.idempotency.store(key, print_, answer.status, payload, now)
        if answer.created:
            sandbox.counters.created(key)
        return answer.status, payload, answer.inquiry_id or inquiry_id

    def _answer(
        self,
        request: Request,
        handler: Handler,
        params: dict[str, str],
        raw: bytes,
        now: datetime,
        key: str | None,
    ) -> Answer:
        try:
            body = None
            if raw.strip():
                try:
                    body = normalize_keys(json.loads(raw))
                except ValueError:
                    raise bad_request("The request body is not valid JSON") from None
            call = Call(self.sandbox, params, request.query_params, body, now, key)
            return handler(call)
        except RefusalError as problem:
            return Answer(problem.status, problem.body())
        except Exception:
            log.exception("sandbox handler failed for %s %s", request.method, request.url.path)
            return Answer(500, server_error_body(500))

"""The control surface under `/_sandbox/` (no auth, never rate limited, never faulted).

| route                                | what it does                                              |
| ------------------------------------ | --------------------------------------------------------- |
| `GET /_sandbox/health`               | liveness and the current sandbox time                     |
| `GET/POST/DELETE /_sandbox/faults`   | read, change (JSON, only given fields) or clear faults    |
| `GET /_sandbox/counters`             | calls per operation and status, per inquiry, per key,     |
|                                      | 429s, peak per 60 s; webhook attempts/answers/retries     |
| `POST /_sandbox/reset`               | forget every object, event, key, counter and pending      |
|                                      | webhook; faults and webhook settings to startup           |
| `GET /_sandbox/events`               | the event log, `?inquiry-id=` and `?name=` filter it      |
| `GET/POST /_sandbox/clock`           | read sandbox time; `{"advance_s": N}` fast-forwards it    |
| `POST /_sandbox/advance`             | advance every live inquiry to now (records due events)    |
| `GET /_sandbox/inquiries/{id}`       | an inquiry's scenario and remaining planned steps         |
| `GET/POST/DELETE /_sandbox/webhooks` | read, change (JSON, only given fields) or turn off        |
|                                      | webhook delivery; secrets are counted, never shown        |
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import ConfigDict
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from persona_sandbox.runtime import Sandbox
from persona_sandbox.serialize import iso
from persona_sandbox.settings_model import Number, SettingsModel

__all__ = ["admin_routes"]

S = TypeVar("S", bound=SettingsModel)


def _error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status)


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


class _ClockChange(SettingsModel):
    """The body of `POST /_sandbox/clock`; other keys are ignored."""

    model_config = ConfigDict(extra="ignore")

    advance_s: Number
    """Sandbox seconds to fast-forward."""


async def _settings_route(
    request: Request, read: Callable[[], S], configure: Callable[[S], None]
) -> JSONResponse:
    """GET shows the settings, POST changes the fields it sends, DELETE restores the defaults."""
    if request.method == "DELETE":
        configure(type(read())())
    elif request.method == "POST":
        try:
            configure(read().updated(await _json(request)))
        except ValueError as exc:
            return _error(str(exc))
    return JSONResponse(read().to_json())


class _Admin:
    """Admin endpoints bound to one sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    async def health(self, request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "now": iso(self.sandbox.clock.now())})

    async def faults(self, request: Request) -> JSONResponse:
        injector = self.sandbox.faults
        return await _settings_route(request, lambda: injector.settings, injector.configure)

    async def webhooks(self, request: Request) -> JSONResponse:
        sandbox = self.sandbox
        return await _settings_route(
            request, lambda: sandbox.webhooks.settings, sandbox.configure_webhooks
        )

    async def counters(self, request: Request) -> JSONResponse:
        return JSONResponse(self.sandbox.counters.to_json())

    async def reset(self, request: Request) -> JSONResponse:
        self.sandbox.reset()
        return JSONResponse({"status": "reset"})

    async def events(self, request: Request) -> JSONResponse:
        found = self.sandbox.events.events(
            inquiry_id=request.query_params.get("inquiry-id"),
            name=request.query_params.get("name"),
        )
        return JSONResponse({"data": [event.to_resource() for event in found]})

    async def clock(self, request: Request) -> JSONResponse:
        clock = self.sandbox.clock
        if request.method == "POST":
            try:
                clock.advance(_ClockChange(**await _json(request)).advance_s)
            except ValueError as exc:
                return _error(str(exc))
        return JSONResponse({"now": iso(clock.now())})

    async def advance(self, request: Request) -> JSONResponse:
        now = self.sandbox.clock.now()
        self.sandbox.state.advance_all(now)
        return JSONResponse({"now": iso(now)})

    async def inquiry(self, request: Request) -> JSONResponse:
        state = self.sandbox.state
        found = state.inquiries.get(request.path_params["inquiry_id"])
        if found is None:
            return _error("no such inquiry", 404)
        state.machine.advance(found, self.sandbox.clock.now())
        return JSONResponse(
            {
                "id": found.id,
                "status": found.status,
                "autonomous": found.autonomous,
                "scenario": found.scenario.to_json() if found.scenario else None,
                "plan": [
                    {"at": iso(step.at), "kind": step.kind.value, "result": step.result}
                    for step in found.plan
                ],
            }
        )


def admin_routes(sandbox: Sandbox) -> list[Route]:
    """The admin routes bound to one sandbox."""
    admin = _Admin(sandbox)
    return [
        Route("/_sandbox/health", admin.health, methods=["GET"]),
        Route("/_sandbox/faults", admin.faults, methods=["GET", "POST", "DELETE"]),
        Route("/_sandbox/counters", admin.counters, methods=["GET"]),
        Route("/_sandbox/reset", admin.reset, methods=["POST"]),
        Route("/_sandbox/events", admin.events, methods=["GET"]),
        Route("/_sandbox/clock", admin.clock, methods=["GET", "POST"]),
        Route("/_sandbox/advance", admin.advance, methods=["POST"]),
        Route("/_sandbox/inquiries/{inquiry_id}", admin.inquiry, methods=["GET"]),
        Route("/_sandbox/webhooks", admin.webhooks, methods=["GET", "POST", "DELETE"]),
    ]

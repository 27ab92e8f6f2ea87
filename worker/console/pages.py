"""The console's endpoints: pages, the partials the page script refreshes, login and logout.

Pages render whole documents that work without JavaScript (tables, forms, SVG charts); the
script (`static/console.js`) only re-fetches the parts marked `data-refresh` every few seconds
and swaps them in. Every page but the login form needs the token (`worker.console.auth`):
a page answers an anonymous browser with a redirect to the login form, a partial with 401.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from jobs.context import JobContext
from worker.console import auth, data
from worker.console.charts import HEIGHT, WIDTH, build_charts
from worker.console.oldest import OldestWaiting

__all__ = [
    "Endpoint",
    "charts_partial",
    "guarded",
    "index",
    "login",
    "login_form",
    "logout",
    "now_partial",
    "results",
    "story",
    "templates",
]

Endpoint = Callable[[Request], Awaitable[Response]]

_HERE: Final = Path(__file__).parent
templates: Final = Jinja2Templates(directory=str(_HERE / "templates"))


def _utc(value: float | int | None, *, ms: bool = False) -> str:
    if not value:
        return ""
    seconds = value / 1000 if ms else value
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds))


def _age(value: float | None) -> str:
    if not value:
        return ""
    seconds = max(int(time.time() - value), 0)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7_200:
        return f"{seconds // 60} min"
    return f"{seconds // 3_600} h {seconds % 3_600 // 60} min"


templates.env.filters["utc"] = _utc
templates.env.filters["age"] = _age
templates.env.globals.update(chart_width=WIDTH, chart_height=HEIGHT)


def _context(request: Request) -> JobContext:
    context: JobContext = request.app.state.context
    return context


def _token(request: Request) -> SecretStr:
    token = _context(request).settings.console_token
    if token is None:  # the routes exist only with a token (console_routes)
        raise RuntimeError("console routes without CONSOLE_TOKEN")
    return token


#: Every console answer: only our own script and styles, never in a frame, never cached.
_HEADERS: Final = {
    "content-security-policy": (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; "
        "form-action 'self'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def _hardened(response: Response) -> Response:
    response.headers.update(_HEADERS)
    return response


def guarded(endpoint: Endpoint, *, page: bool) -> Endpoint:
    """`endpoint` for holders of the token only: others get the login form (pages) or 401."""

    async def checked(request: Request) -> Response:
        if auth.allowed(request, _token(request)):
            return _hardened(await endpoint(request))
        if page:
            return _hardened(RedirectResponse("/console/login", status_code=303))
        return _hardened(PlainTextResponse("unauthorized", status_code=401))

    return checked


def _window(request: Request) -> str:
    window = request.query_params.get("range", "hour")
    return window if window in data.RANGES else "hour"


async def _now_values(request: Request) -> dict[str, Any]:
    state = request.app.state
    if not isinstance(getattr(state, "console_oldest", None), OldestWaiting):
        state.console_oldest = OldestWaiting()  # one per app: its cache is its deployment's
    return {"now": await data.now(_context(request), state.console_oldest)}


async def _chart_values(request: Request) -> dict[str, Any]:
    context = _context(request)
    window = _window(request)
    bins = await data.charts(context, window)
    charts = build_charts(bins, rate_limit=await data.rate_limit(context))
    return {"charts": charts, "window": window}


async def index(request: Request) -> Response:
    """The overview: now, and the charts of the last hour (or day)."""
    values = {**await _now_values(request), **await _chart_values(request)}
    return templates.TemplateResponse(request, "index.html", values)


async def now_partial(request: Request) -> Response:
    """The "now" section alone, for the page script."""
    return templates.TemplateResponse(request, "now.html", await _now_values(request))


async def charts_partial(request: Request) -> Response:
    """The charts alone, for the page script."""
    return templates.TemplateResponse(request, "charts.html", await _chart_values(request))


async def results(request: Request) -> Response:
    """The newest results and failures, filterable by event and error type."""
    event = request.query_params.get("event", "")
    error_type = request.query_params.get("error_type", "")
    found = await data.recent(_context(request), event=event, error_type=error_type)
    values = {"recent": found, "event": event, "error_type": error_type}
    return templates.TemplateResponse(request, "results.html", values)


async def story(request: Request) -> Response:
    """One request's story, found by job id, reference id or inquiry id."""
    query = request.query_params.get("q", "").strip()
    if not query:
        return templates.TemplateResponse(request, "story.html", {"query": "", "story": None})
    if data.bad_id(query):
        values = {"query": query, "story": None, "error": "not an id: letters, digits, : _ . -"}
        return templates.TemplateResponse(request, "story.html", values, status_code=400)
    found = await data.story(_context(request), query)
    return templates.TemplateResponse(request, "story.html", {"query": query, "story": found})


async def login_form(request: Request) -> Response:
    """The login form."""
    return _hardened(templates.TemplateResponse(request, "login.html", {"error": ""}))


async def login(request: Request) -> Response:
    """Check the typed token; a good one gets the session cookie and the console."""
    declared = request.headers.get("content-length", "")
    body = b""
    if declared.isdigit() and int(declared) <= auth.LOGIN_BODY_LIMIT:
        body = await request.body()
    token = _token(request)
    if auth.matches(token, auth.form_token(body)):
        return _hardened(auth.set_session(request, token, "/console/"))
    values = {"error": "That is not the console's token."}
    return _hardened(templates.TemplateResponse(request, "login.html", values, status_code=401))


async def logout(request: Request) -> Response:
    """Forget the session cookie."""
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(auth.COOKIE, path="/console", httponly=True, samesite="strict")
    return response

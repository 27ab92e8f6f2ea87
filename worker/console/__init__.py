"""The operator console at `/console`: what is waiting and on what, how fast results come, how
much of Persona's budget is in use, and what happened to one request.

Served by the web process (`worker.web`), rendered on the server (Jinja2), usable without
JavaScript; a small script of ours refreshes the live parts, and the charts are SVG drawn on
the server, so nothing is loaded from elsewhere. It reads the request ledger, the results
stream, the queue and the history (`jobs.state.history`), and writes nothing but its own
login cookie. Without `CONSOLE_TOKEN` there are no console routes at all (404).
"""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from settings import Settings
from worker.console import pages

__all__ = ["console_routes"]


def console_routes(settings: Settings) -> list[BaseRoute]:
    """The console's routes under `/console`; none when `CONSOLE_TOKEN` is not set."""
    if settings.console_token is None:
        return []
    static = StaticFiles(directory=str(Path(__file__).parent / "static"))
    routes: list[BaseRoute] = [
        Route("/", pages.guarded(pages.index, page=True), methods=["GET"]),
        Route("/results", pages.guarded(pages.results, page=True), methods=["GET"]),
        Route("/story", pages.guarded(pages.story, page=True), methods=["GET"]),
        Route("/partial/now", pages.guarded(pages.now_partial, page=False), methods=["GET"]),
        Route("/partial/charts", pages.guarded(pages.charts_partial, page=False), methods=["GET"]),
        Route("/login", pages.login_form, methods=["GET"]),
        Route("/login", pages.login, methods=["POST"]),
        Route("/logout", pages.logout, methods=["POST"]),
        Mount("/static", app=static, name="console-static"),
    ]
    return [Mount("/console", routes=routes)]

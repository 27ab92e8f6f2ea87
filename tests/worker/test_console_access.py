"""Who gets into the operator console: nobody without `CONSOLE_TOKEN`, the token's holders
with it (bearer header or the login form's cookie), everyone else a redirect or 401."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from tests.worker.conftest import CONSOLE_TOKEN as TOKEN
from worker.console.auth import COOKIE, SESSION_S, session_cookie


def _bearer(token: str = TOKEN) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_without_a_token_setting_the_console_is_not_found(web: httpx.AsyncClient) -> None:
    for path in (
        "/console/",
        "/console/login",
        "/console/partial/now",
        "/console/static/console.js",
    ):
        assert (await web.get(path)).status_code == 404, path


async def test_the_bearer_token_opens_the_console(console: httpx.AsyncClient) -> None:
    answer = await console.get("/console/", headers=_bearer())
    assert answer.status_code == 200
    assert "In flight" in answer.text
    assert answer.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]


async def test_a_page_without_a_token_redirects_to_the_login_form(
    console: httpx.AsyncClient,
) -> None:
    answer = await console.get("/console/results")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/login"


async def test_a_wrong_bearer_token_is_refused(console: httpx.AsyncClient) -> None:
    assert (await console.get("/console/partial/now", headers=_bearer("x" * 34))).status_code == 401
    assert (await console.get("/console/", headers=_bearer("x" * 34))).status_code == 303


async def test_the_login_form_sets_a_strict_http_only_cookie(console: httpx.AsyncClient) -> None:
    answer = await console.post("/console/login", data={"token": TOKEN})
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"].lower()
    assert cookie.startswith(f"{COOKIE}=")
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert TOKEN.lower() not in cookie
    assert (await console.get("/console/story")).status_code == 200


async def test_a_wrong_token_in_the_login_form_sets_no_cookie(console: httpx.AsyncClient) -> None:
    answer = await console.post("/console/login", data={"token": "not-the-token-at-all"})
    assert answer.status_code == 401
    assert "set-cookie" not in answer.headers
    assert (await console.get("/console/partial/now")).status_code == 401


async def test_an_expired_or_forged_session_cookie_is_refused(console: httpx.AsyncClient) -> None:
    expired = session_cookie(SecretStr(TOKEN), now=-SESSION_S - 1)
    forged = f"{9_999_999_999}.{'0' * 64}"
    for value in (expired, forged, "garbage"):
        console.cookies.set(COOKIE, value)
        assert (await console.get("/console/partial/now")).status_code == 401, value


async def test_logging_out_forgets_the_session(console: httpx.AsyncClient) -> None:
    await console.post("/console/login", data={"token": TOKEN})
    answer = await console.post("/console/logout")
    assert answer.status_code == 303
    assert (await console.get("/console/partial/now")).status_code == 401


async def test_a_search_for_something_that_is_not_an_id_is_refused(
    console: httpx.AsyncClient,
) -> None:
    answer = await console.get("/console/story", params={"q": "<script>"}, headers=_bearer())
    assert answer.status_code == 400
    assert "not an id" in answer.text
    assert "<script>" not in answer.text


def test_a_short_console_token_is_a_configuration_error(make_settings: Any) -> None:
    with pytest.raises(Exception, match="at least 16 characters"):
        make_settings(console_token="short")

"""Who may see the console: the bearer of `CONSOLE_TOKEN`, or a browser that logged in with it.

The console exists only when the token is set (`worker.console.console_routes`); otherwise its
paths are 404 like any unknown path. A request passes with `Authorization: Bearer <token>`, or
with the session cookie the login form sets: `<expiry>.<HMAC-SHA256 of the expiry keyed by the
token>`, so the cookie never holds the token, expires by itself (`SESSION_S`) and every session
ends when the token changes. The cookie is HttpOnly and SameSite=Strict (Secure over HTTPS), and
every comparison is constant-time (`hmac.compare_digest`).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Final
from urllib.parse import parse_qs

from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

__all__ = [
    "COOKIE",
    "LOGIN_BODY_LIMIT",
    "SESSION_S",
    "allowed",
    "form_token",
    "matches",
    "session_cookie",
    "set_session",
]

#: The session cookie's name.
COOKIE: Final = "console_session"
#: How long a login lasts.
SESSION_S: Final = 12 * 3_600
#: The login form's body is a token and little else.
LOGIN_BODY_LIMIT: Final = 4_096


def _sign(token: SecretStr, expires: int) -> str:
    key = token.get_secret_value().encode()
    return hmac.new(key, f"console-session:{expires}".encode(), hashlib.sha256).hexdigest()


def session_cookie(token: SecretStr, now: float) -> str:
    """A session cookie's value, valid for `SESSION_S` from `now`."""
    expires = int(now) + SESSION_S
    return f"{expires}.{_sign(token, expires)}"


def _valid_session(token: SecretStr, value: str, now: float) -> bool:
    stamp, _, signature = value.partition(".")
    if not stamp.isdigit() or int(stamp) < now:
        return False
    return hmac.compare_digest(signature.encode(), _sign(token, int(stamp)).encode())


def _valid_bearer(token: SecretStr, header: str) -> bool:
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        return False
    return hmac.compare_digest(given.strip().encode(), token.get_secret_value().encode())


def allowed(request: Request, token: SecretStr) -> bool:
    """Whether the request carries the token, or a session cookie that is still valid."""
    header = request.headers.get("authorization")
    if header is not None and _valid_bearer(token, header):
        return True
    cookie = request.cookies.get(COOKIE)
    return cookie is not None and _valid_session(token, cookie, time.time())


def form_token(body: bytes) -> str:
    """The `token` field of a URL-encoded login form (empty when missing or malformed)."""
    try:
        fields = parse_qs(body.decode("ascii"), max_num_fields=4)
    except (UnicodeDecodeError, ValueError):
        return ""
    values = fields.get("token") or [""]
    return values[0]


def matches(token: SecretStr, given: str) -> bool:
    """Whether a typed token is the console's (constant-time)."""
    return hmac.compare_digest(given.encode(), token.get_secret_value().encode())


def set_session(request: Request, token: SecretStr, target: str) -> Response:
    """The answer to a good login: a redirect to `target` that sets the session cookie."""
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        session_cookie(token, time.time()),
        max_age=SESSION_S,
        path="/console",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response

"""Reading Persona's answers: rate-limit headers, error bodies, documents and failures.

The HTTP boundary (`PersonaClient._send`) hands every response or httpx failure to these
functions, which turn it into a model or into one of `jobs.errors`.

Persona documents `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds) on
every authenticated response, spelled in either case, and no `Retry-After` (one is honoured if
it ever appears). Either wait is taken at most at `MAX_SERVER_WAIT_S`. Header reading is
lenient: a missing or garbled value reads as `None`, because a bad header must not turn a good
answer into a failure. Error bodies are
`{"errors": [{"title": ..., "details": ...}]}`, and a 401 has only a title. A 2xx body that
cannot be read is a `ServerError` whose message names where the body went wrong, never its
values.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from jobs.persona.errors import (
    ApiConnectionError,
    ApiError,
    ApiTimeoutError,
    RateLimitedError,
    ServerError,
    clamp_server_wait,
    error_for_status,
)

__all__ = [
    "RateLimitInfo",
    "error_fields",
    "parse_document",
    "parse_rate_limit",
    "retry_after_s",
    "status_error",
    "transport_error",
]

#: Longest title or details kept from an error body; they travel in events and logs.
MAX_ERROR_TEXT: Final = 500
_REDACTED: Final = "[redacted]"
_NOT_SENT: Final = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

ModelT = TypeVar("ModelT", bound=BaseModel)
NumberT = TypeVar("NumberT", int, float)


@dataclass(frozen=True, slots=True)
class RateLimitInfo:
    """Persona's `RateLimit-*` headers of one response; `None` where absent or unreadable."""

    limit: int | None
    """`RateLimit-Limit`: requests allowed in the window."""
    remaining: int | None
    """`RateLimit-Remaining`: requests left in the window."""
    reset_s: float | None
    """`RateLimit-Reset`: seconds until the window resets, at most `MAX_SERVER_WAIT_S`."""

    @property
    def present(self) -> bool:
        """Whether the response carried any readable rate-limit header."""
        return self.limit is not None or self.remaining is not None or self.reset_s is not None


def _number(value: str | None, kind: Callable[[str], NumberT]) -> NumberT | None:
    """A header's value as a finite, non-negative `int` or `float`; None when it is not one."""
    if value is None:
        return None
    try:
        number = kind(value.strip())
    except ValueError:
        return None
    # NaN fails every comparison and infinity is no wait: neither is a reading.
    return number if 0 <= number < math.inf else None


def _wait(seconds: float | None) -> float | None:
    return None if seconds is None else clamp_server_wait(seconds)


def parse_rate_limit(headers: httpx.Headers) -> RateLimitInfo:
    """Read the `RateLimit-*` headers (httpx matches names case-insensitively)."""
    return RateLimitInfo(
        limit=_number(headers.get("ratelimit-limit"), int),
        remaining=_number(headers.get("ratelimit-remaining"), int),
        reset_s=_wait(_number(headers.get("ratelimit-reset"), float)),
    )


def retry_after_s(headers: httpx.Headers, reset_s: float | None) -> float | None:
    """How long a 429 asks us to wait: `RateLimit-Reset`, else `Retry-After`, else unknown.

    Either is taken at most at `MAX_SERVER_WAIT_S`.

    Args:
        headers: the 429 response's headers.
        reset_s: its parsed `RateLimit-Reset`.
    """
    if reset_s is not None:
        return _wait(reset_s)
    value = headers.get("retry-after")
    seconds = _number(value, float)
    if seconds is not None or value is None:
        return _wait(seconds)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return clamp_server_wait((when - datetime.now(UTC)).total_seconds())


def _text(value: Any, secret: str) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    text: str = value.replace(secret, _REDACTED) if secret else value
    return text[:MAX_ERROR_TEXT]


def error_fields(response: httpx.Response, *, secret: str) -> tuple[str | None, str | None]:
    """Read `title` and `details` of the first error of an error body.

    Args:
        response: a non-2xx response, whose body may be anything (a proxy's HTML page, say).
        secret: removed from the texts should the body ever echo it.

    Returns:
        `(title, details)`, each `None` when absent or not a string.
    """
    try:
        body = response.json()
    except ValueError:
        return None, None
    errors = body.get("errors") if isinstance(body, dict) else None
    first = errors[0] if isinstance(errors, list) and errors else None
    if not isinstance(first, dict):
        return None, None
    return _text(first.get("title"), secret), _text(first.get("details"), secret)


def status_error(response: httpx.Response, *, method: str, path: str, secret: str) -> ApiError:
    """Convert a non-2xx response into its `jobs.errors` class, with Persona's explanation.

    Args:
        response: the error response.
        method: the request's method.
        path: the request's path, without the query string.
        secret: the API key, kept out of the error should the body echo it.
    """
    status = response.status_code
    title, details = error_fields(response, secret=secret)
    error_class = error_for_status(status, title)
    message = f"Persona answered {status} to {method} {path}" + (f": {title}" if title else "")
    context: dict[str, Any] = {
        "status_code": status,
        "title": title,
        "details": details,
        "request_id": response.headers.get("request-id"),
        "method": method,
        "path": path,
    }
    if issubclass(error_class, RateLimitedError):
        reset_s = parse_rate_limit(response.headers).reset_s
        return error_class(
            message, retry_after_s=retry_after_s(response.headers, reset_s), **context
        )
    return error_class(message, **context)


def transport_error(exc: httpx.HTTPError, *, method: str, path: str) -> ApiError:
    """Classify an httpx failure by whether the request can have reached Persona.

    Connection failures mean nothing was sent (`ApiConnectionError`); any other transport
    failure leaves the outcome unknown (`ApiTimeoutError`); a response httpx could not decode
    is a `ServerError`.
    """
    what = f"{method} {path}"
    name = type(exc).__name__
    if isinstance(exc, _NOT_SENT):
        return ApiConnectionError(
            f"could not connect to Persona for {what} ({name})", method=method, path=path
        )
    if isinstance(exc, httpx.TransportError):
        return ApiTimeoutError(
            f"no answer from Persona for {what} ({name})", method=method, path=path
        )
    return ServerError(
        f"unreadable answer from Persona for {what} ({name})", method=method, path=path
    )


def parse_document(
    response: httpx.Response, model: type[ModelT], *, method: str, path: str
) -> ModelT:
    """Read a 2xx body into its model.

    Raises:
        ServerError: the body is not JSON or not the expected shape; the message names the
            places that failed, never the values (which may be personal data).
    """
    status = response.status_code
    context: dict[str, Any] = {
        "status_code": status,
        "request_id": response.headers.get("request-id"),
        "method": method,
        "path": path,
    }
    try:
        document = response.json()
    except ValueError:
        raise ServerError(
            f"Persona answered {status} to {method} {path} with a non-JSON body", **context
        ) from None
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        places = sorted({".".join(map(str, error["loc"])) or "body" for error in exc.errors()})
        raise ServerError(
            f"Persona answered {status} to {method} {path} with an unexpected body "
            f"(at {', '.join(places[:5])})",
            **context,
        ) from None

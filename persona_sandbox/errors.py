"""Persona's error answers: `{"errors": [{"title": ..., "details": ...}]}`.

Handlers raise `RefusalError`; the request pipeline turns it into the body Persona sends for that
status. The shapes follow `components/responses/*` of the spec: 401 has only `title`; 422 may
carry `source.pointer`; 400/403/404/409 may carry `meta`; 429 has `title` and `details`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, TypeVar

__all__ = [
    "UNAUTHORIZED_BODY",
    "RefusalError",
    "bad_request",
    "conflict",
    "not_found",
    "rate_limited_body",
    "server_error_body",
    "stored",
    "unprocessable",
]

T = TypeVar("T")

#: The 401 body; it never says why (wrong, missing or malformed key).
UNAUTHORIZED_BODY: Final = {"errors": [{"title": "Must be authenticated to access this endpoint"}]}

_SERVER_TITLES: Final = {
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}


class RefusalError(Exception):
    """A request Persona would refuse, with the status and error object to answer.

    Args:
        status: the HTTP status.
        title: Persona's error title.
        details: the human-readable explanation; names the offending attribute.
        pointer: JSON pointer into the request body (422 only).
    """

    def __init__(
        self, status: int, title: str, details: str | None = None, *, pointer: str | None = None
    ) -> None:
        super().__init__(details or title)
        self.status = status
        self.title = title
        self.details = details
        self.pointer = pointer

    def body(self) -> dict[str, Any]:
        """The error document."""
        error: dict[str, Any] = {"title": self.title}
        if self.details is not None:
            error["details"] = self.details
        if self.pointer is not None and self.status == 422:
            error["source"] = {"pointer": self.pointer}
        return {"errors": [error]}


def bad_request(details: str) -> RefusalError:
    """400 for a malformed request."""
    return RefusalError(400, "Bad Request", details)


def not_found(details: str) -> RefusalError:
    """404 for an unknown object."""
    return RefusalError(404, "Record not found", details)


def stored(objects: Mapping[str, T], object_id: str, kind: str) -> T:
    """The object stored under `object_id`.

    Raises:
        RefusalError: Persona's 404, `Could not find <kind> '<id>'`.
    """
    found = objects.get(object_id)
    if found is None:
        raise not_found(f"Could not find {kind} {object_id!r}")
    return found


def conflict(details: str) -> RefusalError:
    """409 for an action the object's current state does not allow."""
    return RefusalError(409, "Conflict", details)


def unprocessable(details: str, pointer: str | None = None) -> RefusalError:
    """422 for a well-formed request with an unacceptable value."""
    return RefusalError(422, "Unprocessable entity", details, pointer=pointer)


def rate_limited_body(limit: int) -> dict[str, Any]:
    """The 429 body Persona sends, naming the limit."""
    return {
        "errors": [
            {
                "title": "Rate limit exceeded",
                "details": f"You have hit your rate limit of {limit} requests / min. Please reach "
                "out to support@withpersona.com if you need this changed.",
            }
        ]
    }


def server_error_body(status: int) -> dict[str, Any]:
    """A 5xx body."""
    return {"errors": [{"title": _SERVER_TITLES.get(status, "Internal server error")}]}

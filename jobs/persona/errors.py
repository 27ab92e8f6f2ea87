"""Persona's answers as errors: the API error tree, converted from HTTP at one boundary.

```
DescribedError                   root of every error a job can end with (WorkerError too)
└── PersonaError                 root of this package's errors; never raised directly
├── ClientSetupError             the client was asked for something its configuration refuses
└── ApiError                     Persona did not give us what we asked for
    ├── TransientApiError        worth retrying with backoff
    │   ├── ApiTimeoutError      no answer in time; a POST may or may not have happened
    │   ├── ApiConnectionError   could not connect; the request was not sent
    │   ├── ServerError          5xx; outcome unknown
    │   └── RateLimitedError     429; .retry_after_s from RateLimit-Reset
    └── PermanentApiError        4xx: retrying the same request cannot help
        ├── BadRequestError      400 (IdempotencyError: key reused with another body)
        ├── AuthenticationError  401: wrong or revoked API key
        ├── PermissionDeniedError 403: key lacks a permission, or a quota is spent
        ├── NotFoundError        404
        ├── ConflictError        409: duplicate, concurrent change, or invalid state
        └── UnprocessableError   422
```

HTTP details become these classes in `jobs.persona.client` only; nothing else looks at status
codes. Every class survives a pickle round trip (the message is the only positional argument,
the rest keyword-only with defaults) and describes itself as JSON with `to_dict()`, which is
what `job.failed` events carry. No error ever holds the API key or a request body.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final, NotRequired, TypedDict

__all__ = [
    "DEFAULT_RATE_LIMIT_WAIT_S",
    "MAX_SERVER_WAIT_S",
    "ApiConnectionError",
    "ApiError",
    "ApiTimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClientSetupError",
    "ConflictError",
    "DescribedError",
    "ErrorDescription",
    "IdempotencyError",
    "NotFoundError",
    "PermanentApiError",
    "PermissionDeniedError",
    "PersonaError",
    "RateLimitedError",
    "ServerError",
    "TransientApiError",
    "UnprocessableError",
    "clamp_server_wait",
    "error_for_status",
]


class ErrorDescription(TypedDict):
    """An error as JSON (`to_dict()`): what `job.failed` events and job results carry.

    API errors add their HTTP context; a 429 adds the wait Persona asked for.
    """

    type: str
    message: str
    transient: bool
    status_code: NotRequired[int | None]
    title: NotRequired[str | None]
    details: NotRequired[str | None]
    request_id: NotRequired[str | None]
    method: NotRequired[str | None]
    path: NotRequired[str | None]
    retry_after_s: NotRequired[float | None]


class DescribedError(Exception):
    """Root of every error of ours that a job can end with (`jobs.errors.WorkerError` too).

    It lives here, at the bottom of the dependency graph, so the Persona client needs nothing
    else of ours and the worker's own errors still share one root with it.
    """

    #: Whether the same operation may succeed if tried again later.
    transient: ClassVar[bool] = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> ErrorDescription:
        """Describe the error as JSON-ready data, for events and structured logs."""
        return {"type": type(self).__name__, "message": self.message, "transient": self.transient}


class PersonaError(DescribedError):
    """Root of the Persona client's errors."""


class ClientSetupError(PersonaError):
    """The client's configuration refuses the call (an empty key, simulate with a live key)."""


class ApiError(PersonaError):
    """Persona answered with an error, or did not answer at all."""

    #: Whether a POST that raised this may have taken effect at Persona. When it may have,
    #: the caller must look before it creates again.
    outcome_unknown: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        title: str | None = None,
        details: str | None = None,
        request_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.title = title
        self.details = details
        self.request_id = request_id
        self.method = method
        self.path = path

    def to_dict(self) -> ErrorDescription:
        """Describe the error with its HTTP context (never the key or the body)."""
        return {
            **super().to_dict(),
            "status_code": self.status_code,
            "title": self.title,
            "details": self.details,
            "request_id": self.request_id,
            "method": self.method,
            "path": self.path,
        }


class TransientApiError(ApiError):
    """A failure that may clear by itself: retry later with backoff."""

    transient = True


class ApiTimeoutError(TransientApiError):
    """The request timed out; Persona may have processed it."""

    outcome_unknown = True


class ApiConnectionError(TransientApiError):
    """The connection failed before the request could be sent."""


class ServerError(TransientApiError):
    """Persona answered 5xx; the outcome of the request is unknown."""

    outcome_unknown = True


#: The wait assumed after a 429 that names none (no readable `RateLimit-Reset` or `Retry-After`).
DEFAULT_RATE_LIMIT_WAIT_S: Final = 5.0
#: The longest wait a server's `RateLimit-Reset` or `Retry-After` is taken at. Persona's window
#: is one minute, so a longer wait is a garbled header or a far-off clock; taken at its word, a
#: reset of ten years would park a job (and, through the shared limiter, every job) for ten
#: years. Past this the worker simply asks again, and a 429 then costs one more wait.
MAX_SERVER_WAIT_S: Final = 120.0


def clamp_server_wait(seconds: float) -> float:
    """A wait a server asked for, at most `MAX_SERVER_WAIT_S` (and never negative)."""
    return min(max(seconds, 0.0), MAX_SERVER_WAIT_S)


class RateLimitedError(TransientApiError):
    """Persona answered 429: wait for the window to reset, then retry the same request."""

    def __init__(self, message: str, *, retry_after_s: float | None = None, **context: Any) -> None:
        super().__init__(message, **context)
        self.retry_after_s = None if retry_after_s is None else clamp_server_wait(retry_after_s)

    @property
    def wait_s(self) -> float:
        """How long to wait before the same request: the wait asked for, else the default."""
        return DEFAULT_RATE_LIMIT_WAIT_S if self.retry_after_s is None else self.retry_after_s

    def to_dict(self) -> ErrorDescription:
        """Include the wait Persona asked for."""
        return {**super().to_dict(), "retry_after_s": self.retry_after_s}


class PermanentApiError(ApiError):
    """Persona refused the request; the same request will be refused again."""


class BadRequestError(PermanentApiError):
    """400: the request is malformed."""


class IdempotencyError(BadRequestError):
    """400: an Idempotency-Key was reused with different parameters."""


class AuthenticationError(PermanentApiError):
    """401: the API key is wrong, revoked or for another environment."""


class PermissionDeniedError(PermanentApiError):
    """403: the key lacks a permission, or a creation quota is spent."""


class NotFoundError(PermanentApiError):
    """404: no such object in this environment."""


class ConflictError(PermanentApiError):
    """409: a duplicate, a concurrent change, or an action invalid in the current state."""


class UnprocessableError(PermanentApiError):
    """422: the action or a parameter is not acceptable for this object."""


_PERMANENT_BY_STATUS: dict[int, type[PermanentApiError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableError,
}


def error_for_status(status_code: int, title: str | None = None) -> type[ApiError]:
    """Pick the error class for an HTTP error status (the one table of that mapping)."""
    if status_code == 429:
        return RateLimitedError
    if status_code >= 500 or status_code == 408:
        return ServerError
    if status_code == 400 and title == "Idempotency error":
        return IdempotencyError
    return _PERMANENT_BY_STATUS.get(status_code, PermanentApiError)

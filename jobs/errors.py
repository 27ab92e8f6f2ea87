"""Every error the worker raises, in one place.

```
WorkerError                      the worker's own errors; never raised directly
├── JobArgumentsError            a job's arguments fail validation; permanent
└── WebhookError                 a webhook request we refuse
    ├── SignatureHeaderError     Persona-Signature missing or malformed (400)
    ├── SignatureError           Persona-Signature does not match, or is stale (401)
    └── PayloadError             not a Persona event we can read (400)
PersonaError                     the Persona client's errors (`jobs.persona.errors`)
├── ClientSetupError             the client's configuration refuses the call
└── ApiError                     Persona did not give us what we asked for (transient/permanent)
ConfigError                      bad settings; the process refuses to start (`settings`)
```

The three roots live where their concern lives, so the Persona client and the settings depend on
nothing of ours; they share one shape (`transient`, `to_dict()`, a message as the only
positional argument, so a pickle round trip keeps them), and `KNOWN_ERRORS` names them together
for the one place that turns any of them into a `job.failed` event. No error ever holds the API
key or a request body.
"""

from __future__ import annotations

from typing import Any, ClassVar

from jobs.persona.errors import (
    ApiConnectionError,
    ApiError,
    ApiTimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientSetupError,
    ConflictError,
    IdempotencyError,
    NotFoundError,
    PermanentApiError,
    PermissionDeniedError,
    PersonaError,
    RateLimitedError,
    ServerError,
    TransientApiError,
    UnprocessableError,
    error_for_status,
)
from settings import ConfigError

__all__ = [
    "KNOWN_ERRORS",
    "ApiConnectionError",
    "ApiError",
    "ApiTimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClientSetupError",
    "ConfigError",
    "ConflictError",
    "IdempotencyError",
    "JobArgumentsError",
    "KnownError",
    "NotFoundError",
    "PayloadError",
    "PermanentApiError",
    "PermissionDeniedError",
    "PersonaError",
    "RateLimitedError",
    "ServerError",
    "SignatureError",
    "SignatureHeaderError",
    "TransientApiError",
    "UnprocessableError",
    "WebhookError",
    "WorkerError",
    "error_for_status",
]


class WorkerError(Exception):
    """Root of the worker's own errors (jobs, webhooks)."""

    #: Whether the same operation may succeed if tried again later.
    transient: ClassVar[bool] = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, Any]:
        """Describe the error as JSON-ready data, for events and structured logs."""
        return {"type": type(self).__name__, "message": self.message, "transient": self.transient}


class JobArgumentsError(WorkerError):
    """A job was enqueued with arguments that do not match its contract."""


class WebhookError(WorkerError):
    """A webhook request the receiver refuses."""

    #: HTTP status the receiver answers with.
    http_status: ClassVar[int] = 400


class SignatureHeaderError(WebhookError):
    """The Persona-Signature header is missing or malformed."""


class SignatureError(WebhookError):
    """The Persona-Signature does not match any secret, or is older than the tolerance."""

    http_status = 401


class PayloadError(WebhookError):
    """The body is not a Persona event the receiver can read."""


#: Any error of ours, whatever its root: what a `job.failed` event describes with `to_dict()`.
KnownError = WorkerError | PersonaError | ConfigError

#: The same, for `isinstance` and `except`.
KNOWN_ERRORS: tuple[type[WorkerError], type[PersonaError], type[ConfigError]] = (
    WorkerError,
    PersonaError,
    ConfigError,
)

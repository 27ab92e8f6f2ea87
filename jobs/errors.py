"""Every error the worker raises, in one place.

```
DescribedError                   root: `transient`, `to_dict()` (`jobs.persona.errors`)
├── WorkerError                  the worker's own errors; never raised directly
│   ├── JobArgumentsError        a job's arguments fail validation; permanent
│   └── WebhookError             a webhook request we refuse
│       ├── SignatureHeaderError Persona-Signature missing or malformed (400)
│       ├── SignatureError       Persona-Signature does not match, or is stale (401)
│       └── PayloadError         not a Persona event we can read (400)
└── PersonaError                 the Persona client's errors (`jobs.persona.errors`)
    ├── ClientSetupError         the client's configuration refuses the call
    └── ApiError                 Persona did not give us what we asked for (transient/permanent)
ConfigError                      bad settings; the process refuses to start (`settings`)
```

The root and the API errors live in the Persona client package, which depends on nothing else of
ours; `ConfigError` lives with the settings, which import nothing of ours and only ever stop a
process at start-up. Every class survives a pickle round trip (the message is the only positional
argument) and `to_dict()` is what a `job.failed` event carries. No error ever holds the API key
or a request body.
"""

from __future__ import annotations

from typing import ClassVar

from jobs.persona.errors import (
    ApiConnectionError,
    ApiError,
    ApiTimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientSetupError,
    ConflictError,
    DescribedError,
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


class WorkerError(DescribedError):
    """Root of the worker's own errors (jobs, webhooks)."""


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


#: Any error of ours that a job can end with: what a `job.failed` event describes.
KnownError = DescribedError

#: The same, for `isinstance` and `except`.
KNOWN_ERRORS = DescribedError

"""Runtime configuration, read once at start-up from the environment (and `.env`).

Every setting's environment variable is its field name in upper case (`PERSONA_API_KEY`,
`REDIS_URL`, ...). Bad values stop the process at start-up with a message that names the
variable, never its secret value: see `load_settings`.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Final, Literal, Self

from pydantic import (
    AnyHttpUrl,
    Field,
    RedisDsn,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = [
    "DECISION_STATUSES",
    "DEFAULT_TERMINAL_STATUSES",
    "PERSONA_VERSIONS",
    "ConfigError",
    "InquiryStatus",
    "Settings",
    "load_settings",
]


class ConfigError(Exception):
    """A setting is missing or invalid; the message names the environment variable.

    It lives with the settings (`jobs.errors` re-exports it) so that reading the configuration
    imports nothing else of ours; it only ever stops a process at start-up.
    """


#: API versions Persona accepts in `Persona-Version` (components/schemas/api-version.yaml).
PERSONA_VERSIONS = frozenset(
    {
        "2025-12-08",
        "2025-10-27",
        "2023-01-05",
        "2022-09-01",
        "2021-08-18",
        "2021-07-05",
        "2021-02-21",
        "2020-05-18",
    }
)


class InquiryStatus(StrEnum):
    """The inquiry statuses Persona documents; values are the wire values.

    The one list of them. It lives here because `POLL_TERMINAL_STATUSES` is checked against it
    at start-up and this module imports nothing else of ours; `jobs.policy.status` builds the
    pipeline's rules on it, `jobs.metrics` its label values. Persona warns that the list is
    open-ended, so a status missing here is followed, never refused (`jobs.policy.status`).
    """

    created = "created"
    """Created; the person has not started."""
    pending = "pending"
    """The person started (Persona's event: `inquiry.started`)."""
    completed = "completed"
    """The person finished every step; not yet a decision."""
    failed = "failed"
    """The person ran out of attempts."""
    expired = "expired"
    """Time ran out before the person finished; can be resumed."""
    needs_review = "needs_review"
    """Waiting for a human (Persona's event: `inquiry.marked-for-review`)."""
    approved = "approved"
    """Decision: approved."""
    declined = "declined"
    """Decision: declined."""


#: The final decisions; `POLL_WAIT_FOR_DECISION=true` follows inquiries until one of these.
DECISION_STATUSES: Final = (InquiryStatus.approved, InquiryStatus.declined)
#: Where polling stops by default: the person is done, or a decision exists.
DEFAULT_TERMINAL_STATUSES: Final = (
    InquiryStatus.completed,
    InquiryStatus.failed,
    InquiryStatus.expired,
    *DECISION_STATUSES,
)
# The template id kinds of `jobs.persona.templates`, which this module cannot import (it imports
# nothing of ours); tests/test_settings.py keeps the two in step.
_TEMPLATE_PREFIXES = ("itmpl_", "itmplv_", "tmpl_")
_KEY_PREFIXES = ("persona_sandbox_", "persona_production_")
_STREAM_NAME = re.compile(r"^[A-Za-z0-9:_.\-]{1,200}$")
_PREFIX_PATTERN = re.compile(r"^[A-Za-z0-9_.\-][A-Za-z0-9:_.\-]{0,98}:$")

PositiveFloat = Annotated[float, Field(gt=0)]
PositiveInt = Annotated[int, Field(gt=0)]


def _split_csv(value: Any) -> Any:
    """Accept `a,b,c` (or a JSON-free list) for list settings given as env strings."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """All settings of the worker, the web receiver, the CLI and the sandbox client side."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    # --- Persona -------------------------------------------------------------------------
    persona_api_key: SecretStr
    """API key; `persona_sandbox_...` or `persona_production_...`. Never logged."""
    persona_api_url: AnyHttpUrl = AnyHttpUrl("https://api.withpersona.com/api/v1")
    """Base URL of the API, or of the local sandbox emulator."""
    persona_version: str = "2025-12-08"
    """Pinned `Persona-Version`; responses are read in this version's shapes."""
    persona_template_id: str | None = None
    """Default template for `create_inquiry`: `itmpl_...`, `itmplv_...` or `tmpl_...`."""
    persona_webhook_secrets: Annotated[tuple[SecretStr, ...], NoDecode] = ()
    """Webhook secrets (`wbhsec_...`), comma-separated; several during a rotation."""
    persona_allow_simulate: bool = True
    """Whether simulate actions may be sent; always refused with a production key."""

    # --- HTTP ----------------------------------------------------------------------------
    http_timeout_s: PositiveFloat = 10.0
    """Timeout of a request to Persona: of each phase (connect, read, write, pool) and in all."""
    http_max_connections: PositiveInt = 50
    """Connection pool size of the one shared HTTP client."""

    # --- Redis and results ---------------------------------------------------------------
    redis_url: RedisDsn = RedisDsn("redis://localhost:6379/0")
    """Redis holding the queue, inquiry records, the rate limiter and the results stream."""
    key_prefix: str = "persona:"
    """Prefix of every Redis key of this deployment; two deployments on one Redis differ here."""
    queue_name: str = ""
    """arq queue (sorted set) the jobs are enqueued on; `{KEY_PREFIX}queue` when not set."""
    results_stream: str = ""
    """Redis stream that receives one event per request; `{KEY_PREFIX}results` when not set."""
    results_stream_maxlen: PositiveInt = 100_000
    """Approximate length the results stream is trimmed to."""
    publish_fields: Annotated[tuple[str, ...], NoDecode] = ()
    """Inquiry `fields` keys allowed into result events (PII is opt-in), comma-separated."""
    record_ttl_s: PositiveInt = 30 * 86_400
    """How long an answered request (and a settled inquiry) is remembered: a job id enqueued
    again within this time gets no second answer."""
    redis_socket_timeout_s: Annotated[float, Field(gt=1)] = 5.0
    """Longest wait for one Redis answer (above 1 s: `results --follow` blocks 1 s)."""
    redis_connect_timeout_s: PositiveFloat = 2.0
    """Longest wait for a new Redis connection."""
    redis_health_check_interval_s: Annotated[int, Field(ge=0)] = 15
    """A Redis connection idle this many seconds is pinged before use; 0 turns it off."""
    redis_allow_eviction: bool = False
    """Start even if Redis may evict keys (and lose requests)."""

    # --- Polling -------------------------------------------------------------------------
    poll_min_interval_s: PositiveFloat = 5.0
    """First wait between status checks; backoff grows from here."""
    poll_max_interval_s: PositiveFloat = 300.0
    """Cap of the backoff between status checks."""
    poll_review_interval_s: PositiveFloat = 1_800.0
    """Wait between status checks while an inquiry is `needs_review`."""
    poll_deadline_grace_s: PositiveFloat = 3_600.0
    """Polling stops this long after the inquiry's `expires-at` (or 24 h after start if unknown)."""
    poll_terminal_statuses: Annotated[tuple[str, ...], NoDecode] = DEFAULT_TERMINAL_STATUSES
    """Statuses that end polling, comma-separated."""
    poll_wait_for_decision: bool = False
    """When true, follow inquiries until `approved`/`declined` (overrides the terminal set)."""
    poll_safety_net_s: PositiveFloat = 600.0
    """Wait between status checks while webhooks flow."""
    poll_batch_size: Annotated[int, Field(ge=1, le=100)] = 100
    """Inquiry ids per list call of a tick's status checks (Persona allows 100)."""
    poll_tick_s: Annotated[float, Field(ge=0.01, le=60)] = 10.0
    """How often one worker takes the due inquiries and checks them, in shared list calls."""
    poll_tick_max_checks: Annotated[int, Field(ge=1, le=100_000)] = 2_000
    """Most inquiries one tick checks; the rest stay due for the next tick."""

    # --- Rate limit ----------------------------------------------------------------------
    rate_limit_per_minute: PositiveInt | Literal["auto"] = 240
    """Requests per minute shared by every worker; Persona allows 300 per environment. `auto`
    reads the environment's limit at worker start and keeps 20 % of it free."""

    # --- Webhooks ------------------------------------------------------------------------
    webhook_tolerance_s: Annotated[int, Field(ge=0)] = 0
    """Reject signatures older than this many seconds; 0 turns the check off."""
    webhook_max_body_bytes: PositiveInt = 1_048_576
    """Larger webhook bodies are refused with 413."""
    webhook_read_timeout_s: PositiveFloat = 5.0
    """A webhook body still arriving after this long is refused with 408 (Persona gives up on a
    delivery after 5 s)."""
    web_max_concurrency: PositiveInt = 1_024
    """Requests the web process serves at once; more are answered 503 at once."""
    webhook_dedupe_ttl_s: PositiveInt = 30 * 86_400
    """How long webhook event ids are remembered for deduplication."""

    # --- Operations ----------------------------------------------------------------------
    log_format: Literal["json", "text"] = "text"
    """`json` lines for production, readable `text` for development."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """Minimum level logged."""
    metrics_port: Annotated[int, Field(ge=0, le=65_535)] = 0
    """Port of the worker's Prometheus endpoint; 0 turns it off."""
    worker_event_loop: Literal["auto", "uvloop", "asyncio"] = "auto"
    """Event loop of `python -m worker.run`: uvloop when installed (`auto`), or the one named."""
    worker_max_jobs: PositiveInt = 100
    """Jobs one worker process runs at once."""
    job_timeout_s: Annotated[float, Field(ge=2)] = 28.0
    """Longest a single job attempt may run (each job stops itself a little earlier and runs
    again); a killed worker's jobs come back 10 s after it."""

    # --- Console -------------------------------------------------------------------------
    console_token: SecretStr | None = None
    """Token of the operator console at `/console` (at least 16 characters); unset: no console
    (404)."""

    @field_validator(
        "persona_webhook_secrets", "publish_fields", "poll_terminal_statuses", mode="before"
    )
    @classmethod
    def _split_lists(cls, value: Any) -> Any:
        return _split_csv(value)

    @field_validator("rate_limit_per_minute", mode="before")
    @classmethod
    def _check_rate(cls, value: Any) -> Any:
        # One message for both spellings, instead of pydantic's one per member of the union.
        problem = "must be a whole number of requests per minute above 0, or auto"
        if isinstance(value, str):
            text = value.strip().lower()
            if text == "auto":
                return text
            if not text.isdigit():
                raise ValueError(problem)
            value = int(text)
        if isinstance(value, int) and not isinstance(value, bool) and value <= 0:
            raise ValueError(problem)
        return value

    @field_validator("persona_api_key")
    @classmethod
    def _check_key(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(_KEY_PREFIXES):
            raise ValueError("must start with persona_sandbox_ or persona_production_")
        return value

    @field_validator("console_token")
    @classmethod
    def _check_console_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters")
        return value

    @field_validator("persona_template_id")
    @classmethod
    def _check_template(cls, value: str | None) -> str | None:
        if value is not None and not any(
            value.startswith(prefix) and len(value) > len(prefix) for prefix in _TEMPLATE_PREFIXES
        ):
            raise ValueError("must start with itmpl_, itmplv_ or tmpl_")
        return value

    @field_validator("persona_version")
    @classmethod
    def _check_version(cls, value: str) -> str:
        if value not in PERSONA_VERSIONS:
            raise ValueError(f"must be one of {', '.join(sorted(PERSONA_VERSIONS))}")
        return value

    @field_validator("poll_terminal_statuses")
    @classmethod
    def _check_statuses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(InquiryStatus))
        if unknown:
            raise ValueError(f"unknown inquiry statuses: {', '.join(unknown)}")
        if not value:
            raise ValueError("must name at least one status")
        return value

    @field_validator("results_stream", "queue_name")
    @classmethod
    def _check_key_name(cls, value: str) -> str:
        if value and not _STREAM_NAME.match(value):
            raise ValueError("must be 1-200 characters of letters, digits and : _ . -")
        return value

    @field_validator("key_prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        if not _PREFIX_PATTERN.match(value):
            raise ValueError("must be 1-100 characters of letters, digits and _ . -, ending in ':'")
        return value

    @model_validator(mode="after")
    def _name_keys(self) -> Self:
        # Frozen model: the derived names are written once, here, before anyone reads them.
        if not self.queue_name:
            object.__setattr__(self, "queue_name", f"{self.key_prefix}queue")
        if not self.results_stream:
            object.__setattr__(self, "results_stream", f"{self.key_prefix}results")
        return self

    @model_validator(mode="after")
    def _check_intervals(self) -> Self:
        if self.poll_min_interval_s > self.poll_max_interval_s:
            raise ValueError("POLL_MIN_INTERVAL_S must not exceed POLL_MAX_INTERVAL_S")
        return self

    @property
    def is_production_key(self) -> bool:
        """Whether the key talks to a production environment."""
        return self.persona_api_key.get_secret_value().startswith("persona_production_")

    @property
    def simulate_allowed(self) -> bool:
        """Simulate actions are for sandbox inquiries only, whatever the setting says."""
        return self.persona_allow_simulate and not self.is_production_key

    @property
    def terminal_statuses(self) -> frozenset[str]:
        """The statuses that end polling, after `POLL_WAIT_FOR_DECISION`."""
        if self.poll_wait_for_decision:
            return frozenset(DECISION_STATUSES)
        return frozenset(self.poll_terminal_statuses)

    @property
    def api_base_url(self) -> str:
        """The API base URL without a trailing slash."""
        return str(self.persona_api_url).rstrip("/")


def _describe(error: ValidationError) -> str:
    """Turn pydantic's errors into lines that name env variables and never echo values."""
    lines = []
    for item in error.errors(include_input=False, include_url=False):
        where = ".".join(str(part) for part in item["loc"]) or "settings"
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"{where.upper()}: {message}")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, raising `ConfigError` naming each bad variable.

    Args:
        **overrides: values that take precedence over the environment (tests, the demo).
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None

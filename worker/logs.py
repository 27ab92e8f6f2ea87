"""Process logging: JSON lines for log pipelines, readable lines for people, nothing secret.

`configure_logging(settings)` gives the root logger one handler on stderr that formats with
`LOG_FORMAT` (`json` or `text`) at `LOG_LEVEL`. Every process calls it at start: the worker in
arq's on_startup (the `arq` CLI has configured logging its own way by then, so arq's and
uvicorn's own handlers are removed and their records flow to ours), the web app when uvicorn
builds it from the environment, and the CLI. Calling it again replaces our handler, so it can
run more than once per process.

Every record carries the fields of `jobs.log_context` bound where it was logged (job, job id,
try, inquiry id, reference id). Two guards keep secrets and PII out:

- arq logs each job's arguments when it starts (`→ create_inquiry(fields={...})`) and may log
  its result (one-time links); `redact_arq_records` replaces both with `…` on arq's logger
  itself, so no handler ever sees them.
- the formatters scrub anything shaped like a Persona API key, a webhook secret, a bearer
  token or a signature, in case a message or a traceback ever carries one.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, Final, Literal, TextIO

from jobs import log_context
from settings import Settings

__all__ = [
    "JsonFormatter",
    "LogFormat",
    "TextFormatter",
    "configure_logging",
    "redact_arq_records",
    "scrub",
]

LogFormat = Literal["json", "text"]

#: Loggers that bring their own handlers (arq's CLI, uvicorn); ours takes over their records.
_TAKEN_OVER: Final = ("arq", "uvicorn", "uvicorn.error", "uvicorn.access")
#: Libraries that log every request at INFO (with URLs); their warnings still come through.
_QUIETED: Final = ("httpx", "httpcore")
#: arq's lines that print job arguments and results (arq 0.28 worker.py).
_ARQ_START: Final = "%6.2fs → %s(%s)%s"
_ARQ_DONE: Final = "%6.2fs ← %s ● %s"
_HIDDEN: Final = "…"

_SECRETS: Final = re.compile(
    r"persona_(?:sandbox|production)_[A-Za-z0-9_\-]+"  # API keys
    r"|wbhsec_[A-Za-z0-9_\-]+"  # webhook secrets
    r"|(?i:bearer)\s+[A-Za-z0-9_\-.=+/]+"  # Authorization header values
    r"|\bv1=[0-9a-fA-F]{16,}"  # Persona-Signature digests
)
_REDACTED: Final = "[redacted]"


def scrub(text: str) -> str:
    """`text` with anything shaped like a key, secret, token or signature replaced."""
    return _SECRETS.sub(_REDACTED, text)


class _ContextFilter(logging.Filter):
    """Copy the task's log context onto each record (fields passed in `extra` win)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in log_context.current().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class _ArqRecordFilter(logging.Filter):
    """Hide job arguments and results in arq's own lines, and tag them with the job.

    arq logs a job's start, end, retry and failure from the worker loop, outside the job's
    task, so they carry no log context; their second argument is `{job_id}:{function}`, which
    gives the `job` and `job_id` fields instead.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if not isinstance(args, tuple) or len(args) < 2 or not str(record.msg).startswith("%6.2fs"):
            return True
        if record.msg in (_ARQ_START, _ARQ_DONE) and len(args) >= 3 and args[2]:
            record.args = (args[0], args[1], _HIDDEN, *args[3:])
        if not hasattr(record, "job"):
            _tag_job(record, args)
        return True


def _tag_job(record: logging.LogRecord, args: tuple[Any, ...]) -> None:
    ref = str(args[1])
    if ref.startswith("cron:"):  # cron jobs are referred to by name only
        record.job = ref.removeprefix("cron:")
        return
    if "%s:%s" in str(record.msg) and len(args) >= 3:  # "aborted before start"
        record.job, record.job_id = str(args[2]), ref
        return
    job_id, sep, function = ref.rpartition(":")
    if sep:
        record.job, record.job_id = function, job_id


def redact_arq_records() -> None:
    """Install the filter that hides job arguments and results on arq's worker logger.

    The same filter tags arq's job lines with `job` and `job_id`.

    Called by every worker at start-up, configured logging or not: an embedding process's own
    handlers must not receive a job's `fields` either. Installing twice keeps one filter.
    """
    logger = logging.getLogger("arq.worker")
    if not any(isinstance(item, _ArqRecordFilter) for item in logger.filters):
        logger.addFilter(_ArqRecordFilter())


def _context_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {
        name: getattr(record, name)
        for name in log_context.FIELDS
        if getattr(record, name, None) is not None
    }


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: `time`, `level`, `logger`, `message`, context, `exception`."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        document.update(_context_fields(record))
        if record.exc_info:
            document["exception"] = scrub(self.formatException(record.exc_info))
        if record.stack_info:
            document["stack"] = scrub(self.formatStack(record.stack_info))
        return json.dumps(document, ensure_ascii=False, default=str)


def _text_value(value: Any) -> str:
    text = str(value)
    return json.dumps(text) if not text or any(char in text for char in ' "=') else text


class TextFormatter(logging.Formatter):
    """`time level logger: message  job=... job_id=... try=... inquiry_id=... reference_id=...`."""

    def format(self, record: logging.LogRecord) -> str:
        context = " ".join(
            f"{'try' if name == 'job_try' else name}={_text_value(value)}"
            for name, value in _context_fields(record).items()
        )
        line = (
            f"{_timestamp(record)} {record.levelname:<7} {record.name}: "
            f"{scrub(record.getMessage())}"
        )
        if context:
            line = f"{line}  {context}"
        if record.exc_info:
            line = f"{line}\n{scrub(self.formatException(record.exc_info))}"
        if record.stack_info:
            line = f"{line}\n{scrub(self.formatStack(record.stack_info))}"
        return line


class _Handler(logging.StreamHandler[TextIO]):
    """The handler `configure_logging` installs; a second call finds and replaces it."""


class _StderrHandler(_Handler):
    """Writes to whatever `sys.stderr` is when a record is emitted, not when it was built.

    Test runners and the CLI's callers swap `sys.stderr`; a handler holding the stream it was
    created with would write into a closed capture after the swap.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        """Ignored: the stream is always the current `sys.stderr`."""


def _formatter(log_format: LogFormat) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def configure_logging(
    settings: Settings | None = None,
    *,
    log_format: LogFormat | None = None,
    log_level: str | None = None,
    stream: TextIO | None = None,
) -> logging.Handler:
    """Route every log record of the process through one handler of ours; return it.

    Args:
        settings: `LOG_FORMAT` and `LOG_LEVEL` come from here unless given explicitly.
        log_format: `json` or `text` (default `text`).
        log_level: minimum level on the root logger (default `INFO`).
        stream: where lines go (tests); default the current `sys.stderr`.
    """
    chosen_format: LogFormat = log_format or (settings.log_format if settings else "text")
    level = log_level or (settings.log_level if settings else "INFO")
    handler = _StderrHandler() if stream is None else _Handler(stream)
    handler.setFormatter(_formatter(chosen_format))
    handler.addFilter(_ContextFilter())

    root = logging.getLogger()
    for existing in list(root.handlers):
        if isinstance(existing, _Handler):
            root.removeHandler(existing)
            existing.close()
    root.addHandler(handler)
    root.setLevel(level)
    for name in _TAKEN_OVER:
        logger = logging.getLogger(name)
        for existing in list(logger.handlers):
            logger.removeHandler(existing)
        logger.setLevel(logging.NOTSET)
        logger.propagate = True
    for name in _QUIETED:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    redact_arq_records()
    return handler

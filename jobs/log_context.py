"""Who a log line is about: the job, its id and try, the inquiry and the caller's reference id.

Operators search logs by job id or inquiry id, so every record a job emits should carry them,
without each `logger.info` call passing them along. They live in a `ContextVar`: arq runs each
job in its own asyncio task, and a task copies the context when it is created, so what one job
binds is invisible to the jobs running beside it and disappears with its task. The worker's job
wrapper (`worker.instrument`) opens the scope with the job's name, id and try (and the inquiry
or reference id when they are job arguments); a job calls `bind(inquiry_id=...)` where it
learns the inquiry id. `worker.logs` copies the values onto every record it formats.

Only identifiers are accepted: a value that does not look like one (too long, control
characters, surrounding whitespace) is replaced by a marker rather than logged, so a
malformed job argument cannot smuggle free text, or PII, into the logs through this path.
Reference ids are the caller's opaque ids for a person and are allowed; inquiry `fields`,
keys, secrets and signatures have no place here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from types import MappingProxyType
from typing import Final

__all__ = ["FIELDS", "INVALID", "bind", "current", "scope"]

#: The context fields, in the order formatters print them.
FIELDS: Final = ("job", "job_id", "job_try", "inquiry_id", "reference_id")
#: What replaces a value that does not look like an identifier.
INVALID: Final = "[invalid]"
#: Longest identifier kept; reference ids may be up to 255 characters (jobs.contract).
_MAX_LENGTH: Final = 255

LogValue = str | int

_EMPTY: Final[Mapping[str, LogValue]] = MappingProxyType({})
_context: ContextVar[Mapping[str, LogValue]] = ContextVar("persona_log_context", default=_EMPTY)


def _checked(name: str, value: LogValue) -> LogValue:
    if name not in FIELDS:
        raise TypeError(f"unknown log context field {name!r}; expected one of {FIELDS}")
    if isinstance(value, bool) or not isinstance(value, str | int):
        return INVALID
    if isinstance(value, int):
        return value
    if not 0 < len(value) <= _MAX_LENGTH or not value.isprintable() or value != value.strip():
        return INVALID
    return value


def _merged(
    base: Mapping[str, LogValue], fields: Mapping[str, LogValue | None]
) -> Mapping[str, LogValue]:
    values = dict(base)
    for name, value in fields.items():
        if value is not None:
            values[name] = _checked(name, value)
    return MappingProxyType(values)


def current() -> Mapping[str, LogValue]:
    """The fields bound in this task (read-only)."""
    return _context.get()


def bind(**fields: LogValue | None) -> None:
    """Add fields to the current task's log context; `None` values are skipped.

    Raises:
        TypeError: a field name outside `FIELDS` (a typo would silently log nothing).
    """
    _context.set(_merged(_context.get(), fields))


@contextlib.contextmanager
def scope(**fields: LogValue | None) -> Iterator[None]:
    """Bind exactly these fields for the duration of a block, then restore what was before.

    The scope starts empty rather than from the enclosing fields: one job's scope must never
    show another job's ids. A job's task is discarded after the job anyway; the restore matters
    where jobs are awaited directly in one task (tests, embedding).
    """
    token = _context.set(_merged(_EMPTY, fields))
    try:
        yield
    finally:
        _context.reset(token)

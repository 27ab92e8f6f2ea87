"""Helpers for tests that configure logging: capture the output, then put everything back.

`worker.logs.configure_logging` changes process-wide state (the root handler and level, arq's
and uvicorn's loggers, a filter on `arq.worker`); a test that calls it, directly or through
the CLI, the web app or a worker, restores that state afterwards so later tests see the
logging pytest set up.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

from worker.logs import LogFormat, configure_logging

__all__ = ["capture_logs", "parse_json_lines", "preserved_logging"]

_TOUCHED = (
    "",
    "arq",
    "arq.worker",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "httpx",
    "httpcore",
)


@contextlib.contextmanager
def preserved_logging() -> Iterator[None]:
    """Restore handlers, levels, propagation and filters of the loggers ours touches."""
    saved = []
    for name in _TOUCHED:
        logger = logging.getLogger(name)
        saved.append(
            (logger, list(logger.handlers), logger.level, logger.propagate, list(logger.filters))
        )
    try:
        yield
    finally:
        for logger, handlers, level, propagate, filters in saved:
            for handler in list(logger.handlers):
                if handler not in handlers:
                    logger.removeHandler(handler)
            for handler in handlers:
                if handler not in logger.handlers:
                    logger.addHandler(handler)
            logger.setLevel(level)
            logger.propagate = propagate
            logger.filters[:] = filters


@contextlib.contextmanager
def capture_logs(log_format: LogFormat = "json", log_level: str = "DEBUG") -> Iterator[io.StringIO]:
    """Configure logging as a process would, into a buffer; restore everything afterwards."""
    buffer = io.StringIO()
    with preserved_logging():
        configure_logging(log_format=log_format, log_level=log_level, stream=buffer)
        yield buffer


def parse_json_lines(text: str) -> list[dict[str, Any]]:
    """Every line of JSON-formatted log output, parsed (a line that is not JSON fails)."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]

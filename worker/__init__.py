"""The processes: the arq worker and its entry point, the webhook web app, the CLI and the demo.

`arq worker.WorkerSettings` reads the settings from the environment when the attribute is first
looked up, so importing this package has no side effects and bad configuration stops the
process with a message naming the variable.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["WorkerSettings"]


def __getattr__(name: str) -> Any:
    if name != "WorkerSettings":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from jobs.errors import ConfigError
    from settings import load_settings
    from worker.arq_settings import build_worker_settings

    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"persona-worker: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    return build_worker_settings(settings, configure_logs=True)

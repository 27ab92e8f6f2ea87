"""Which event loop a worker process runs on (`WORKER_EVENT_LOOP`).

A worker is CPU-bound on the event loop, redis-py and httpx long before Persona's rate limit
is reached, and uvloop runs the same asyncio code on a faster loop: in the benchmark's
pipeline-throughput scenario it took about a tenth off the CPU time per job. It is installed
with the project on Linux and macOS (uvicorn uses it for the web process too).

- `auto` (default): uvloop when it imports, else the standard loop;
- `uvloop`: uvloop or a start-up error naming the setting, for deployments that count on it;
- `asyncio`: the standard loop, e.g. to rule uvloop out while chasing a problem.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

from jobs.errors import ConfigError

__all__ = ["EventLoopChoice", "loop_factory", "loop_name", "run"]

EventLoopChoice = Literal["auto", "uvloop", "asyncio"]
LoopFactory = Callable[[], asyncio.AbstractEventLoop]
T = TypeVar("T")


def loop_factory(choice: EventLoopChoice) -> LoopFactory | None:
    """The factory of the loop to run on; None means the standard asyncio loop.

    Raises:
        ConfigError: `uvloop` was asked for and cannot be imported.
    """
    if choice == "asyncio":
        return None
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError as exc:
        if choice == "uvloop":
            raise ConfigError(
                "WORKER_EVENT_LOOP: uvloop is not installed; use auto or asyncio"
            ) from exc
        return None
    factory: LoopFactory = uvloop.new_event_loop
    return factory


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """`uvloop` or `asyncio`: which loop runs, for the start-up log line."""
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


def run(main: Coroutine[Any, Any, T], choice: EventLoopChoice) -> T:
    """Run `main` to completion on the chosen loop (what `asyncio.run` does)."""
    with asyncio.Runner(loop_factory=loop_factory(choice)) as runner:
        return runner.run(main)

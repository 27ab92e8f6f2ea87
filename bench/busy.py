"""A process that keeps one core busy for a bounded time: other work on the machine, on purpose.

    python -m bench.busy --seconds 720

It computes in a loop on one thread (one core's worth of CPU) and stops by itself once
`--seconds` have passed or once the process that started it is gone (its parent process
changes), whichever comes first, so it never outlives the run that wanted it. The harness
starts it with `Stack.start_busy` and ends it by its pid (SIGTERM) when the work it stood
beside is done; it opens no socket and touches no file.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Final

__all__ = ["MAX_SECONDS", "READY_LINE", "burn", "main"]

#: The line it prints once it burns (what the harness waits for).
READY_LINE: Final = "burning one core"
#: The longest it may be asked to run.
MAX_SECONDS: Final = 3_600.0
#: How often it looks at the clock and its parent (seconds of burning between looks).
LOOK_EVERY_S: Final = 0.05


def burn(seconds: float, *, parent_alive: Callable[[], bool]) -> int:
    """Compute until `seconds` pass or `parent_alive()` turns false; how many rounds ran."""
    deadline = time.monotonic() + seconds
    rounds = 0
    value = 1
    while True:
        look_at = time.monotonic() + LOOK_EVERY_S
        while time.monotonic() < look_at:
            for _ in range(1_000):
                value = (value * 48_271) % 2_147_483_647
            rounds += 1
        if time.monotonic() >= deadline or not parent_alive():
            return rounds


def _seconds(text: str) -> float:
    value = float(text)
    if not 0 < value <= MAX_SECONDS:
        raise argparse.ArgumentTypeError(f"must be above 0 and at most {MAX_SECONDS:g}")
    return value


def main(argv: Sequence[str] | None = None) -> None:
    """Burn one core for at most `--seconds`, or until the parent process is gone."""
    cli = argparse.ArgumentParser(prog="python -m bench.busy", description=main.__doc__)
    cli.add_argument("--seconds", type=_seconds, required=True, help="the longest it runs")
    args = cli.parse_args(argv)
    parent = os.getppid()
    print(f"{READY_LINE} for at most {args.seconds:g} s (pid {os.getpid()})", flush=True)
    rounds = burn(args.seconds, parent_alive=lambda: os.getppid() == parent)
    print(f"stopped after {rounds} rounds", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()

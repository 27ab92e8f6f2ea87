"""The busy process: it burns a core, stops by its pid, and never outlives its time or parent."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import busy
from bench.processes import child_environment
from bench.stack import Stack
from bench.waiting import until


def _running(pid: int) -> bool:
    """Whether `pid` is a live process (not gone, not a zombie waiting to be reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_burn_computes_until_its_time_is_up() -> None:
    started = time.monotonic()

    rounds = busy.burn(0.2, parent_alive=lambda: True)

    assert time.monotonic() - started >= 0.2
    assert rounds > 0


def test_burn_stops_at_its_first_look_once_the_parent_is_gone() -> None:
    started = time.monotonic()

    busy.burn(busy.MAX_SECONDS, parent_alive=lambda: False)

    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize("seconds", ["0", "-1", "3601", "soon"])
def test_the_command_line_refuses_unbounded_or_empty_runs(seconds: str) -> None:
    with pytest.raises(SystemExit):
        busy.main(["--seconds", seconds])


async def test_it_burns_cpu_until_it_is_stopped_by_its_pid(tmp_path: Path) -> None:
    async with Stack.open(base={}, workdir=tmp_path) as stack:
        child = await stack.start_busy("busy", 60.0)

        burned = await until(
            lambda: child.cpu_seconds() >= 0.3, timeout_s=20.0, what="0.3 s of CPU"
        )
        codes = await stack.stop([child])

    assert burned
    assert codes == [-signal.SIGTERM]
    assert child not in stack.children
    assert not _running(child.pid)


async def test_it_stops_by_itself_when_its_time_is_up(tmp_path: Path) -> None:
    async with Stack.open(base={}, workdir=tmp_path) as stack:
        child = await stack.start_busy("busy", 0.5)

        await until(lambda: not child.alive(), timeout_s=20.0, what="the busy process to end")

    assert child.returncode == 0
    assert "stopped after" in child.output()


#: A parent that starts the busy process, waits until it burns, reports its pid and exits.
PARENT = """
import json, subprocess, sys
child = subprocess.Popen(
    [sys.executable, "-m", "bench.busy", "--seconds", "60"],
    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
)
print(json.dumps({"pid": child.pid, "line": child.stdout.readline()}), flush=True)
"""


async def test_it_stops_by_itself_once_its_parent_is_gone(tmp_path: Path) -> None:
    parent = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", PARENT],
        cwd=tmp_path,
        env=child_environment({}),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    started = json.loads(parent.stdout)
    pid = int(started["pid"])
    try:
        assert started["line"].startswith(busy.READY_LINE)
        await until(lambda: not _running(pid), timeout_s=20.0, what="the orphan to end")
    finally:
        if _running(pid):
            os.kill(pid, signal.SIGKILL)

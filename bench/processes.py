"""Child processes that are started, and ended, only by their own handle.

A `ChildProcess` is one process the harness started: its output goes to a log file (read back
when it fails, so a chatty child can never block on a full pipe) and only this object ever
signals it, by its own pid: SIGTERM with a grace period then SIGKILL, or SIGKILL at once
where a test or the chaos run means to kill. Nothing here looks processes up by name.

Children get an explicit environment: this process's, minus every variable that configures
ours (so a developer's shell cannot leak a setting into a run), plus what the caller gives;
they run in a scratch directory, so no `.env` file in the checkout is read either.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from bench.waiting import until
from settings import Settings

__all__ = [
    "ARQ_WORKER",
    "ROOT",
    "RUN_WORKER",
    "START_TIMEOUT_S",
    "STOP_GRACE_S",
    "Check",
    "ChildProcess",
    "WorkerCommand",
    "child_environment",
    "console_script",
    "ready",
    "settings_env",
]

#: The project's root: on every child's import path, whatever its working directory.
ROOT: Final = Path(__file__).resolve().parents[1]
#: How long a child may take to come up, and to go down after SIGTERM.
START_TIMEOUT_S: Final = 30.0
STOP_GRACE_S: Final = 30.0
#: Variables of ours beyond the settings' names (the sandbox's own, `PERSONA_SANDBOX_*`).
_OUR_PREFIXES: Final = ("PERSONA_",)
_MODULES: Final = {
    "persona-sandbox": "persona_sandbox",
    "persona-worker": "worker.cli",
    "arq": "arq",
    "uvicorn": "uvicorn",
}


def console_script(name: str) -> list[str]:
    """A console script of this virtualenv, else the module behind it, with this interpreter."""
    script = Path(sys.executable).with_name(name)
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", _MODULES[name]]


@dataclass(frozen=True, slots=True)
class WorkerCommand:
    """How a worker process is started, and the line it logs once it serves the queue."""

    argv: tuple[str, ...]
    ready_line: str | None = None
    """Logged by each process when it starts (None: only the queue's health key tells)."""


#: The Procfile's `worker:` command, which rides out Redis restarts.
RUN_WORKER: Final = WorkerCommand((sys.executable, "-m", "worker.run"))
#: arq's own command line, as the README's first deployment shows it.
ARQ_WORKER: Final = WorkerCommand(
    (*console_script("arq"), "worker.WorkerSettings"), ready_line="Starting worker"
)


def settings_env(values: Mapping[str, Any]) -> dict[str, str]:
    """The environment that gives a child process these settings (names in capitals)."""
    env: dict[str, str] = {}
    for name, value in values.items():
        if isinstance(value, tuple | list):
            env[name.upper()] = ",".join(str(item) for item in value)
        elif isinstance(value, bool):
            env[name.upper()] = "true" if value else "false"
        else:
            env[name.upper()] = str(value)
    return env


def child_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without any of our settings, plus `extra`."""
    ours = {name.upper() for name in Settings.model_fields}
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ours and not name.startswith(_OUR_PREFIXES)
    }
    path = [str(ROOT), *filter(None, [env.get("PYTHONPATH")])]
    env["PYTHONPATH"] = os.pathsep.join(path)
    env.update(extra)
    return env


@dataclass
class ChildProcess:
    """One process the harness started; only this object ever signals it."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    started_at: float = field(default_factory=time.monotonic)
    killed: bool = False
    """Whether it was SIGKILLed on purpose."""

    @classmethod
    def spawn(
        cls, name: str, argv: list[str], env: Mapping[str, str], *, workdir: Path
    ) -> ChildProcess:
        """Start `argv` in `workdir` with exactly `env` (see `child_environment`), its stdout
        and stderr in `<workdir>/<name>.log`."""
        log_path = workdir / f"{name}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                argv,
                cwd=workdir,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return cls(name, process, log_path)

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        """The exit status, once it has ended."""
        return self.process.poll()

    def alive(self) -> bool:
        """Whether the child is still running."""
        return self.process.poll() is None

    def rss_bytes(self) -> int:
        """Resident set size now, from /proc (Linux)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError(f"no VmRSS for pid {self.pid}")

    def cpu_seconds(self) -> float:
        """CPU time it has used so far (user and system), from /proc (Linux)."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        # The command name in parentheses may hold spaces; the fields after it do not.
        fields = stat.rsplit(")", 1)[1].split()
        user, system = int(fields[11]), int(fields[12])
        return (user + system) / os.sysconf("SC_CLK_TCK")

    def output(self) -> str:
        """Everything the child wrote so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, size: int = 2_000) -> str:
        """The end of the child's output, for error messages."""
        return self.output()[-size:]

    async def _signal(self, signum: signal.Signals, wait_s: float) -> int:
        if self.alive():
            os.kill(self.pid, signum)
        return await asyncio.to_thread(self.process.wait, wait_s)

    async def kill(self) -> None:
        """SIGKILL this pid on purpose (a chaos kill) and wait until it is gone."""
        self.killed = True
        await self._signal(signal.SIGKILL, STOP_GRACE_S)

    async def stop(self, grace_s: float = STOP_GRACE_S) -> int:
        """SIGTERM this pid, wait up to `grace_s`, then SIGKILL it; its exit status."""
        try:
            return await self._signal(signal.SIGTERM, grace_s)
        except subprocess.TimeoutExpired:
            return await self._signal(signal.SIGKILL, STOP_GRACE_S)


#: A readiness check: true once the child serves.
Check = Callable[[], Awaitable[bool]]


async def ready(child: ChildProcess, check: Check, what: str) -> None:
    """Wait until `check()` comes true while `child` runs, up to `START_TIMEOUT_S`.

    Raises:
        RuntimeError: the child exited first, or was not ready in time (with its output).
    """

    async def up() -> bool:
        if await check():
            return True
        if not child.alive():
            raise RuntimeError(f"{child.name} exited before {what}:\n{child.log_tail()}")
        return False

    try:
        await until(up, timeout_s=START_TIMEOUT_S, what=f"{child.name}: {what}")
    except TimeoutError as exc:
        raise RuntimeError(f"{exc}\n{child.log_tail()}") from None

"""The processes of a chaos run, each started here and ended here by its own handle.

A run needs what production runs, as separate processes on loopback: `redis-server` with AOF
(`appendfsync always`), the Persona sandbox (`persona-sandbox`, injecting faults), the webhook
receiver (the Procfile's `web`, under uvicorn) and several workers (the Procfile's `worker`,
`python -m worker.run`). `Stack` starts them, kills and replaces workers, restarts Redis, and
stops everything it started, by pid, in `close()` (call it from a `finally`). Process output
goes to log files in the run's directory, so a failed run can be read afterwards.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final

import httpx

from bench.chaos.plan import CHAOS_API_KEY, CHAOS_TEMPLATE_ID, CHAOS_WEBHOOK_SECRET, ChaosPlan
from worker.embedded_redis import RedisServer, free_port

__all__ = ["ROOT", "WORKER_COMMAND", "Proc", "Stack", "clean_env"]

ROOT: Final = Path(__file__).resolve().parents[2]
BIN: Final = Path(sys.executable).parent
#: The Procfile's `worker:` command, with this interpreter.
WORKER_COMMAND: Final = (sys.executable, "-m", "worker.run")
_START_TIMEOUT_S: Final = 30.0
_STOP_TIMEOUT_S: Final = 30.0
#: Environment variables of ours that a developer's shell must not leak into a run.
_OURS: Final = ("PERSONA_", "POLL_", "REDIS_", "RESULTS_", "QUEUE_", "WEBHOOK_", "HTTP_", "JOB_")


def clean_env(**values: str) -> dict[str, str]:
    """This process's environment without our settings, plus `values`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(_OURS)}
    env.update(values)
    return env


@dataclass
class Proc:
    """One started process and where its output goes."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    started_at: float = field(default_factory=time.monotonic)
    killed: bool = False
    """Whether the run killed it on purpose (a SIGKILL of the chaos schedule)."""

    @property
    def pid(self) -> int:
        """The process id."""
        return self.popen.pid

    def alive(self) -> bool:
        """Whether it is still running."""
        return self.popen.poll() is None

    def log_tail(self, size: int = 2_000) -> str:
        """The end of its output, for reports of a failed run."""
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return ""
        return data[-size:].decode(errors="replace")


class Stack:
    """Redis, the sandbox, the web receiver and the workers of one run.

    Args:
        plan: the run's shape (faults, sizes, timeouts).
        workdir: where logs go; must exist.
    """

    def __init__(self, plan: ChaosPlan, workdir: Path) -> None:
        self.plan = plan
        self.workdir = workdir
        self.redis = RedisServer(aof=True)
        self.sandbox_url = ""
        self.sandbox_root = ""
        self.web_url = ""
        self.sandbox: Proc | None = None
        self.web: Proc | None = None
        self.workers: list[Proc] = []
        self.retired: list[Proc] = []
        """Workers that were killed or ended; kept for the report."""
        self._logs: list[IO[bytes]] = []
        self._serial = 0

    # --- starting -------------------------------------------------------------------------

    async def start(self) -> None:
        """Start Redis, the sandbox, the web receiver and the workers, in that order."""
        self.redis.start()
        await self._start_sandbox()
        if self.plan.webhooks:
            await self._start_web()
            await self._enable_webhooks()
        for _ in range(self.plan.workers):
            self.start_worker()

    def _spawn(
        self, name: str, argv: list[str], env: dict[str, str], *, stdout: int | IO[bytes]
    ) -> Proc:
        log_path = self.workdir / f"{name}.log"
        log = log_path.open("ab")
        self._logs.append(log)
        popen = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=stdout, stderr=log, stdin=subprocess.DEVNULL
        )
        return Proc(name, popen, log_path)

    async def _start_sandbox(self) -> None:
        plan = self.plan
        argv = [
            str(BIN / "persona-sandbox"),
            "--port",
            "0",
            "--time-scale",
            str(plan.time_scale),
            "--rate-limit",
            str(plan.sandbox_rate_limit_per_minute),
            "--rate-limit-window",
            str(plan.sandbox_rate_window_s),
            "--error-rate",
            str(plan.error_rate),
            "--hang-rate",
            str(plan.hang_rate),
            "--hang-s",
            str(plan.hang_s),
            "--decision-after",
            "30",
            "--review-after",
            "240",
            "--seed",
            str(plan.seed),
        ]
        env = clean_env(PERSONA_SANDBOX_API_KEY=CHAOS_API_KEY)
        self.sandbox = self._spawn("sandbox", argv, env, stdout=subprocess.PIPE)
        stdout = self.sandbox.popen.stdout
        assert stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(stdout.readline), _START_TIMEOUT_S)
        text = line.decode().strip()
        if not text.startswith("persona-sandbox serving "):
            raise RuntimeError(f"persona-sandbox did not start: {text!r}")
        self.sandbox_url = text.split()[-1]
        self.sandbox_root = self.sandbox_url.removesuffix("/api/v1")

    def settings_env(self) -> dict[str, str]:
        """The environment of the web and worker processes: our settings for this run."""
        plan = self.plan
        return clean_env(
            PERSONA_API_KEY=CHAOS_API_KEY,
            PERSONA_API_URL=self.sandbox_url,
            PERSONA_TEMPLATE_ID=CHAOS_TEMPLATE_ID,
            PERSONA_WEBHOOK_SECRETS=CHAOS_WEBHOOK_SECRET,
            REDIS_URL=self.redis.url,
            HTTP_TIMEOUT_S=str(plan.http_timeout_s),
            JOB_TIMEOUT_S=str(plan.job_timeout_s),
            WORKER_MAX_JOBS=str(plan.worker_max_jobs),
            RATE_LIMIT_PER_MINUTE=str(plan.worker_rate_limit_per_minute),
            POLL_MIN_INTERVAL_S="0.5",
            POLL_MAX_INTERVAL_S="2",
            POLL_REVIEW_INTERVAL_S="2",
            # The status-check grid scaled like the intervals (the default is 10 s).
            POLL_ALIGN_S="0.5",
            LOG_LEVEL=plan.log_level,
        )

    async def _start_web(self) -> None:
        port = free_port()
        argv = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "worker.web:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        self.web = self._spawn("web", argv, self.settings_env(), stdout=subprocess.DEVNULL)
        self.web_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + _START_TIMEOUT_S
        async with httpx.AsyncClient(timeout=1.0) as client:
            while time.monotonic() < deadline:
                if not self.web.alive():
                    raise RuntimeError(f"the web process exited: {self.web.log_tail()}")
                try:
                    if (await client.get(f"{self.web_url}/readyz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError("the web process did not become ready")

    async def _enable_webhooks(self) -> None:
        plan = self.plan
        settings = {
            "url": f"{self.web_url}/webhooks/persona",
            "secrets": [CHAOS_WEBHOOK_SECRET],
            "events": ["inquiry.*"],
            "duplicate_rate": plan.webhook_duplicate_rate,
            "reorder_rate": plan.webhook_reorder_rate,
            "reorder_hold_s": 1.0,
            "retry_compression": 3600.0,
            "seed": plan.seed,
        }
        async with httpx.AsyncClient(timeout=10.0) as client:
            response = await client.post(f"{self.sandbox_root}/_sandbox/webhooks", json=settings)
        if response.status_code != 200:
            raise RuntimeError(f"the sandbox refused the webhook settings: {response.text}")

    def start_worker(self) -> Proc:
        """Start one more worker process (the Procfile's command)."""
        self._serial += 1
        proc = self._spawn(
            f"worker-{self._serial}",
            list(WORKER_COMMAND),
            self.settings_env(),
            stdout=subprocess.DEVNULL,
        )
        self.workers.append(proc)
        return proc

    # --- chaos ----------------------------------------------------------------------------

    async def kill_worker(self, proc: Proc) -> None:
        """SIGKILL one of our workers (by its pid) and wait until it is gone."""
        proc.killed = True
        proc.popen.send_signal(signal.SIGKILL)
        await asyncio.to_thread(proc.popen.wait, _STOP_TIMEOUT_S)
        self.workers.remove(proc)
        self.retired.append(proc)

    def reap_exited(self) -> list[Proc]:
        """Workers that ended without being killed; they are replaced by the caller."""
        ended = [proc for proc in self.workers if not proc.alive()]
        for proc in ended:
            self.workers.remove(proc)
            self.retired.append(proc)
        return ended

    async def restart_redis(self) -> float:
        """SIGKILL redis-server and start it again on its port and data; the seconds it was down."""
        started = time.monotonic()
        await asyncio.to_thread(self.redis.stop, kill=True)
        await asyncio.to_thread(self.redis.start)
        return time.monotonic() - started

    # --- stopping -------------------------------------------------------------------------

    async def stop_worker(self, proc: Proc) -> int:
        """SIGTERM one worker and wait for it (SIGKILL after the timeout); its exit status."""
        if proc.alive():
            proc.popen.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.to_thread(proc.popen.wait, _STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.popen.send_signal(signal.SIGKILL)
            code = await asyncio.to_thread(proc.popen.wait, _STOP_TIMEOUT_S)
        if proc in self.workers:
            self.workers.remove(proc)
            self.retired.append(proc)
        return code

    async def close(self) -> None:
        """Stop everything this stack started, by pid, and remove Redis's data."""
        for proc in list(self.workers):
            await self.stop_worker(proc)
        for service in (self.web, self.sandbox):
            if service is None:
                continue
            if service.alive():
                service.popen.send_signal(signal.SIGTERM)
                try:
                    await asyncio.to_thread(service.popen.wait, _STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    service.popen.send_signal(signal.SIGKILL)
                    await asyncio.to_thread(service.popen.wait, _STOP_TIMEOUT_S)
            if service.popen.stdout is not None:
                service.popen.stdout.close()
        await asyncio.to_thread(self.redis.cleanup)
        for log in self._logs:
            log.close()

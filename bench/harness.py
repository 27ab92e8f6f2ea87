"""What every benchmark scenario stands on: a private Redis, the sandbox and worker processes.

Every process the benchmark needs is started here and stopped by the object that started it,
by its own pid (SIGTERM, then SIGKILL after a grace period): the benchmark never touches a
process it did not start, and never the Redis on 6379. Everything listens on 127.0.0.1.

Child processes run in a scratch directory, so a developer's `.env` in the project root does
not leak into them; their settings come from an explicit environment (`settings_env`), the
same values the in-process parts get as `Settings`. Their output goes to log files in that
directory, read back only when a process fails, so a chatty child can never block on a full
pipe.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import httpx
from arq.connections import ArqRedis
from arq.worker import Worker
from redis.asyncio import Redis

from jobs.producer import connect
from settings import Settings, load_settings
from worker.arq_settings import build_worker_settings
from worker.embedded_redis import RedisServer, free_port

__all__ = [
    "API_KEY",
    "TEMPLATE_ID",
    "WEBHOOK_SECRET",
    "ChildProcess",
    "SandboxClock",
    "SandboxProcess",
    "Stack",
    "in_process_worker",
    "settings_env",
]

#: A sandbox-only key: the sandbox accepts any `persona_sandbox_...` key.
API_KEY: Final = "persona_sandbox_bench0local0only"
TEMPLATE_ID: Final = "itmpl_BenchTemplate000000000000"
WEBHOOK_SECRET: Final = "wbhsec_bench0local0only"
#: How long a child may take to come up, and to go down after SIGTERM.
START_TIMEOUT_S: Final = 30.0
STOP_GRACE_S: Final = 10.0
#: The settings every scenario shares; each scenario adds its cadence and limits.
BASE_SETTINGS: Final[Mapping[str, Any]] = {
    "persona_api_key": API_KEY,
    "persona_template_id": TEMPLATE_ID,
    "queue_name": "bench:queue",
    "results_stream": "bench:results",
    "log_level": "WARNING",
    "http_timeout_s": 10.0,
}


def _script(name: str) -> list[str]:
    """A console script of this virtualenv, else the module behind it."""
    script = Path(sys.executable).with_name(name)
    if script.exists():
        return [str(script)]
    modules = {"persona-sandbox": "persona_sandbox", "arq": "arq", "uvicorn": "uvicorn"}
    return [sys.executable, "-m", modules[name]]


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


def _child_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without any of our settings, plus `extra`."""
    ours = {name.upper() for name in Settings.model_fields}
    env = {name: value for name, value in os.environ.items() if name not in ours}
    env.update(extra)
    return env


@dataclass
class ChildProcess:
    """One process the benchmark started; only this object ever signals it."""

    name: str
    process: subprocess.Popen[str]
    log_path: Path

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.process.pid

    def alive(self) -> bool:
        """Whether the child is still running."""
        return self.process.poll() is None

    def rss_bytes(self) -> int:
        """Resident set size now, from /proc (Linux)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError(f"no VmRSS for pid {self.pid}")

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the child's output, for error messages."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM this pid, wait, then SIGKILL it if it is still there."""
        if self.process.poll() is not None:
            return
        os.kill(self.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            os.kill(self.pid, signal.SIGKILL)
            self.process.wait(timeout=STOP_GRACE_S)


@dataclass(frozen=True, slots=True)
class SandboxClock:
    """Maps sandbox timestamps to wall-clock time for a sandbox on a scaled clock.

    The sandbox's clock starts at the wall-clock time it was built and runs `time_scale`
    times faster; one reading of its time next to our own wall clock pins the mapping.
    """

    sandbox_at: datetime
    wall_at: float
    time_scale: float

    def wall(self, moment: datetime) -> float:
        """The wall-clock time (unix seconds) at which the sandbox clock showed `moment`."""
        return self.wall_at + (moment - self.sandbox_at).total_seconds() / self.time_scale


@dataclass
class SandboxProcess:
    """`persona-sandbox` as a process, and a client for its admin routes."""

    child: ChildProcess
    root_url: str
    time_scale: float
    admin: httpx.AsyncClient

    @property
    def api_url(self) -> str:
        """The API base URL the worker is pointed at."""
        return self.root_url + "/api/v1"

    async def counters(self) -> dict[str, Any]:
        """`GET /_sandbox/counters`."""
        response = await self.admin.get("/_sandbox/counters")
        response.raise_for_status()
        counters: dict[str, Any] = response.json()
        return counters

    async def reset(self) -> None:
        """Forget every inquiry, event and counter (webhooks back to the start-up settings)."""
        (await self.admin.post("/_sandbox/reset")).raise_for_status()

    async def configure_webhooks(self, settings: Mapping[str, Any] | None) -> None:
        """Deliver webhooks with these settings, or stop delivering them (None)."""
        if settings is None:
            response = await self.admin.delete("/_sandbox/webhooks")
        else:
            response = await self.admin.post("/_sandbox/webhooks", json=dict(settings))
        response.raise_for_status()

    async def clock(self) -> SandboxClock:
        """Pin sandbox time to wall time: the reading with the shortest round trip wins."""
        best: tuple[float, SandboxClock] | None = None
        for _ in range(5):
            before = time.time()
            response = await self.admin.get("/_sandbox/health")
            after = time.time()
            response.raise_for_status()
            moment = datetime.fromisoformat(response.json()["now"].replace("Z", "+00:00"))
            reading = SandboxClock(moment, (before + after) / 2, self.time_scale)
            if best is None or after - before < best[0]:
                best = (after - before, reading)
        assert best is not None
        return best[1]


@dataclass
class Stack:
    """Every Redis server and child process of one benchmark, and where their logs go.

    Scenarios that run side by side each get a Redis of their own (`start_redis`): the
    pipeline's keys are global to a Redis, so two pipelines on one would share a limiter, an
    in-flight index and a sweep.
    """

    workdir: Path
    redis_servers: list[RedisServer] = field(default_factory=list)
    children: list[ChildProcess] = field(default_factory=list)
    keep_logs: bool = False
    """Keep the children's logs after the stack closes (a scenario failed)."""

    async def start_redis(self) -> str:
        """A new private redis-server on a free loopback port; its URL."""
        server = RedisServer()
        await asyncio.to_thread(server.start)
        self.redis_servers.append(server)
        return server.url

    def settings(self, redis_url: str, **values: Any) -> Settings:
        """Validated settings on `redis_url`: the shared base plus `values`."""
        merged = {**BASE_SETTINGS, "redis_url": redis_url, **values}
        return load_settings(_env_file=None, **merged)

    def env(self, settings: Settings) -> dict[str, str]:
        """The environment that gives a child process exactly these settings."""
        values = settings.model_dump()
        values["persona_api_key"] = settings.persona_api_key.get_secret_value()
        values["persona_webhook_secrets"] = tuple(
            secret.get_secret_value() for secret in settings.persona_webhook_secrets
        )
        values["persona_api_url"] = settings.api_base_url
        values["redis_url"] = str(settings.redis_url)
        return settings_env({name: value for name, value in values.items() if value is not None})

    def spawn(self, name: str, argv: Sequence[str], env: Mapping[str, str]) -> ChildProcess:
        """Start a child with its output in a log file; it is stopped with the stack."""
        log_path = self.workdir / f"{name}.log"
        log = log_path.open("w")
        try:
            process = subprocess.Popen(
                list(argv),
                cwd=self.workdir,
                env=_child_environment(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
            )
        finally:
            log.close()
        child = ChildProcess(name, process, log_path)
        self.children.append(child)
        return child

    async def start_sandbox(self, name: str, *arguments: str, time_scale: float) -> SandboxProcess:
        """`persona-sandbox --port 0 ...`; its first line of output names its URL."""
        argv = [*_script("persona-sandbox"), "--host", "127.0.0.1", "--port", "0"]
        argv += ["--time-scale", str(time_scale), *arguments]
        env = {"PERSONA_SANDBOX_WEBHOOK_SECRETS": WEBHOOK_SECRET}
        child = self.spawn(name, argv, env)
        banner = await self._first_line(child)
        root = banner.rsplit(" ", 1)[-1].removesuffix("/api/v1")
        admin = httpx.AsyncClient(base_url=root, timeout=30.0)
        sandbox = SandboxProcess(child, root, time_scale, admin)
        await _until(_answers(admin, "/_sandbox/health"), child)
        return sandbox

    async def _first_line(self, child: ChildProcess) -> str:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            text = child.log_path.read_text(errors="replace")
            for line in text.splitlines():
                if line.startswith("persona-sandbox serving "):
                    return line.strip()
            if not child.alive():
                break
            await asyncio.sleep(0.05)
        raise RuntimeError(f"{child.name} did not start:\n{child.log_tail()}")

    async def start_web(self, name: str, settings: Settings) -> tuple[str, ChildProcess]:
        """The webhook receiver (`uvicorn --factory worker.web:create_app`) and its root URL."""
        port = free_port()
        argv = [*_script("uvicorn"), "--factory", "worker.web:create_app"]
        argv += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
        argv += ["--no-access-log"]
        child = self.spawn(name, argv, self.env(settings))
        root = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=root, timeout=5.0) as client:
            await _until(_answers(client, "/readyz"), child)
        return root, child

    async def start_workers(self, name: str, settings: Settings, count: int) -> list[ChildProcess]:
        """`arq worker.WorkerSettings` processes configured by environment; ready when each
        has logged that it started (arq does so before `on_startup`, which takes moments)."""
        children = [
            self.spawn(
                f"{name}-{index}", [*_script("arq"), "worker.WorkerSettings"], self.env(settings)
            )
            for index in range(count)
        ]
        redis: Redis = Redis.from_url(str(settings.redis_url))
        try:
            for child in children:
                await _until(_logged(child, "Starting worker"), child)
            # arq writes its health key from its first queue read, after on_startup.
            await _until(_exists(redis, settings.queue_name + ":health-check"), children[0])
        finally:
            await redis.aclose()
        return children

    def stop(self, children: Sequence[ChildProcess]) -> None:
        """Stop some of the stack's children (each by its own pid)."""
        for child in children:
            child.stop()
            if child in self.children:
                self.children.remove(child)

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls) -> AsyncIterator[Stack]:
        """A scratch directory; every child and Redis started through the stack stops on exit.

        The directory (the children's logs) is removed after a clean run and kept, with its
        path printed, after a failure, when the logs are what explains it.
        """
        stack = cls(Path(tempfile.mkdtemp(prefix="persona-bench-")))
        clean = False
        try:
            yield stack
            clean = True
        finally:
            for child in reversed(stack.children):
                child.stop()
            stack.children.clear()
            for server in stack.redis_servers:
                await asyncio.to_thread(server.cleanup)
            stack.redis_servers.clear()
            if clean and not stack.keep_logs:
                shutil.rmtree(stack.workdir, ignore_errors=True)
            else:
                print(f"logs of the benchmark's processes: {stack.workdir}", file=sys.stderr)


Check = Callable[[], Awaitable[bool]]


def _answers(client: httpx.AsyncClient, path: str) -> Check:
    async def check() -> bool:
        try:
            return (await client.get(path)).status_code == 200
        except httpx.HTTPError:
            return False

    return check


def _logged(child: ChildProcess, text: str) -> Check:
    async def check() -> bool:
        return text in child.log_path.read_text(errors="replace")

    return check


def _exists(redis: Redis, key: str) -> Check:
    async def check() -> bool:
        return bool(await redis.exists(key))

    return check


async def _until(check: Check, child: ChildProcess) -> None:
    """Wait for `check()` to come true while `child` runs, up to the start timeout."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if await check():
            return
        if not child.alive():
            raise RuntimeError(f"{child.name} exited:\n{child.log_tail()}")
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{child.name} was not ready in {START_TIMEOUT_S:.0f}s:\n{child.log_tail()}")


def in_process_worker(settings: Settings, **overrides: Any) -> Worker:
    """An arq `Worker` with the production settings for `settings`, built in this process."""
    options: dict[str, Any] = {"handle_signals": False, "job_completion_wait": 0}
    options.update(overrides)
    worker_settings = build_worker_settings(settings, **options)
    return Worker(**{k: v for k, v in vars(worker_settings).items() if not k.startswith("_")})


@contextlib.asynccontextmanager
async def pools(settings: Settings) -> AsyncIterator[tuple[ArqRedis, Redis]]:
    """An arq pool for enqueueing and a decoding client for reading, both on the stack's Redis."""
    pool = await connect(str(settings.redis_url), queue_name=settings.queue_name)
    redis: Redis = Redis.from_url(str(settings.redis_url), decode_responses=True)
    try:
        yield pool, redis
    finally:
        await pool.aclose()
        await redis.aclose()

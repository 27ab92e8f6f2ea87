"""The processes of a run: private Redis servers, the sandbox, the web receiver and workers.

One harness for everything that runs the deployed shape as real processes: the benchmark's
scenarios, the chaos run, and the tests that start processes. A `Stack` starts each piece on a
free loopback port, waits until it is ready (the sandbox's banner and health route, the web
app's `/readyz`, a worker's start line and arq's health key), and stops what it started, by
pid, when it closes (`Stack.open` closes it on the way out, also after an error or Ctrl-C). It
never touches a process it did not start, nor the Redis on 6379. A busy process
(`bench.busy`) stands in for other work on the machine where a run measures beside it.

Processes are configured the way they are in production, by environment: `settings()` builds
validated `Settings` from the stack's base values plus the caller's, and the same values reach
a child through `env()`. Scenarios that run side by side each take a `scope()`: a Redis of their
own (two pipelines on one Redis under the same `KEY_PREFIX` would share a limiter, a request
ledger, a polling tick and a sweep) and processes that stop when the scope ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis

from bench import busy
from bench.processes import (
    ARQ_WORKER,
    RUN_WORKER,
    Check,
    ChildProcess,
    WorkerCommand,
    child_environment,
    console_script,
    ready,
    settings_env,
)
from bench.sandbox import BANNER, SandboxProcess
from settings import Settings, load_settings
from worker.embedded_redis import RedisServer, free_port

__all__ = ["Stack"]


class Stack:
    """Every Redis server and child process of one run (or one scope of it), and their logs.

    Args:
        workdir: where the children run and write their logs (`<name>.log`).
        base: the settings every process of the run shares (keys, queue, stream, log level).
        sandbox_env: environment of the sandbox processes (`PERSONA_SANDBOX_*`).
    """

    def __init__(
        self,
        workdir: Path,
        *,
        base: Mapping[str, Any],
        sandbox_env: Mapping[str, str] | None = None,
        names: Counter[str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.base = dict(base)
        self.sandbox_env = dict(sandbox_env or {})
        self.redis_servers: list[RedisServer] = []
        self.children: list[ChildProcess] = []
        self.keep_logs = False
        """Keep the children's logs after the stack closes (a scenario failed)."""
        self._names = names if names is not None else Counter()
        self._clients: list[httpx.AsyncClient] = []

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls,
        *,
        base: Mapping[str, Any],
        workdir: Path | None = None,
        sandbox_env: Mapping[str, str] | None = None,
    ) -> AsyncIterator[Stack]:
        """A stack whose every process and Redis stops on exit.

        Without `workdir` the children's logs go to a scratch directory, removed after a clean
        run and kept, with its path printed, after a failure, when the logs are what explains
        it. A given `workdir` is the caller's and is left in place.
        """
        scratch = workdir is None
        directory = Path(tempfile.mkdtemp(prefix="persona-stack-")) if scratch else workdir
        assert directory is not None
        stack = cls(directory, base=base, sandbox_env=sandbox_env)
        clean = False
        try:
            yield stack
            clean = True
        finally:
            await stack.close()
            if scratch and clean and not stack.keep_logs:
                shutil.rmtree(directory, ignore_errors=True)
            elif scratch:
                print(f"logs of the processes: {directory}", file=sys.stderr)

    @contextlib.asynccontextmanager
    async def scope(self) -> AsyncIterator[Stack]:
        """A part of this stack (same directory, base and names) that stops what it started
        on exit: one scenario's Redis and processes, while the others go on."""
        part = Stack(self.workdir, base=self.base, sandbox_env=self.sandbox_env, names=self._names)
        try:
            yield part
        finally:
            await part.close()

    async def close(self) -> None:
        """Stop every child (newest first, each by its pid) and every Redis server."""
        await self.stop(list(reversed(self.children)))
        for client in self._clients:
            await client.aclose()
        self._clients.clear()
        for server in self.redis_servers:
            await asyncio.to_thread(server.cleanup)
        self.redis_servers.clear()

    # --- Redis ------------------------------------------------------------------------------

    async def start_redis(self, *, aof: bool = False) -> RedisServer:
        """A new private redis-server on a free loopback port (with AOF, `appendfsync always`,
        when it is to be restarted without losing what it acknowledged)."""
        server = RedisServer(aof=aof)
        await asyncio.to_thread(server.start)
        self.redis_servers.append(server)
        return server

    @staticmethod
    async def restart_redis(server: RedisServer) -> float:
        """SIGKILL a redis-server and start it again on its port and data; seconds it was down."""
        started = time.monotonic()
        await asyncio.to_thread(server.stop, kill=True)
        await asyncio.to_thread(server.start)
        return time.monotonic() - started

    # --- settings -----------------------------------------------------------------------------

    def settings(self, redis_url: str, **values: Any) -> Settings:
        """Validated settings on `redis_url`: the stack's base plus `values`."""
        merged = {**self.base, "redis_url": redis_url, **values}
        return load_settings(_env_file=None, **merged)

    @staticmethod
    def env(settings: Settings) -> dict[str, str]:
        """The environment that gives a child process exactly these settings."""
        values = settings.model_dump()
        values["persona_api_key"] = settings.persona_api_key.get_secret_value()
        values["persona_webhook_secrets"] = tuple(
            secret.get_secret_value() for secret in settings.persona_webhook_secrets
        )
        values["persona_api_url"] = settings.api_base_url
        values["redis_url"] = str(settings.redis_url)
        return settings_env({name: value for name, value in values.items() if value is not None})

    # --- processes ----------------------------------------------------------------------------

    def spawn(self, name: str, argv: Sequence[str], env: Mapping[str, str]) -> ChildProcess:
        """Start a child (output in `<name>.log`, a new name if taken); it stops with the stack."""
        self._names[name] += 1
        if self._names[name] > 1:
            name = f"{name}-{self._names[name]}"
        child = ChildProcess.spawn(name, list(argv), child_environment(env), workdir=self.workdir)
        self.children.append(child)
        return child

    async def start_sandbox(self, name: str, *arguments: str, time_scale: float) -> SandboxProcess:
        """`persona-sandbox --port 0 ...`; its first line of output names its URL."""
        argv = [*console_script("persona-sandbox"), "--host", "127.0.0.1", "--port", "0"]
        argv += ["--time-scale", str(time_scale), *arguments]
        child = self.spawn(name, argv, self.sandbox_env)
        banner: list[str] = []

        async def announced() -> bool:
            banner[:] = [line for line in child.output().splitlines() if line.startswith(BANNER)]
            return bool(banner)

        await ready(child, announced, "its banner")
        root = banner[0].strip().rsplit(" ", 1)[-1].removesuffix("/api/v1")
        admin = httpx.AsyncClient(base_url=root, timeout=30.0)
        self._clients.append(admin)
        await ready(child, _answers(admin, "/_sandbox/health"), "/_sandbox/health")
        return SandboxProcess(child, root, time_scale, admin)

    async def start_web(self, name: str, settings: Settings) -> tuple[str, ChildProcess]:
        """The webhook receiver (`uvicorn --factory worker.web:create_app`) and its root URL."""
        port = free_port()
        argv = [*console_script("uvicorn"), "--factory", "worker.web:create_app"]
        argv += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
        argv += ["--no-access-log"]
        child = self.spawn(name, argv, self.env(settings))
        root = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=root, timeout=5.0) as client:
            await ready(child, _answers(client, "/readyz"), "/readyz")
        return root, child

    async def start_busy(self, name: str, seconds: float) -> ChildProcess:
        """A process that keeps one core busy (`bench.busy`) until it is stopped, `seconds`
        pass or this process is gone; ready once it burns."""
        argv = [sys.executable, "-m", "bench.busy", "--seconds", f"{seconds:g}"]
        child = self.spawn(name, argv, {})
        await ready(child, _logged(child, busy.READY_LINE), "its start line")
        return child

    def spawn_worker(
        self, settings: Settings, *, name: str = "worker", command: WorkerCommand = RUN_WORKER
    ) -> ChildProcess:
        """Start one worker process and go on at once (it serves the queue once it is up)."""
        return self.spawn(name, command.argv, self.env(settings))

    async def start_workers(
        self, name: str, settings: Settings, count: int, *, command: WorkerCommand = ARQ_WORKER
    ) -> list[ChildProcess]:
        """`count` worker processes, ready once each has logged its start (when the command
        logs one) and arq's health key exists: arq writes it on its first queue read, after
        `on_startup`."""
        children = [self.spawn_worker(settings, name=name, command=command) for _ in range(count)]
        redis: Redis = Redis.from_url(str(settings.redis_url))
        try:
            if command.ready_line is not None:
                for child in children:
                    await ready(child, _logged(child, command.ready_line), "its start line")
            health = _exists(redis, settings.queue_name + ":health-check")
            await ready(children[0], health, "arq's health key")
        finally:
            await redis.aclose()
        return children

    async def stop(self, children: Sequence[ChildProcess]) -> list[int]:
        """Stop some of the stack's children, each by its own pid; their exit statuses."""
        codes = []
        for child in children:
            codes.append(await child.stop())
            if child in self.children:
                self.children.remove(child)
        return codes


def _answers(client: httpx.AsyncClient, path: str) -> Check:
    async def check() -> bool:
        try:
            return (await client.get(path)).status_code == 200
        except httpx.HTTPError:
            return False

    return check


def _logged(child: ChildProcess, text: str) -> Check:
    async def check() -> bool:
        return text in child.output()

    return check


def _exists(redis: Redis, key: str) -> Check:
    async def check() -> bool:
        return bool(await redis.exists(key))

    return check

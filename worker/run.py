"""`python -m worker.run`: the worker process the Procfile runs; it rides out Redis restarts.

arq's own worker (`arq worker.WorkerSettings`) leaves its poll loop, and with it the process,
at the first Redis connection error (arq #435, #498): a Redis restart or failover would take
every worker down and leave the restart to the platform. This module runs the same arq worker
(the same `worker.WorkerSettings`: jobs, settings, cron sweep) under a small supervisor loop:

- At start it waits up to `--startup-wait` seconds for Redis to answer. A Redis that never
  answers is most likely a wrong `REDIS_URL`, so the process then exits with status 3 and a
  message naming the variable (and never the URL's password).
- When the running arq worker loses Redis, its jobs in flight get the shutdown grace
  (`job_completion_wait`) to finish, which is usually enough for a restart to be over; the
  rest are cancelled. arq re-runs a cancelled job at once when Redis hears about it, and
  otherwise after its in-progress key expires (`JOB_TIMEOUT_S` + 10 s), like a killed
  worker's. A fresh arq worker starts once Redis answers again, after a capped, jittered
  backoff (`BACKOFF_FIRST_S` doubling up to `BACKOFF_CAP_S`), forever: an outage of any
  length ends with the workers back, without a crash loop in the supervisor's log.
- SIGTERM and SIGINT stop it the arq way: no new jobs, running jobs get `job_completion_wait`
  to finish, the rest are cancelled and go back to the queue for the next worker.

A Redis that may evict keys (`jobs.state.eviction`) stops it at start with status 2 and a
message naming the fix, like bad configuration.

Any other error leaves the process with a traceback, as under `arq`: that is a bug, and the
platform's restart policy (with its own backoff) is the right answer to it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import signal
import sys
from collections.abc import Sequence
from typing import Final

from arq.worker import Worker
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.exceptions import WatchError

from jobs.errors import ConfigError
from jobs.state.connections import RedisTimeouts, redis_client
from settings import Settings, load_settings
from worker.arq_settings import build_worker_settings
from worker.arq_worker import create_worker
from worker.event_loop import loop_factory, loop_name
from worker.logs import configure_logging

__all__ = [
    "BACKOFF_CAP_S",
    "BACKOFF_FIRST_S",
    "REDIS_LOST",
    "STARTUP_WAIT_S",
    "Supervisor",
    "main",
    "redis_location",
]

logger = logging.getLogger(__name__)

#: How long a starting process waits for Redis before it blames `REDIS_URL`.
STARTUP_WAIT_S: Final = 10.0
#: First pause after Redis went away; it doubles per consecutive loss, with full jitter.
BACKOFF_FIRST_S: Final = 0.2
#: Longest pause between two attempts: a worker is back within this long of Redis.
BACKOFF_CAP_S: Final = 5.0
#: An arq worker that ran this long before losing Redis starts the backoff from the beginning.
HEALTHY_RUN_S: Final = 60.0
#: The PINGs that wait for Redis: short, so a signal or the next attempt is never held up.
_PROBE: Final = RedisTimeouts(
    socket_timeout_s=2.0, connect_timeout_s=1.0, health_check_interval_s=0
)
#: Exit status when Redis never answered at start-up.
EXIT_NO_REDIS: Final = 3
#: Exit status for bad configuration (the same as `arq worker.WorkerSettings`).
EXIT_CONFIG: Final = 2
#: What arq's poll loop (and a job's finish) raises when Redis goes away or restarts. redis-py
#: turns a connection lost during a WATCH (arq's job claim) into a `WatchError`; arq catches
#: those only where a transaction executes, so a lost claim escapes its loop as one.
REDIS_LOST: Final = (RedisConnectionError, RedisTimeoutError, WatchError, OSError)


def redis_location(settings: Settings) -> str:
    """`host:port/db` of `REDIS_URL`, without the user name or password it may carry."""
    url = settings.redis_url
    return f"{url.host}:{url.port or 6379}{url.path or '/0'}"


def _backoff_s(attempt: int, rng: random.Random, cap_s: float) -> float:
    """Full jitter: a uniform pause up to `BACKOFF_FIRST_S * 2**attempt`, at most `cap_s`."""
    return rng.uniform(0, min(cap_s, BACKOFF_FIRST_S * 2 ** min(attempt, 30)))


class Supervisor:
    """Runs arq workers one after the other until a signal stops it.

    Args:
        settings: the process settings (Redis URL, shutdown grace).
        worker_settings: the arq settings class; defaults to `build_worker_settings(settings)`
            with logging taken over, as `arq worker.WorkerSettings` would run it.
        startup_wait_s: how long to wait for Redis before giving up at start.
        backoff_cap_s: longest pause between two attempts once running.
        rng: the jitter source (tests pass a seeded one).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        worker_settings: type | None = None,
        startup_wait_s: float = STARTUP_WAIT_S,
        backoff_cap_s: float = BACKOFF_CAP_S,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.worker_settings = worker_settings or build_worker_settings(
            settings, configure_logs=True
        )
        self.startup_wait_s = startup_wait_s
        self.backoff_cap_s = backoff_cap_s
        self.rng = rng or random.Random()
        self.stopping = asyncio.Event()
        self.worker: Worker | None = None
        self.restarts = 0
        """How many times a fresh arq worker replaced one that lost Redis."""

    @property
    def grace_s(self) -> float:
        """How long running jobs may take to finish when a worker stops."""
        return float(getattr(self.worker_settings, "job_completion_wait", 0) or 0)

    def stop(self, signum: int = signal.SIGTERM) -> None:
        """Stop the arq way: no new jobs; running ones get the grace, then are cancelled."""
        if self.stopping.is_set():
            return
        self.stopping.set()
        if self.worker is not None:
            self.worker.handle_sig_wait_for_completion(signal.Signals(signum))

    async def run(self) -> int:
        """Supervise until stopped; the process exit status."""
        if not await self._wait_for_redis(self.startup_wait_s):
            if self.stopping.is_set():
                return 0
            print(
                f"persona-worker: REDIS_URL: no Redis answered at "
                f"{redis_location(self.settings)} within {self.startup_wait_s:g} s",
                file=sys.stderr,
            )
            return EXIT_NO_REDIS
        loop = asyncio.get_running_loop()
        attempt = 0
        while not self.stopping.is_set():
            worker = create_worker(self.worker_settings, handle_signals=False)
            self.worker = worker
            started = loop.time()
            try:
                lost = await self._run_one(worker)
            finally:
                self.worker = None
            if not lost:
                break
            self.restarts += 1
            attempt = 0 if loop.time() - started >= HEALTHY_RUN_S else attempt + 1
            pause = _backoff_s(attempt, self.rng, self.backoff_cap_s)
            logger.warning("lost Redis; a fresh worker starts once it answers (%.1fs)", pause)
            await self._pause(pause)
            await self._wait_for_redis(None)
        return 0

    async def _run_one(self, worker: Worker) -> bool:
        """Run one arq worker until it ends; True when it ended because Redis went away."""
        # arq's signal handling cancels `main_task`, so the worker must own it.
        worker.main_task = asyncio.ensure_future(worker.main())
        try:
            await worker.main_task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                await self._close(worker, grace_s=0)
                raise
            await self._close(worker, grace_s=self.grace_s)
            return False
        except ConfigError:
            # Refused at start-up (a Redis that may evict keys): release what arq opened.
            await self._close(worker, grace_s=0)
            raise
        except REDIS_LOST as exc:
            logger.warning("the arq worker lost Redis: %s", type(exc).__name__)
            await self._close(worker, grace_s=self.grace_s)
            return not self.stopping.is_set()
        await self._close(worker, grace_s=self.grace_s)
        return False

    async def _close(self, worker: Worker, *, grace_s: float) -> None:
        """Let running jobs finish within the grace, cancel the rest, release everything.

        Unlike `Worker.close`, this survives a Redis that is gone: every step is bounded and
        none of their errors stops the next.
        """
        tasks = list(worker.tasks.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace_s)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=max(grace_s, 5.0))
        for task in tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                logger.debug("a job task ended with %r", task.exception())
        pool = worker._pool
        if pool is not None:
            with contextlib.suppress(*REDIS_LOST):
                await asyncio.wait_for(pool.delete(worker.health_check_key), 2.0)
        if worker.on_shutdown is not None:
            try:
                await worker.on_shutdown(worker.ctx)
            except Exception:
                logger.exception("the worker's shutdown hook failed")
        if pool is not None:
            with contextlib.suppress(*REDIS_LOST):
                await pool.aclose(close_connection_pool=True)
        worker._pool = None

    async def _pause(self, seconds: float) -> None:
        """Wait `seconds`, or less when a signal arrives."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)

    async def _wait_for_redis(self, limit_s: float | None) -> bool:
        """Wait until Redis answers PING (True), `limit_s` passes or a signal arrives."""
        loop = asyncio.get_running_loop()
        deadline = None if limit_s is None else loop.time() + limit_s
        attempt = 0
        client = redis_client(str(self.settings.redis_url), _PROBE, decode_responses=False)
        try:
            while not self.stopping.is_set():
                try:
                    if await client.ping():
                        return True
                except REDIS_LOST:
                    pass
                pause = _backoff_s(attempt, self.rng, self.backoff_cap_s)
                attempt += 1
                if deadline is not None:
                    left = deadline - loop.time()
                    if left <= 0:
                        return False
                    pause = min(pause, left)
                await self._pause(pause)
            return False
        finally:
            with contextlib.suppress(*REDIS_LOST):
                await client.aclose()


async def _supervise(settings: Settings, startup_wait_s: float) -> int:
    supervisor = Supervisor(settings, startup_wait_s=startup_wait_s)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, supervisor.stop, signum)
    logger.info("worker supervisor running on the %s event loop", loop_name(loop))
    return await supervisor.run()


def _parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(prog="python -m worker.run", description=__doc__.split("\n")[0])
    cli.add_argument(
        "--startup-wait",
        type=float,
        default=STARTUP_WAIT_S,
        help=f"seconds to wait for Redis at start (default {STARTUP_WAIT_S:g})",
    )
    return cli


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: read the settings, then supervise arq workers until a signal."""
    options = _parser().parse_args(argv)
    try:
        settings = load_settings()
        factory = loop_factory(settings.worker_event_loop)
    except ConfigError as exc:
        print(f"persona-worker: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(settings)
    with asyncio.Runner(loop_factory=factory) as runner:
        try:
            return runner.run(_supervise(settings, options.startup_wait))
        except ConfigError as exc:
            print(f"persona-worker: {exc}", file=sys.stderr)
            return EXIT_CONFIG


if __name__ == "__main__":
    raise SystemExit(main())

"""The processes of a chaos run, on the shared harness (`bench.stack.Stack`).

A run needs what production runs, as separate processes on loopback: `redis-server` with AOF
(`appendfsync always`), the Persona sandbox (`persona-sandbox`, injecting faults), the webhook
receiver (the Procfile's `web`, under uvicorn) and several workers (the Procfile's `worker`,
`python -m worker.run`). `ChaosStack` turns the plan into those processes and keeps the worker
pool: it kills and replaces workers, restarts Redis, and keeps every retired worker for the
report. Everything is stopped, by pid, when the stack closes (`ChaosStack.open`). Process
output goes to log files in the run's directory, so a failed run can be read afterwards.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

from bench.chaos.plan import CHAOS_API_KEY, CHAOS_TEMPLATE_ID, CHAOS_WEBHOOK_SECRET, ChaosPlan
from bench.processes import RUN_WORKER, ChildProcess
from bench.sandbox import SandboxProcess
from bench.stack import Stack
from settings import Settings
from worker.embedded_redis import RedisServer

__all__ = ["WORKER_COMMAND", "ChaosStack"]

#: The Procfile's `worker:` command, with this interpreter.
WORKER_COMMAND: Final = RUN_WORKER.argv


class ChaosStack:
    """Redis, the sandbox, the web receiver and the workers of one run."""

    def __init__(self, plan: ChaosPlan, stack: Stack) -> None:
        self.plan = plan
        self.stack = stack
        self.workers: list[ChildProcess] = []
        self.retired: list[ChildProcess] = []
        """Workers that were killed or ended; kept for the report."""
        self.redis: RedisServer | None = None
        self.sandbox: SandboxProcess | None = None
        self._settings: Settings | None = None

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, plan: ChaosPlan, workdir: Path) -> AsyncIterator[ChaosStack]:
        """The run's processes, started in order; all stopped on exit, logs kept in `workdir`."""
        base = {
            "persona_api_key": CHAOS_API_KEY,
            "persona_template_id": CHAOS_TEMPLATE_ID,
            "persona_webhook_secrets": CHAOS_WEBHOOK_SECRET,
        }
        sandbox_env = {"PERSONA_SANDBOX_API_KEY": CHAOS_API_KEY}
        async with Stack.open(base=base, workdir=workdir, sandbox_env=sandbox_env) as stack:
            chaos = cls(plan, stack)
            await chaos._start()
            yield chaos

    @property
    def redis_url(self) -> str:
        """The run's Redis."""
        assert self.redis is not None
        return self.redis.url

    @property
    def sandbox_url(self) -> str:
        """The sandbox's API base URL."""
        assert self.sandbox is not None
        return self.sandbox.api_url

    async def _start(self) -> None:
        plan = self.plan
        self.redis = await self.stack.start_redis(aof=True)
        self.sandbox = await self.stack.start_sandbox(
            "sandbox",
            *("--rate-limit", str(plan.sandbox_rate_limit_per_minute)),
            *("--rate-limit-window", str(plan.sandbox_rate_window_s)),
            *("--error-rate", str(plan.error_rate), "--hang-rate", str(plan.hang_rate)),
            *("--hang-s", str(plan.hang_s), "--decision-after", "30", "--review-after", "240"),
            *("--seed", str(plan.seed)),
            time_scale=plan.time_scale,
        )
        self._settings = self.stack.settings(
            self.redis.url,
            persona_api_url=self.sandbox.api_url,
            http_timeout_s=plan.http_timeout_s,
            job_timeout_s=plan.job_timeout_s,
            worker_max_jobs=plan.worker_max_jobs,
            rate_limit_per_minute=plan.worker_rate_limit_per_minute,
            poll_min_interval_s=0.5,
            poll_max_interval_s=2.0,
            poll_review_interval_s=2.0,
            # The polling tick scaled like the intervals (the default is 10 s for a 5 s minimum).
            poll_tick_s=0.25,
            # The webhook cadence's safety net scaled the same way (the default is 600 s). The
            # sandbox's people act without waiting for their link, so some decide before their
            # create job follows the inquiry: their webhooks find nobody following, and the
            # safety net is what checks them next.
            poll_safety_net_s=60.0,
            log_level=plan.log_level,
        )
        if plan.webhooks:
            await self._deliver_webhooks(self._settings)
        for _ in range(plan.workers):
            self.start_worker()

    async def _deliver_webhooks(self, settings: Settings) -> None:
        assert self.sandbox is not None
        web_url, _ = await self.stack.start_web("web", settings)
        plan = self.plan
        await self.sandbox.configure_webhooks(
            {
                "url": f"{web_url}/webhooks/persona",
                "secrets": [CHAOS_WEBHOOK_SECRET],
                "events": ["inquiry.*"],
                "duplicate_rate": plan.webhook_duplicate_rate,
                "reorder_rate": plan.webhook_reorder_rate,
                "reorder_hold_s": 1.0,
                "retry_compression": 3600.0,
                "seed": plan.seed,
            }
        )

    def start_worker(self) -> ChildProcess:
        """Start one more worker process (the Procfile's command); it serves once it is up."""
        assert self._settings is not None
        number = self.started() + 1
        settings = self._settings
        if self.plan.trickle_every and number % self.plan.trickle_every == 0:
            # This worker's held answers trickle in past its jobs' time (`ChaosPlan`).
            settings = settings.model_copy(
                update={"http_timeout_s": self.plan.trickle_http_timeout_s}
            )
        worker = self.stack.spawn_worker(settings, name=f"worker-{number}")
        self.workers.append(worker)
        return worker

    def started(self) -> int:
        """Worker processes started so far."""
        return len(self.workers) + len(self.retired)

    # --- chaos ----------------------------------------------------------------------------

    async def kill_worker(self, worker: ChildProcess) -> None:
        """SIGKILL one of our workers (by its pid) and wait until it is gone.

        It leaves the pool before the signal, so the watcher, which replaces workers that end
        on their own, never mistakes it for one while it dies."""
        self._retire(worker)
        await worker.kill()

    def reap_exited(self) -> list[ChildProcess]:
        """Workers that ended without being killed; they are replaced by the caller."""
        ended = [worker for worker in self.workers if not worker.alive()]
        for worker in ended:
            self._retire(worker)
        return ended

    async def restart_redis(self) -> float:
        """SIGKILL redis-server and start it again on its port and data; the seconds it was down."""
        assert self.redis is not None
        return await self.stack.restart_redis(self.redis)

    # --- stopping -------------------------------------------------------------------------

    async def stop_workers(self) -> list[int]:
        """SIGTERM every worker and wait for each (SIGKILL after the grace); exit statuses."""
        workers, self.workers = self.workers, []
        self.retired += workers
        return await self.stack.stop(workers)

    def _retire(self, worker: ChildProcess) -> None:
        if worker in self.workers:
            self.workers.remove(worker)
            self.retired.append(worker)

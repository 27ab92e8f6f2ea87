"""arq wiring: which functions run, on which queue, with which limits, and why.

`arq worker.WorkerSettings` builds these settings from the environment. arq reads only the
class's own `__dict__` (no inheritance), so `build_worker_settings` returns a fresh flat class.
"""

from __future__ import annotations

from typing import Any

from arq import cron, func

from jobs.actions.account_relations import account_relations
from jobs.actions.decide_inquiry import decide_inquiry
from jobs.actions.redact_inquiry import redact_inquiry
from jobs.actions.refresh_link import refresh_link
from jobs.actions.set_case_status import set_case_status
from jobs.contract import (
    ACCOUNT_RELATIONS,
    CREATE_INQUIRY,
    DECIDE_INQUIRY,
    FETCH_VERIFICATION,
    POLL_INQUIRY,
    REDACT_INQUIRY,
    REFRESH_LINK,
    RUN_REPORT,
    SET_CASE_STATUS,
    UNREADABLE_JOB,
    json_deserializer,
    json_serializer,
)
from jobs.pipeline.create_inquiry import create_inquiry
from jobs.pipeline.fetch_verification import fetch_verification
from jobs.pipeline.poll_inquiry import poll_inquiry
from jobs.pipeline.poll_tick import poll_tick
from jobs.pipeline.requests import as_worker_coroutine
from jobs.pipeline.sweep import SWEEP_INTERVAL_S, sweep
from jobs.pipeline.unreadable import unreadable_job
from jobs.reports.run_report import run_report
from jobs.reports.tick import report_tick
from jobs.state.connections import RedisTimeouts, arq_pool, arq_redis_settings
from jobs.state.keys import CRON_JOBS, KeySpace
from settings import Settings
from worker.instrument import instrument_settings
from worker.interval_cron import interval_cron
from worker.lifecycle import CONFIGURE_LOGS_KEY, SETTINGS_KEY, shutdown, startup
from worker.redis_retry import retry_on_redis_errors

__all__ = ["build_worker_settings"]

POLL_TICK_CRON, SWEEP_CRON, REPORT_TICK_CRON = CRON_JOBS

#: arq's `max_tries` for every request job and the fetch: they count their own failures and end
#: by their own deadline (`jobs.state.attempts`). arq counts every pickup, waits for a
#: rate-limit window and re-runs after a Redis error or a job's own deadline included, and ends
#: a job past its `max_tries` without an event: so it must never be what ends one of these.
UNBOUNDED_TRIES = 1_000_000
#: How long a create job's result (inquiry id, one-time link) stays readable by its producer.
CREATE_RESULT_TTL_S = 86_400
#: How long an action job's result (its event data, e.g. a refreshed link) stays readable.
ACTION_RESULT_TTL_S = 86_400


def build_worker_settings(
    settings: Settings, *, configure_logs: bool = False, **overrides: Any
) -> type:
    """The arq `WorkerSettings` class for these settings (overrides win, e.g. `burst=True`).

    Every job is wrapped by `worker.instrument` (log context and metrics; names unchanged).
    `configure_logs` makes on_startup take over the process's logging: for the `arq` CLI,
    which owns its process, not for the demo or tests, which run a worker inside theirs.
    """
    timeout = settings.job_timeout_s
    keys = KeySpace(settings.key_prefix)
    url, redis_timeouts = str(settings.redis_url), RedisTimeouts.from_settings(settings)
    attributes: dict[str, Any] = {
        "functions": [
            # Request jobs (`jobs.pipeline.requests`): each stops itself inside `timeout` and
            # runs again, answers its request once, and ends by its own deadline.
            *(
                func(
                    as_worker_coroutine(job),
                    name=name,
                    timeout=timeout,
                    max_tries=UNBOUNDED_TRIES,
                    keep_result=keep_result,
                )
                for name, job, keep_result in (
                    (CREATE_INQUIRY, create_inquiry, CREATE_RESULT_TTL_S),
                    (POLL_INQUIRY, poll_inquiry, 0),
                    (DECIDE_INQUIRY, decide_inquiry, ACTION_RESULT_TTL_S),
                    (REFRESH_LINK, refresh_link, ACTION_RESULT_TTL_S),
                    (REDACT_INQUIRY, redact_inquiry, ACTION_RESULT_TTL_S),
                    (SET_CASE_STATUS, set_case_status, ACTION_RESULT_TTL_S),
                    (ACCOUNT_RELATIONS, account_relations, ACTION_RESULT_TTL_S),
                    (UNREADABLE_JOB, unreadable_job, 0),
                    (RUN_REPORT, run_report, ACTION_RESULT_TTL_S),
                )
            ),
            # The one publisher; under our own deterministic ids, so no result is kept.
            func(
                as_worker_coroutine(fetch_verification),
                name=FETCH_VERIFICATION,
                timeout=timeout,
                max_tries=UNBOUNDED_TRIES,
                keep_result=0,
            ),
        ],
        "cron_jobs": [
            # Cron job ids carry the name, so the prefix keeps deployments apart (`KeySpace`).
            *(
                interval_cron(
                    tick,
                    name=keys.cron_name(tick_name),
                    interval_s=settings.poll_tick_s,
                    run_at_startup=True,
                    timeout=timeout,
                    max_tries=1,
                    keep_result=0,
                )
                for tick, tick_name in (
                    (poll_tick, POLL_TICK_CRON),
                    (report_tick, REPORT_TICK_CRON),
                )
            ),
            cron(
                sweep,
                name=keys.cron_name(SWEEP_CRON),
                second=set(range(0, 60, SWEEP_INTERVAL_S)),
                run_at_startup=True,
                timeout=timeout,
                max_tries=1,
                keep_result=0,
            ),
        ],
        # The worker's pool, with socket timeouts arq's own create_pool cannot set (a Redis
        # that stops answering must fail a command, not hang the worker); nothing connects
        # before the worker starts. `arq --check` reads redis_settings instead.
        "redis_pool": arq_pool(url, redis_timeouts, queue_name=settings.queue_name),
        "redis_settings": arq_redis_settings(url, redis_timeouts),
        "queue_name": settings.queue_name,
        # JSON both ways: pickle would let anyone with Redis write access run code here.
        "job_serializer": json_serializer,
        "job_deserializer": json_deserializer,
        "on_startup": startup,
        "on_shutdown": shutdown,
        "ctx": {SETTINGS_KEY: settings, CONFIGURE_LOGS_KEY: configure_logs},
        # Results can hold one-time links and session tokens: never into the logs.
        "log_results": False,
        # Jobs are I/O bound (one or two HTTP calls each): many run at once per process.
        "max_jobs": settings.worker_max_jobs,
        # arq sleeps this long between queue reads; 0.1 s keeps latency low at ~10 reads/s idle.
        "poll_delay": 0.1,
        # Short: a killed worker's jobs come back after the longest timeout + 10 s (arq #402).
        "job_timeout": timeout,
        # `arq --check` reads this key; refresh it well inside a typical 60 s liveness probe.
        "health_check_interval": 30,
        # Results of jobs without their own keep_result: long enough to debug, short to stay small.
        "keep_result": 3_600,
        # On SIGTERM let running jobs finish (each is short) before cancelling the rest.
        "job_completion_wait": min(timeout, 30),
    }
    attributes.update(overrides)
    # A Redis error inside a job re-runs it (worker.redis_retry) instead of arq dropping it.
    return type("WorkerSettings", (), instrument_settings(retry_on_redis_errors(attributes)))

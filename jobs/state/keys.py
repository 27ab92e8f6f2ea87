"""Every Redis key a deployment writes, under one prefix (`KEY_PREFIX`, default `persona:`).

Two deployments (two environments, or the demo beside a real one) on one Redis share nothing
when their prefixes differ: queue, results stream, limiter, request ledger, due set, locks and
markers all derive from it, and so do the job ids we choose ourselves (the fetch of an inquiry,
the cron jobs), because arq names its own job, result, retry and in-progress keys by job id.
Job ids a producer chooses are its own: two deployments must not enqueue the same one.

Ids inside keys are validated at the job boundary (`jobs.contract`) or hashed
(`jobs.idempotency`), so they cannot contain separators that would make two keys collide.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = [
    "ARQ_IN_PROGRESS_PREFIX",
    "ARQ_JOB_PREFIX",
    "ARQ_RESULT_PREFIX",
    "CRON_JOBS",
    "DEFAULT_PREFIX",
    "KeySpace",
    "is_cron_job_id",
]

#: The prefix of a deployment that sets none.
DEFAULT_PREFIX: Final = "persona:"
#: arq's own prefix of job keys (arq.constants.job_key_prefix); a job exists while this does.
ARQ_JOB_PREFIX: Final = "arq:job:"
#: arq's own prefix of job results (arq.constants.result_key_prefix): kwargs and return value.
ARQ_RESULT_PREFIX: Final = "arq:result:"
#: arq's own prefix of the key a worker holds while it runs a job (arq.constants).
ARQ_IN_PROGRESS_PREFIX: Final = "arq:in-progress:"
#: The worker's cron jobs, by name without the deployment's prefix (`KeySpace.cron_name`).
CRON_JOBS: Final = ("poll-tick", "sweep", "report-tick")


def is_cron_job_id(job_id: str) -> bool:
    """Whether a job id is a run of one of the worker's cron jobs, of any deployment.

    arq gives each run the id `{name}:{unix ms}`, the name being `{prefix}{cron job}`, and a
    prefix always ends in `:`.
    """
    name, _, stamp = job_id.rpartition(":")
    return stamp.isdigit() and name.endswith(tuple(f":{cron}" for cron in CRON_JOBS))


@dataclass(frozen=True, slots=True)
class KeySpace:
    """The keys of one deployment."""

    prefix: str = DEFAULT_PREFIX

    # --- the request ledger (`jobs.state.ledger`) -----------------------------------------

    def request(self, request_id: str) -> str:
        """The hash of one request (a job a producer enqueued), keyed by its job id."""
        return f"{self.prefix}request:{request_id}"

    @property
    def open_requests(self) -> str:
        """Sorted set of the requests not yet answered, scored by when the sweep looks next (ms)."""
        return f"{self.prefix}requests"

    def inquiry(self, inquiry_id: str) -> str:
        """The hash of one followed inquiry: its status, checks and the requests following it."""
        return f"{self.prefix}inquiry:{inquiry_id}"

    @property
    def due(self) -> str:
        """Sorted set of the followed inquiries, scored by their next status check (unix ms)."""
        return f"{self.prefix}due"

    @property
    def status_counts(self) -> str:
        """Hash of the followed inquiries counted by status (`Ledger.status_counts`); the
        ledger's scripts derive it from the due set's name, which they all hold."""
        return f"{self.due}:counts"

    def personal_results(self, inquiry_id: str) -> str:
        """The set of jobs whose arq results hold personal data about an inquiry (its links)."""
        return f"{self.prefix}personal-results:{inquiry_id}"

    # --- locks, limiter, markers -----------------------------------------------------------

    @property
    def tick_lease(self) -> str:
        """Held by the worker running this tick's status checks."""
        return f"{self.prefix}tick-lease"

    @property
    def webhook_flow(self) -> str:
        """Whether signed webhooks flow, and the polling mode (`jobs.state.webhook_flow`)."""
        return f"{self.prefix}webhook-flow"

    @property
    def deployment(self) -> str:
        """The queue and stream that own this prefix (`jobs.state.deployment`)."""
        return f"{self.prefix}deployment"

    @property
    def sweep_lock(self) -> str:
        """Held by the worker running the sweep."""
        return f"{self.prefix}sweep-lock"

    @property
    def rate_limit(self) -> str:
        """The shared limiter's sorted set of recent requests to Persona."""
        return f"{self.prefix}ratelimit"

    def attempts(self, job_id: str) -> str:
        """The hash counting one retrying job's failed attempts (`jobs.state.attempts`)."""
        return f"{self.prefix}attempts:{job_id}"

    def payload(self, inquiry_id: str) -> str:
        """The result payload a webhook brought for an inquiry (`jobs.state.payloads`)."""
        return f"{self.prefix}payload:{inquiry_id}"

    def webhook_event(self, event_id: str) -> str:
        """The marker of a webhook event already handled."""
        return f"{self.prefix}webhook-event:{event_id}"

    # --- the console's history (`jobs.state.history`) ---------------------------------------

    def history_minute(self, minute: int) -> str:
        """The hash of one minute's counters (results, failures, API calls, webhooks, lags)."""
        return f"{self.prefix}history:m:{minute}"

    @property
    def history_stories(self) -> str:
        """The capped stream of what happened to requests and inquiries, newest last."""
        return f"{self.prefix}history:stories"

    @property
    def history_workers(self) -> str:
        """Sorted set of the worker processes, scored by their last heartbeat (unix ms)."""
        return f"{self.prefix}history:workers"

    @property
    def history_limit(self) -> str:
        """The limiter's requests per minute, as the last worker to beat knew it."""
        return f"{self.prefix}history:limit"

    # --- job ids we choose -----------------------------------------------------------------

    def fetch_job_id(self, inquiry_id: str, round_: int) -> str:
        """The arq job id of the fetch that answers an inquiry's followers (one per round)."""
        return f"{self.prefix}fetch:{inquiry_id}:{round_}"

    def is_fetch_job_id(self, job_id: str) -> bool:
        """Whether a job id is one of our own fetches (else a producer's request)."""
        return job_id.startswith(f"{self.prefix}fetch:")

    def cron_name(self, name: str) -> str:
        """A cron job's name: arq's cron job ids (`{name}:{time}`) must differ per deployment."""
        return f"{self.prefix}{name}"

    # --- reports (`jobs.state.report_waits`) ------------------------------------------------

    def report_wait(self, request_id: str) -> str:
        """A request's wait for its reports: the reports, their states, what answers it."""
        return f"{self.prefix}report-wait:{request_id}"

    @property
    def report_due(self) -> str:
        """Sorted set of the requests waiting for reports, scored by their next check (ms)."""
        return f"{self.prefix}report-due"

    def report_plan(self, request_id: str) -> str:
        """The reports a create request asked for, run once its inquiry is approved."""
        return f"{self.prefix}report-plan:{request_id}"

    @property
    def report_tick_lease(self) -> str:
        """Held by the worker running this tick's report checks."""
        return f"{self.prefix}report-tick-lease"

    # --- defaults of settings --------------------------------------------------------------

    @property
    def default_queue(self) -> str:
        """The arq queue when `QUEUE_NAME` is not set."""
        return f"{self.prefix}queue"

    @property
    def default_results_stream(self) -> str:
        """The results stream when `RESULTS_STREAM` is not set."""
        return f"{self.prefix}results"

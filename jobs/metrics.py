"""Prometheus metrics of the pipeline: what operators alert on, with bounded labels only.

| metric | type | labels |
| --- | --- | --- |
| `persona_worker_jobs_total` | counter | `job`, `outcome` |
| `persona_worker_job_duration_seconds` | histogram | `job` |
| `persona_worker_api_requests_total` | counter | `operation`, `status_class` |
| `persona_worker_api_request_duration_seconds` | histogram | `operation` |
| `persona_worker_rate_limit_waits_total` | counter | `reason` |
| `persona_worker_rate_limit_wait_seconds` | histogram | `reason` |
| `persona_worker_inflight_inquiries` | gauge | `status` |
| `persona_worker_publish_lag_seconds` | histogram | `status` |
| `persona_worker_webhooks_total` | counter | `outcome` |
| `persona_worker_polling_mode` | gauge | `mode` |
| `persona_worker_polling_mode_changes_total` | counter | `mode` |
| `persona_worker_web_busy_refusals_total` | counter | |

`outcome` of a job is `success`, `retry`, `failed` or `cancelled`; `status_class` is `2xx` to
`5xx`, or `none` when no response arrived; `reason` is `limiter` (our shared limiter made a
request wait) or `429` (Persona refused one); `mode` is `polling` or `webhooks`
(`jobs.policy.cadence`): the gauge is 1 for the mode in force, read from Redis at scrape time.

Label values come from fixed sets (our job names, Persona operation ids named in
`jobs.persona.client`, the documented inquiry statuses plus `other`), never from ids,
reference ids or free text: every distinct value is a new time series, and an id in a label
would both grow Prometheus without bound and copy identifiers into a second store.

The metrics live on one `CollectorRegistry` per process (not prometheus_client's global one),
reached through `metrics()`, which also carries the standard `process_*`, `python_gc_*` and
`python_info` series. `reset_metrics()` swaps in a fresh registry, so tests start from zero
and building several workers in one process never registers a metric twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Final, Literal

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
)

from jobs.policy.status import NOT_CHECKED, InquiryStatus

if TYPE_CHECKING:
    from jobs.persona.client import ApiCall
    from jobs.persona.models import InquiryAttributes

__all__ = [
    "JOB_OUTCOMES",
    "POLLING_MODES",
    "STATUS_LABELS",
    "WEBHOOK_OUTCOMES",
    "JobOutcome",
    "Metrics",
    "RateLimitReason",
    "decided_at",
    "metrics",
    "observe_api_call",
    "observe_job",
    "observe_mode_change",
    "observe_publish_lag",
    "observe_webhook",
    "record_rate_limit_wait",
    "reset_metrics",
    "set_inflight",
    "set_polling_mode",
    "status_label",
]

JobOutcome = Literal["success", "retry", "failed", "cancelled"]
#: How a job attempt can end, as the `outcome` label says it.
JOB_OUTCOMES: Final[tuple[JobOutcome, ...]] = ("success", "retry", "failed", "cancelled")
RateLimitReason = Literal["limiter", "429"]
#: Inquiry statuses as label values: Persona's documented ones, `unknown` (not checked yet)
#: and `other` for anything Persona adds later.
STATUS_LABELS: Final = frozenset(
    {status.value for status in InquiryStatus} | {NOT_CHECKED, "other"}
)
#: Webhook outcomes as label values (`jobs.webhooks.events` actions and the receiver's refusals).
WEBHOOK_OUTCOMES: Final = frozenset(
    {
        "fetch_enqueued",
        "payload_kept",
        "stale_payload",
        "status_noted",
        "already_published",
        "not_followed",
        "duplicate",
        "ignored",
        "refused",
        "unavailable",
        "other",
    }
)

#: The polling modes (`jobs.policy.cadence.Mode`) as label values.
POLLING_MODES: Final = ("polling", "webhooks")

_JOB_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_API_BUCKETS: Final = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_WAIT_BUCKETS: Final = (0.1, 0.5, 1, 2, 5, 10, 20, 30, 60, 120)
_LAG_BUCKETS: Final = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1_800, 3_600, 4 * 3_600)


class Metrics:
    """Every metric of the service, registered on one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        # The standard process_*, python_gc_* and python_info series (CPU, memory, open file
        # descriptors), which the default registry would have had.
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            registry.register(collector)
        self.jobs = Counter(
            "persona_worker_jobs",
            "Job attempts by job name and how they ended (cancelled: timeout or shutdown).",
            ["job", "outcome"],
            registry=registry,
        )
        self.job_duration = Histogram(
            "persona_worker_job_duration_seconds",
            "Wall time of one job attempt, whatever its outcome.",
            ["job"],
            buckets=_JOB_BUCKETS,
            registry=registry,
        )
        self.api_requests = Counter(
            "persona_worker_api_requests",
            "Persona API requests by operation id and status class (none: no response).",
            ["operation", "status_class"],
            registry=registry,
        )
        self.api_latency = Histogram(
            "persona_worker_api_request_duration_seconds",
            "Time from sending a Persona API request to its response or failure.",
            ["operation"],
            buckets=_API_BUCKETS,
            registry=registry,
        )
        self.rate_limit_waits = Counter(
            "persona_worker_rate_limit_waits",
            "Times a request had to wait for the rate limit (limiter: our shared limiter; "
            "429: Persona refused and the job defers until RateLimit-Reset).",
            ["reason"],
            registry=registry,
        )
        self.rate_limit_wait_seconds = Histogram(
            "persona_worker_rate_limit_wait_seconds",
            "How long requests waited for the rate limit.",
            ["reason"],
            buckets=_WAIT_BUCKETS,
            registry=registry,
        )
        self.inflight = Gauge(
            "persona_worker_inflight_inquiries",
            "Inquiries whose result requests wait for (the request ledger's due set), by "
            "last known status (read from Redis at scrape time, so every process reports the "
            "same shared number).",
            ["status"],
            registry=registry,
        )
        self.publish_lag = Histogram(
            "persona_worker_publish_lag_seconds",
            "From the inquiry's decision (or completion, failure, expiry) at Persona to its "
            "result event on the stream.",
            ["status"],
            buckets=_LAG_BUCKETS,
            registry=registry,
        )
        self.webhooks = Counter(
            "persona_worker_webhooks",
            "Webhook deliveries received, by what the receiver did with them.",
            ["outcome"],
            registry=registry,
        )
        self.polling_mode = Gauge(
            "persona_worker_polling_mode",
            "1 for the cadence status checks keep now: `webhooks` (the safety net) while "
            "signed webhooks announce the changes, else `polling` (read from Redis at scrape "
            "time, so every process reports the same).",
            ["mode"],
            registry=registry,
        )
        self.polling_mode_changes = Counter(
            "persona_worker_polling_mode_changes",
            "Changes of the polling mode made by this process's ticks, by the new mode.",
            ["mode"],
            registry=registry,
        )
        self.web_busy_refusals = Counter(
            "persona_worker_web_busy_refusals",
            "HTTP requests the web process answered 503 because WEB_MAX_CONCURRENCY were "
            "in progress.",
            registry=registry,
        )


_current: Metrics = Metrics(CollectorRegistry())


def metrics() -> Metrics:
    """The process's metrics."""
    return _current


def reset_metrics() -> Metrics:
    """Replace every metric with a fresh one on a new registry (tests); returns the new set."""
    global _current
    _current = Metrics(CollectorRegistry())
    return _current


def status_label(status: str | None) -> str:
    """An inquiry status as a bounded label value."""
    if status is None or status == "":
        return NOT_CHECKED
    return status if status in STATUS_LABELS else "other"


def observe_job(job: str, outcome: JobOutcome, seconds: float) -> None:
    """Count one job attempt and its duration (called by the worker's job wrapper)."""
    current = metrics()
    current.jobs.labels(job, outcome).inc()
    current.job_duration.labels(job).observe(max(seconds, 0.0))


def _status_class(status_code: int | None) -> str:
    if status_code is None:
        return "none"
    return f"{status_code // 100}xx"


def observe_api_call(call: ApiCall) -> None:
    """A `PersonaClient` observer: count one exchange, its latency, and a 429's wait.

    A 429 is recorded as a rate-limit wait of `RateLimit-Reset` seconds: that is how long the
    job that got it defers before trying again (plus a little jitter).
    """
    current = metrics()
    current.api_requests.labels(call.operation, _status_class(call.status_code)).inc()
    current.api_latency.labels(call.operation).observe(max(call.elapsed_s, 0.0))
    if call.status_code == 429:
        record_rate_limit_wait(call.rate_limit.reset_s or 0.0, reason="429")


def record_rate_limit_wait(seconds: float, *, reason: RateLimitReason) -> None:
    """Record that a request waited `seconds` for the rate limit.

    The shared Redis rate limiter calls this with `reason="limiter"` each time it makes a
    request wait before sending (only when it actually waits, so the counter says how often the
    limit bites); `observe_api_call` calls it with `reason="429"` when Persona refuses a request.
    """
    current = metrics()
    current.rate_limit_waits.labels(reason).inc()
    current.rate_limit_wait_seconds.labels(reason).observe(max(seconds, 0.0))


def set_inflight(counts: Mapping[str, int]) -> None:
    """Replace the in-flight gauge with counts per status (every known status, zeros too)."""
    gauge = metrics().inflight
    bounded: dict[str, int] = dict.fromkeys(sorted(STATUS_LABELS), 0)
    for status, count in counts.items():
        bounded[status_label(status)] += count
    gauge.clear()
    for status, count in bounded.items():
        gauge.labels(status).set(count)


def decided_at(attributes: InquiryAttributes) -> datetime | None:
    """When Persona settled the inquiry: the first of its decision, completion, failure and
    expiry moments that it set (None while it has none)."""
    for moment in (
        attributes.decisioned_at,
        attributes.completed_at,
        attributes.failed_at,
        attributes.expired_at,
    ):
        if moment is not None:
            return moment
    return None


def observe_publish_lag(attributes: InquiryAttributes, published_at: float) -> None:
    """Record how long after the inquiry's outcome at Persona its event reached the stream.

    The outcome's moment is the first of `decisioned-at`, `completed-at`, `failed-at` and
    `expired-at` that Persona set; an inquiry with none of them records nothing. A negative lag
    (our clock behind Persona's) counts as zero.
    """
    decided = decided_at(attributes)
    if decided is None:
        return
    lag = published_at - decided.timestamp()
    metrics().publish_lag.labels(status_label(attributes.status)).observe(max(lag, 0.0))


def set_polling_mode(mode: str | None) -> None:
    """Show the mode in force (None: unknown, no series)."""
    gauge = metrics().polling_mode
    gauge.clear()
    if mode is not None:
        for known in POLLING_MODES:
            gauge.labels(known).set(1 if known == mode else 0)


def observe_mode_change(mode: str) -> None:
    """Count one change of the polling mode."""
    if mode in POLLING_MODES:
        metrics().polling_mode_changes.labels(mode).inc()


def observe_webhook(outcome: str) -> None:
    """Count one webhook delivery by what the receiver did (spaces become underscores)."""
    label = outcome.replace(" ", "_")
    metrics().webhooks.labels(label if label in WEBHOOK_OUTCOMES else "other").inc()


def observe_web_busy() -> None:
    """Count one request refused at the web process's concurrency cap."""
    metrics().web_busy_refusals.inc()

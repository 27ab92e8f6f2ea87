"""What one chaos run does: how many requests, how many workers, which faults, how long.

The defaults are the documented run (`python -m bench.chaos`); `ChaosPlan.ci()` is the one the
test suite runs on two cores in about two minutes. Every number that shapes the faults is here,
so a report can print the plan it ran.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Final

__all__ = ["CHAOS_API_KEY", "CHAOS_TEMPLATE_ID", "CHAOS_WEBHOOK_SECRET", "ChaosPlan"]

#: A key the sandbox accepts and nobody could mistake for another string in a payload.
CHAOS_API_KEY: Final = "persona_sandbox_chaos0key0must0never0leak"
CHAOS_TEMPLATE_ID: Final = "itmpl_ChaosTemplate00000000000"
CHAOS_WEBHOOK_SECRET: Final = "wbhsec_chaos0secret0must0never0leak"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChaosPlan:
    """The shape of one chaos run."""

    inquiries: int = 2000
    """Create requests enqueued (a `bad_share` of them with malformed arguments)."""
    workers: int = 4
    """Worker processes kept running; each SIGKILLed one is replaced at once."""
    minutes: float = 5.0
    """Hard bound on the whole run; a run not settled by then reports what is missing."""
    enqueue_s: float = 120.0
    """Requests are enqueued evenly over this many seconds, so kills hit every stage."""
    chaos_s: float = 180.0
    """Kills happen during this many seconds from the first enqueue; then the run settles."""
    kill_every_s: float = 5.0
    """Mean seconds between SIGKILLs of a random worker (jittered by ±50 %)."""
    redis_restart_at_s: float = 60.0
    """When (seconds from the first enqueue) redis-server is SIGKILLed and started again."""
    bad_share: float = 0.02
    """Share of requests with malformed arguments: each must end in one `job.failed`."""
    error_rate: float = 0.10
    """Share of API requests the sandbox answers 500/502/503 before doing anything."""
    hang_rate: float = 0.05
    """Share of API requests the sandbox carries out, then holds past the client's timeout."""
    hang_s: float = 12.0
    """How long a held answer waits: longer than `http_timeout_s` and than `job_timeout_s`."""
    trickle_every: int = 2
    """Every n-th worker process waits for a held answer longer than its jobs may run
    (`HTTP_TIMEOUT_S` = `hang_s` + 5 s): the answer trickles in past the job's time, and only
    the job's own deadline stops it; 0 turns this off."""
    sandbox_rate_limit_per_minute: int = 2400
    """The sandbox's rate limit; below what the workers may send, so 429 bursts happen."""
    sandbox_rate_window_s: float = 2.0
    """The sandbox's rate window: 429 bursts last at most this long."""
    worker_rate_limit_per_minute: int = 4800
    """`RATE_LIMIT_PER_MINUTE` of the workers' shared limiter."""
    throttle_every_s: float = 10.0
    """Mean seconds between 429 bursts: another client of the same Persona environment uses
    up the current rate window, so every worker is refused until it resets; 0 turns it off."""
    webhooks: bool = True
    """Whether the sandbox delivers signed webhooks to the web process."""
    webhook_duplicate_rate: float = 0.5
    """Share of webhook events delivered twice."""
    webhook_reorder_rate: float = 0.3
    """Share of webhook events held back until a later one was sent."""
    job_timeout_s: float = 10.0
    """`JOB_TIMEOUT_S`: a killed worker's jobs come back after this plus arq's 10 s."""
    http_timeout_s: float = 2.0
    """`HTTP_TIMEOUT_S`: how long a hung request holds a job."""
    worker_max_jobs: int = 50
    """`WORKER_MAX_JOBS` per worker process."""
    time_scale: float = 60.0
    """Sandbox seconds per real second: a person taking 2 minutes takes 2 seconds."""
    seed: int = 7
    """Seeds the request mix, the kill schedule and the sandbox's fault draws."""
    log_level: str = "WARNING"
    """`LOG_LEVEL` of the web and worker processes (their logs stay in the run's directory)."""

    def __post_init__(self) -> None:
        if self.inquiries < 1 or self.workers < 1:
            raise ValueError("inquiries and workers must be at least 1")
        if self.minutes <= 0 or self.kill_every_s <= 0:
            raise ValueError("minutes and kill_every_s must be positive")
        if self.hang_s <= max(self.http_timeout_s, self.job_timeout_s):
            raise ValueError("hang_s must exceed http_timeout_s and job_timeout_s")
        if self.trickle_every < 0:
            raise ValueError("trickle_every must not be negative")
        if self.job_timeout_s <= 2 * self.http_timeout_s:
            raise ValueError("job_timeout_s must exceed two HTTP timeouts (a job makes two calls)")
        for name in ("bad_share", "error_rate", "hang_rate"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1)")

    @property
    def trickle_http_timeout_s(self) -> float:
        """`HTTP_TIMEOUT_S` of the workers that wait for held answers (`trickle_every`)."""
        return self.hang_s + 5.0

    @property
    def in_progress_ttl_s(self) -> float:
        """arq's in-progress key lifetime: the longest a killed worker's job stays stranded."""
        return self.job_timeout_s + 10.0

    @classmethod
    def ci(cls, **changes: Any) -> ChaosPlan:
        """The CI-sized run: 250 requests, 3 workers, about two minutes on two cores."""
        plan = cls(
            inquiries=250,
            workers=3,
            minutes=3.5,
            enqueue_s=30.0,
            chaos_s=55.0,
            kill_every_s=4.0,
            redis_restart_at_s=20.0,
            sandbox_rate_limit_per_minute=1800,
            worker_rate_limit_per_minute=3600,
        )
        return replace(plan, **changes)

    def to_json(self) -> dict[str, Any]:
        """The plan as printable data."""
        return asdict(self)

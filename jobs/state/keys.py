"""Every Redis key the pipeline writes besides arq's own, in one place.

All keys share the `persona:` prefix so an operator can find (and size) them with one scan.
Ids inside keys are validated at the job boundary (`jobs.contract`), so they cannot contain
separators.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ARQ_JOB_PREFIX",
    "ARQ_RESULT_PREFIX",
    "CREATING",
    "INFLIGHT",
    "SWEEP_LOCK",
    "attempts_key",
    "create_key",
    "fetch_job_id",
    "inquiry_key",
    "personal_results_key",
    "poll_job_id",
    "published_key",
    "webhook_event_key",
]

#: arq's own prefix of job keys (arq.constants.job_key_prefix); a job exists while this does.
ARQ_JOB_PREFIX: Final = "arq:job:"
#: arq's own prefix of job results (arq.constants.result_key_prefix): kwargs and return value.
ARQ_RESULT_PREFIX: Final = "arq:result:"
#: Sorted set of inquiries being followed, scored by when something is next due (unix ms).
INFLIGHT: Final = "persona:inflight"
#: Sorted set of create requests not yet answered by an inquiry, scored by first attempt (ms).
CREATING: Final = "persona:creating"
#: Lock that lets one worker at a time run the sweep.
SWEEP_LOCK: Final = "persona:sweep-lock"


def inquiry_key(inquiry_id: str) -> str:
    """The hash holding one followed inquiry's record."""
    return f"persona:inquiry:{inquiry_id}"


def personal_results_key(inquiry_id: str) -> str:
    """The set of jobs whose arq results hold personal data about an inquiry (its links)."""
    return f"persona:personal-results:{inquiry_id}"


def create_key(job_id: str) -> str:
    """The hash holding the state of one create request (idempotency generation, outcome)."""
    return f"persona:create:{job_id}"


def attempts_key(job_id: str) -> str:
    """The hash counting one retrying job's failed attempts (`jobs.state.attempts`)."""
    return f"persona:attempts:{job_id}"


def published_key(dedupe_id: str) -> str:
    """The marker that makes a publication happen once; holds the stream entry id."""
    return f"persona:published:{dedupe_id}"


def webhook_event_key(event_id: str) -> str:
    """The marker of a webhook event already handled."""
    return f"persona:webhook-event:{event_id}"


def poll_job_id(inquiry_id: str, hop: int) -> str:
    """The deterministic arq job id of one status check in an inquiry's polling chain."""
    return f"poll:{inquiry_id}:{hop}"


def fetch_job_id(inquiry_id: str, cycle: int) -> str:
    """The deterministic arq job id of the fetch that publishes an inquiry's result."""
    return f"fetch:{inquiry_id}:{cycle}"

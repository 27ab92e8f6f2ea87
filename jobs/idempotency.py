"""The `Idempotency-Key` of each request a job sends, derived from the job's id.

A key is `{job}:{id}` plus `:{step}` parts (`create:req-1:0`, `refresh_link:r-7:resume`), so a
re-run of the job sends the same key and Persona replays its first answer. `{id}` is the job id
itself when it can travel in a header and stays short: printable ASCII (space to `~`), at most
`MAX_PLAIN_JOB_ID` characters, and not starting with `HASHED_PREFIX`. Any other job id (accents,
emoji, control characters, a very long id) becomes `sha256:` and the SHA-256 hex digest of its
UTF-8 bytes, so every job id works and still maps to one stable key.

The plain form is what every earlier version sent, so a job re-run across an upgrade keeps its
key. A plain id cannot collide with a hashed one: ids starting with `sha256:` are hashed too.
"""

from __future__ import annotations

import hashlib
from typing import Final

__all__ = ["HASHED_PREFIX", "MAX_PLAIN_JOB_ID", "idempotency_key", "job_key_part"]

#: Longest job id sent as it is; longer ones are hashed (Persona documents no key limit).
MAX_PLAIN_JOB_ID: Final = 200
#: Marks a hashed job id inside a key.
HASHED_PREFIX: Final = "sha256:"


def _plain(job_id: str) -> bool:
    return (
        0 < len(job_id) <= MAX_PLAIN_JOB_ID
        and all(" " <= char <= "~" for char in job_id)
        and not job_id.startswith(HASHED_PREFIX)
    )


def job_key_part(job_id: str) -> str:
    """The job id as it appears in a key: itself, or `sha256:<hex>` when it cannot be sent."""
    if _plain(job_id):
        return job_id
    return HASHED_PREFIX + hashlib.sha256(job_id.encode("utf-8", "surrogatepass")).hexdigest()


def idempotency_key(job: str, job_id: str, *steps: str) -> str:
    """The key of one request of one job: `{job}:{job id part}[:{step}...]`.

    Args:
        job: the job's name (`create`, `decide_inquiry`, ...).
        job_id: arq's job id, any string.
        steps: names of the request within the job, for a job that sends several.
    """
    return ":".join((job, job_key_part(job_id), *steps))

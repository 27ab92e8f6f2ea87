"""`unreadable_job`: the answer to a payload the worker cannot read.

`jobs.contract.json_deserializer` turns a payload that is not a JSON job (pickle, a truncated
write, a number the parser refuses) into this job, under the payload's own job id, so its
request ends in `job.failed` saying why instead of arq failing it with no answer.
"""

from __future__ import annotations

from typing import Any, Final, NoReturn

from jobs.contract import UNREADABLE_JOB
from jobs.errors import JobArgumentsError
from jobs.pipeline.requests import RequestRun, request_job

__all__ = ["unreadable_job"]

_DEFAULT_REASON: Final = "the job could not be read"


async def _refuse(run: RequestRun, args: tuple[Any, ...], kwargs: dict[str, Any]) -> NoReturn:
    reason = kwargs.get("reason")
    # Only the deserializer's own sentences; anything else a producer wrote could be personal.
    if not isinstance(reason, str) or not reason.startswith("the job is not "):
        reason = _DEFAULT_REASON
    raise JobArgumentsError(reason)


unreadable_job = request_job(
    UNREADABLE_JOB, _refuse, doc="Answer a payload that is not a JSON job with job.failed."
)

"""`set_case_status(case_id, status)`: move a Persona case to one of its template's statuses.

Statuses are defined per case template (e.g. `Open`, `Pending`, `Approved`, `Declined`), so
the job sends the caller's value as-is and Persona judges it: an unknown status is a 422 and
ends with `job.failed`. One POST under the Idempotency-Key `set_case_status:{job_id}`.

Outcome event `case.status-set`, data: `case_id`, `status` (as Persona spells it now),
`resolution`, `resolved_at` and `updated_at`. The case's fields and attachments may hold
personal data and never enter the event.
"""

from __future__ import annotations

from jobs.actions.base import ActionRun, Outcome, action_job
from jobs.contract import SET_CASE_STATUS, SetCaseStatusArgs
from jobs.documents import CaseStatusSet, iso

__all__ = ["set_case_status"]


async def _perform(run: ActionRun, args: SetCaseStatusArgs) -> Outcome:
    case = await run.context.persona.set_case_status(
        args.case_id, args.status, idempotency_key=run.idempotency_key()
    )
    attributes = case.attributes
    return Outcome(
        "case.status-set",
        CaseStatusSet(
            case_id=case.id,
            status=attributes.status,
            resolution=attributes.resolution,
            resolved_at=iso(attributes.resolved_at),
            updated_at=iso(attributes.updated_at),
        ),
    )


set_case_status = action_job(
    SET_CASE_STATUS, SetCaseStatusArgs, _perform, doc="Set one case's status (once) and publish it."
)

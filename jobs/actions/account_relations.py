"""`account_relations(account_id, key)`: list the objects related to an account under a key.

One `GET /accounts/{id}/relations?filter[key]=...`; a read, so it needs no Idempotency-Key
(Persona ignores one on GET), and the job's dedupe id keeps its event to one. The 2025-12-08
operation declares no paging parameters, so the event holds Persona's first page and says
whether there is more.

Outcome event `account.relations-listed`, data: `account_id`, `key`, `relations` (each `type`
and `id`: the related accounts or transactions; their attributes may hold personal data and
are left out), `count` and `more` (Persona has a next page). An unknown account ends with
`job.failed`.
"""

from __future__ import annotations

from jobs.actions.base import ActionRun, Outcome, action_job
from jobs.contract import ACCOUNT_RELATIONS, AccountRelationsArgs
from jobs.documents import Relation, RelationsListed

__all__ = ["account_relations"]


async def _perform(run: ActionRun, args: AccountRelationsArgs) -> Outcome:
    page = await run.context.persona.list_account_relations(args.account_id, key=args.key)
    relations = [
        Relation(type=str(item.get("type", "")), id=str(item.get("id", ""))) for item in page.data
    ]
    return Outcome(
        "account.relations-listed",
        RelationsListed(
            account_id=args.account_id,
            key=args.key,
            relations=relations,
            count=len(relations),
            more=page.links.next is not None,
        ),
    )


account_relations = action_job(
    ACCOUNT_RELATIONS,
    AccountRelationsArgs,
    _perform,
    doc="List one account's relations under a key and publish them.",
)

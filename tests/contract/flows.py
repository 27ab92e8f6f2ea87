"""Ways to bring sandbox objects into a given state through the real client, and one client call
per operation, for the parametrised contract tests.

Inquiries follow the sandbox's documented scenario rule (`persona_sandbox.timeline`): a create
note `sandbox-outcome=<outcome> sandbox-after=<seconds>` fixes what the simulated person does;
the test then moves the sandbox's manual clock past the step it wants. With a delay D the
inquiry is `pending` from D/3, finishes at D, and is decided `decision_after_s` (30 s) later.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from jobs.persona.client import PersonaClient
from jobs.persona.models import InquiryDocument
from tests.contract.harness import Rig

__all__ = [
    "CALLS",
    "DELAY_S",
    "INQUIRY_STATES",
    "MISSING",
    "RECEIVER_URL",
    "TEMPLATE_ID",
    "Ids",
    "create_with_outcome",
    "inquiry_in",
    "key",
]

TEMPLATE_ID: Final = "itmpl_ContractTemplate01"
#: How long the simulated person takes in every scenario these tests start.
DELAY_S: Final = 60.0
_PAST_START: Final = DELAY_S / 3 + 1
_PAST_FINISH: Final = DELAY_S + 1
_PAST_DECISION: Final = DELAY_S + 30 + 1
#: Where the contract tests' webhooks point (nothing is delivered there: none is enabled).
RECEIVER_URL: Final = "https://receiver.test/webhooks/persona"

#: Every inquiry state a retrieve may show, with the outcome and wait that reach it.
_REACH: Final[Mapping[str, tuple[str, float]]] = {
    "created": ("approved", 0.0),
    "pending": ("approved", _PAST_START),
    "completed": ("completed", _PAST_FINISH),
    "failed": ("failed", _PAST_FINISH),
    "expired": ("expired", _PAST_FINISH),
    "needs_review": ("needs_review", _PAST_DECISION),
    "approved": ("approved", _PAST_DECISION),
    "declined": ("declined", _PAST_DECISION),
    "redacted": ("approved", _PAST_DECISION),
}
INQUIRY_STATES: Final = tuple(_REACH)


def key() -> str:
    """A fresh Idempotency-Key."""
    return f"contract-{uuid.uuid4().hex}"


async def create_with_outcome(
    rig: Rig, outcome: str, *, reference_id: str | None = None, **options: Any
) -> InquiryDocument:
    """Create an inquiry whose simulated person ends in `outcome` after `DELAY_S`."""
    return await rig.client.create_inquiry(
        template_id=TEMPLATE_ID,
        idempotency_key=key(),
        reference_id=reference_id,
        note=f"sandbox-outcome={outcome} sandbox-after={DELAY_S:g}",
        **options,
    )


async def inquiry_in(rig: Rig, state: str) -> str:
    """The id of a new inquiry in `state` (an inquiry status, or `redacted`)."""
    outcome, wait = _REACH[state]
    created = await create_with_outcome(rig, outcome, fields={"name-first": "Jane"})
    rig.advance(wait)
    if state == "redacted":
        await rig.client.redact_inquiry(created.data.id, idempotency_key=key())
    return created.data.id


@dataclass(frozen=True, slots=True)
class Ids:
    """The objects a call acts on."""

    inquiry: str = "inq_Missing0000000000000000"
    verification: str = "ver_Missing0000000000000000"
    case: str = "case_Missing000000000000000"
    account: str = "act_Missing0000000000000000"
    target: str = "act_Target00000000000000000"
    webhook: str = "wbh_Missing0000000000000000"


Call = Callable[[PersonaClient, Ids], Awaitable[object]]

#: One representative client call per operation the client implements.
CALLS: Final[Mapping[str, Call]] = {
    "create-an-inquiry": lambda c, ids: c.create_inquiry(
        template_id=TEMPLATE_ID, idempotency_key=key()
    ),
    "retrieve-an-inquiry": lambda c, ids: c.retrieve_inquiry(
        ids.inquiry, include=("verifications",)
    ),
    "list-all-inquiries": lambda c, ids: c.list_inquiries(inquiry_ids=[ids.inquiry]),
    "resume-an-inquiry": lambda c, ids: c.resume_inquiry(ids.inquiry, idempotency_key=key()),
    "generate-a-one-time-link": lambda c, ids: c.generate_one_time_link(
        ids.inquiry, idempotency_key=key()
    ),
    "approve-an-inquiry": lambda c, ids: c.approve_inquiry(ids.inquiry, idempotency_key=key()),
    "decline-an-inquiry": lambda c, ids: c.decline_inquiry(ids.inquiry, idempotency_key=key()),
    "mark-an-inquiry-for-review": lambda c, ids: c.mark_for_review(
        ids.inquiry, idempotency_key=key()
    ),
    "expire-an-inquiry": lambda c, ids: c.expire_inquiry(ids.inquiry, idempotency_key=key()),
    "redact-an-inquiry": lambda c, ids: c.redact_inquiry(ids.inquiry, idempotency_key=key()),
    "inquiries-perform-simulate-actions": lambda c, ids: c.simulate_actions(
        ids.inquiry, [{"type": "start_inquiry"}], idempotency_key=key()
    ),
    "retrieve-a-verification": lambda c, ids: c.retrieve_verification(ids.verification),
    "set-status-for-a-case": lambda c, ids: c.set_case_status(
        ids.case, "Approved", idempotency_key=key()
    ),
    "retrieve-case": lambda c, ids: c.retrieve_case(ids.case),
    "accounts-list-all-relations": lambda c, ids: c.list_account_relations(
        ids.account, key="household"
    ),
    "accounts-add-relation": lambda c, ids: c.add_account_relation(
        ids.account, relation_key="household", target_id=ids.target, idempotency_key=key()
    ),
    "create-a-webhook": lambda c, ids: c.create_webhook(
        name="contract",
        url=RECEIVER_URL,
        enabled_events=["inquiry.approved"],
        include={"inquiry": ["verifications"]},
        idempotency_key=key(),
    ),
    "retrieve-a-webhook": lambda c, ids: c.retrieve_webhook(ids.webhook),
    "enable-a-webhook": lambda c, ids: c.enable_webhook(ids.webhook, idempotency_key=key()),
    "rotate-a-webhook-secret": lambda c, ids: c.rotate_webhook_secret(
        ids.webhook, idempotency_key=key(), expires_in_s=3600
    ),
    "list-all-webhooks": lambda c, ids: c.list_webhooks(page_size=5),
    "list-all-rate-limits": lambda c, ids: c.list_rate_limits(),
}
#: Operations that address no object (the rest answer 404 to an unknown id).
_UNADDRESSED: Final = frozenset(
    {
        "create-an-inquiry",
        "list-all-inquiries",
        "create-a-webhook",
        "list-all-webhooks",
        "list-all-rate-limits",
    }
)

#: Operations addressing one object by id (a wrong id is a 404).
MISSING: Final = tuple(name for name in CALLS if name not in _UNADDRESSED)

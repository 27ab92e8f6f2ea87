"""Every client operation once, with the method and path Persona's OpenAPI gives it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import NamedTuple, Protocol

from jobs.persona.client import PersonaClient
from tests.client.fakes import FakePersona, inquiry_resource, verification_resource

TEMPLATE_ID = "itmpl_TestTemplate000000000000"
INQUIRY_ID = "inq_seeded0001"
VERIFICATION_ID = "ver_seeded0001"
WEBHOOK_ID = "wbh_seeded0001"


class Operation(NamedTuple):
    operation_id: str
    method: str
    path: str
    call: Callable[[PersonaClient, str], Awaitable[object]]
    """Runs the operation; the string is the idempotency key (unused by reads)."""


def seed(fake: FakePersona) -> None:
    """Give the fake the objects the operations below address."""
    fake.verifications[VERIFICATION_ID] = verification_resource(VERIFICATION_ID)
    fake.add_inquiry(
        inquiry_resource(
            INQUIRY_ID, verification_ids=[(VERIFICATION_ID, "verification/government-id")]
        )
    )


class _InquiryAction(Protocol):
    """A client method that acts on one inquiry and takes an idempotency key."""

    def __call__(
        self, client: PersonaClient, inquiry_id: str, /, *, idempotency_key: str
    ) -> Awaitable[object]: ...


def _inquiry_action(operation_id: str, action: str, method: _InquiryAction) -> Operation:
    """`POST /inquiries/{id}/{action}` on the seeded inquiry, sent by the client's `method`."""
    return Operation(
        operation_id,
        "POST",
        f"/inquiries/{INQUIRY_ID}/{action}",
        lambda c, key: method(c, INQUIRY_ID, idempotency_key=key),
    )


OPERATIONS = [
    Operation(
        "create-an-inquiry",
        "POST",
        "/inquiries",
        lambda c, key: c.create_inquiry(template_id=TEMPLATE_ID, idempotency_key=key),
    ),
    Operation(
        "retrieve-an-inquiry",
        "GET",
        f"/inquiries/{INQUIRY_ID}",
        lambda c, key: c.retrieve_inquiry(INQUIRY_ID),
    ),
    Operation("list-all-inquiries", "GET", "/inquiries", lambda c, key: c.list_inquiries()),
    _inquiry_action("resume-an-inquiry", "resume", PersonaClient.resume_inquiry),
    _inquiry_action(
        "generate-a-one-time-link", "generate-one-time-link", PersonaClient.generate_one_time_link
    ),
    _inquiry_action("approve-an-inquiry", "approve", PersonaClient.approve_inquiry),
    _inquiry_action("decline-an-inquiry", "decline", PersonaClient.decline_inquiry),
    _inquiry_action("mark-an-inquiry-for-review", "mark-for-review", PersonaClient.mark_for_review),
    _inquiry_action("expire-an-inquiry", "expire", PersonaClient.expire_inquiry),
    Operation(
        "redact-an-inquiry",
        "DELETE",
        f"/inquiries/{INQUIRY_ID}",
        lambda c, key: c.redact_inquiry(INQUIRY_ID, idempotency_key=key),
    ),
    Operation(
        "inquiries-perform-simulate-actions",
        "POST",
        f"/inquiries/{INQUIRY_ID}/perform-simulate-actions",
        lambda c, key: c.simulate_actions(
            INQUIRY_ID, [{"type": "start_inquiry"}], idempotency_key=key
        ),
    ),
    Operation(
        "retrieve-a-verification",
        "GET",
        f"/verifications/{VERIFICATION_ID}",
        lambda c, key: c.retrieve_verification(VERIFICATION_ID),
    ),
    Operation(
        "set-status-for-a-case",
        "POST",
        "/cases/case_seeded01/set-status",
        lambda c, key: c.set_case_status("case_seeded01", "Approved", idempotency_key=key),
    ),
    Operation(
        "retrieve-case",
        "GET",
        "/cases/case_seeded01",
        lambda c, key: c.retrieve_case("case_seeded01"),
    ),
    Operation(
        "accounts-list-all-relations",
        "GET",
        "/accounts/act_seeded01/relations",
        lambda c, key: c.list_account_relations("act_seeded01", key="beneficial_owners"),
    ),
    Operation(
        "accounts-add-relation",
        "POST",
        "/accounts/act_seeded01/add-relation",
        lambda c, key: c.add_account_relation(
            "act_seeded01",
            relation_key="beneficial_owners",
            target_id="act_target01",
            idempotency_key=key,
        ),
    ),
    Operation(
        "create-a-report",
        "POST",
        "/reports",
        lambda c, key: c.create_report(
            report_type="watchlist",
            query={"name-last": "Doe"},
            idempotency_key=key,
            reference_id="user-1",
        ),
    ),
    Operation(
        "retrieve-a-report",
        "GET",
        "/reports/rep_seeded01",
        lambda c, key: c.retrieve_report("rep_seeded01"),
    ),
    Operation(
        "create-a-webhook",
        "POST",
        "/webhooks",
        lambda c, key: c.create_webhook(
            name="results",
            url="https://receiver.test/webhooks/persona",
            enabled_events=["inquiry.approved"],
            include={"inquiry": ["verifications"]},
            idempotency_key=key,
        ),
    ),
    Operation(
        "retrieve-a-webhook",
        "GET",
        f"/webhooks/{WEBHOOK_ID}",
        lambda c, key: c.retrieve_webhook(WEBHOOK_ID),
    ),
    Operation(
        "enable-a-webhook",
        "POST",
        f"/webhooks/{WEBHOOK_ID}/enable",
        lambda c, key: c.enable_webhook(WEBHOOK_ID, idempotency_key=key),
    ),
    Operation(
        "rotate-a-webhook-secret",
        "POST",
        f"/webhooks/{WEBHOOK_ID}/rotate-secret",
        lambda c, key: c.rotate_webhook_secret(WEBHOOK_ID, idempotency_key=key),
    ),
    Operation("list-all-webhooks", "GET", "/webhooks", lambda c, key: c.list_webhooks()),
    Operation("list-all-rate-limits", "GET", "/rate-limits", lambda c, key: c.list_rate_limits()),
]

#: Operations that change something at Persona: each sends the caller's Idempotency-Key.
MUTATIONS = [op for op in OPERATIONS if op.method in ("POST", "DELETE")]
READS = [op for op in OPERATIONS if op.method == "GET"]
WITHOUT_BODY = [op for op in OPERATIONS if op.method != "POST"]


def op_id(op: Operation) -> str:
    return op.operation_id

"""Handlers of actions on one inquiry: resume, one-time link, decisions, expiry, simulation.

Which status allows which action is decided by `transitions` (409 when refused, 422 on redacted
inquiries). Every action except resume and one-time links is a manual action: it ends the
inquiry's scenario (`SandboxState.end_scenario`). Simulate actions are validated as a whole
first, so a refused list changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Final

from persona_sandbox import verifications as vf
from persona_sandbox.documents import inquiry_document, inquiry_includes, one_time_link_meta
from persona_sandbox.errors import bad_request, unprocessable
from persona_sandbox.lifecycle import Machine
from persona_sandbox.pipeline import Answer, Call
from persona_sandbox.records import InquiryRecord
from persona_sandbox.state import SandboxState
from persona_sandbox.transitions import Action, check_sequence, ensure_allowed
from persona_sandbox.validate import Obj, root

__all__ = [
    "approve_inquiry",
    "decline_inquiry",
    "expire_inquiry",
    "generate_one_time_link",
    "mark_for_review",
    "perform_simulate_actions",
    "resume_inquiry",
]

#: Simulate action type -> the lifecycle action it performs.
SIMULATE_ACTIONS: Final = {
    "start_inquiry": Action.start,
    "complete_inquiry": Action.complete,
    "fail_inquiry": Action.fail,
    "expire_inquiry": Action.expire,
    "mark_for_review_inquiry": Action.mark_for_review,
    "approve_inquiry": Action.approve,
    "decline_inquiry": Action.decline,
    "create_passed_verification": Action.verification,
    "create_failed_verification": Action.verification,
}


#: A lifecycle change applied to an inquiry at a sandbox time.
Perform = Callable[[Machine, InquiryRecord, datetime], None]

#: The simulate actions that are one lifecycle step each (decisions and verifications aside).
_STEPS: Final[Mapping[Action, Perform]] = {
    Action.start: Machine.start,
    Action.complete: Machine.complete,
    Action.fail: Machine.fail,
    Action.expire: Machine.expire,
    Action.mark_for_review: Machine.mark_for_review,
}


def _inquiry(call: Call) -> tuple[SandboxState, InquiryRecord, frozenset[str]]:
    """The state, the inquiry brought up to now, and `include=` (checked before any change)."""
    include = inquiry_includes(call.query)
    state = call.sandbox.state
    return state, state.inquiry(call.params["inquiry_id"], call.now), include


def _meta(call: Call, allowed: tuple[str, ...]) -> Obj | None:
    return root(call.body, ("meta",)).obj("meta", allowed)


def resume_inquiry(call: Call) -> Answer:
    """`POST /inquiries/{id}/resume`: a session token; an expired inquiry becomes pending."""
    _meta(call, ())
    state, inquiry, include = _inquiry(call)
    ensure_allowed(Action.resume, inquiry)
    was_expired = inquiry.status == "expired"
    session = state.machine.resume(inquiry, call.now)
    if was_expired:
        state.replan_after_resume(inquiry, call.now)
    meta = {"session-token": session.token}
    return Answer(200, inquiry_document(state, inquiry, include, meta))


def generate_one_time_link(call: Call) -> Answer:
    """`POST /inquiries/{id}/generate-one-time-link`: refused (409) for expired inquiries."""
    meta = _meta(call, ("expires-in-seconds",))
    expires_in = meta.integer("expires-in-seconds") if meta else None
    if expires_in is not None and expires_in <= 0:
        raise unprocessable("meta.expires-in-seconds must be positive", "/meta/expires-in-seconds")
    state, inquiry, include = _inquiry(call)
    ensure_allowed(Action.one_time_link, inquiry)
    state.machine.open_session(inquiry, call.now)
    return Answer(200, inquiry_document(state, inquiry, include, one_time_link_meta()))


def _manual(call: Call, action: Action, perform: Perform) -> Answer:
    """A manual action on the inquiry: allowed by its status, it ends the scenario first."""
    state, inquiry, include = _inquiry(call)
    ensure_allowed(action, inquiry)
    state.end_scenario(inquiry)
    perform(state.machine, inquiry, call.now)
    return Answer(200, inquiry_document(state, inquiry, include))


def _decide(call: Call, action: Action, status: str) -> Answer:
    meta = _meta(call, ("comment",))
    comment = meta.string("comment") if meta else None

    def decide(machine: Machine, inquiry: InquiryRecord, at: datetime) -> None:
        machine.decide(inquiry, status, at, comment)

    return _manual(call, action, decide)


def approve_inquiry(call: Call) -> Answer:
    """`POST /inquiries/{id}/approve`, optional `meta.comment` -> `reviewer-comment`."""
    return _decide(call, Action.approve, "approved")


def decline_inquiry(call: Call) -> Answer:
    """`POST /inquiries/{id}/decline`, optional `meta.comment` -> `reviewer-comment`."""
    return _decide(call, Action.decline, "declined")


def mark_for_review(call: Call) -> Answer:
    """`POST /inquiries/{id}/mark-for-review`: refused once approved or declined."""
    _meta(call, ())
    return _manual(call, Action.mark_for_review, Machine.mark_for_review)


def expire_inquiry(call: Call) -> Answer:
    """`POST /inquiries/{id}/expire`: ends sessions and cancels initiated verifications."""
    _meta(call, ())
    return _manual(call, Action.expire, Machine.expire)


def _simulate_actions(call: Call) -> list[tuple[str, str | None]]:
    meta = root(call.body, ("meta",)).required_obj("meta", ("simulate-actions",))
    items = meta.raw("simulate-actions")
    if not isinstance(items, list):
        raise bad_request(
            "meta.simulate-actions is missing"
            if items is None
            else "meta.simulate-actions must be an array"
        )
    actions: list[tuple[str, str | None]] = []
    for index, item in enumerate(items):
        path = f"meta.simulate-actions[{index}]"
        kind = item.get("type") if isinstance(item, dict) else None
        if kind not in SIMULATE_ACTIONS:
            raise bad_request(f"{path}.type must be one of {', '.join(SIMULATE_ACTIONS)}")
        creates = SIMULATE_ACTIONS[kind] is Action.verification
        action = Obj(item, path, ("type", "data") if creates else ("type",))
        template = None
        if creates:
            data = action.required_obj("data", ("verification-template-id",))
            template = data.required_str("verification-template-id")
            if not template.startswith("vtmpl_"):
                raise unprocessable(
                    f"{path}.data.verification-template-id {template!r} is not a verification "
                    "template id (vtmpl_...)",
                    f"/meta/simulate-actions/{index}/data/verification-template-id",
                )
        actions.append((kind, template))
    return actions


def perform_simulate_actions(call: Call) -> Answer:
    """`POST /inquiries/{id}/perform-simulate-actions`: apply the actions in order."""
    actions = _simulate_actions(call)
    state, inquiry, include = _inquiry(call)
    check_sequence([(SIMULATE_ACTIONS[kind], kind) for kind, _ in actions], inquiry)
    state.end_scenario(inquiry)
    machine, now = state.machine, call.now
    for kind, template in actions:
        action = SIMULATE_ACTIONS[kind]
        if action is Action.verification and template is not None:
            passed = kind == "create_passed_verification"
            kind_of = vf.kind_for_template(template)
            machine.add_verification(inquiry, kind_of, now, template_id=template, passed=passed)
        elif action in _STEPS:
            _STEPS[action](machine, inquiry, now)
        else:
            machine.decide(inquiry, "approved" if action is Action.approve else "declined", now)
    return Answer(200, inquiry_document(state, inquiry, include))

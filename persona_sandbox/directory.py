"""Cases and account relations: the sandbox objects outside the inquiry lifecycle.

Cases carry a free-form status (Persona lets each case template define its own); the sandbox's
case template knows `Open`, `Pending`, `Approved` and `Declined`, the last two resolving the case.
Relations link an account to another account under a relation-schema key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from persona_sandbox.errors import conflict, not_found, stored, unprocessable
from persona_sandbox.ids import new_id
from persona_sandbox.records import AccountRecord, CaseRecord, RelationRecord

if TYPE_CHECKING:
    from persona_sandbox.state import SandboxState

__all__ = ["CASE_STATUSES", "Directory"]

#: Statuses of the sandbox's case template; the resolving ones set `resolved-at`.
CASE_STATUSES: Final = ("Open", "Pending", "Approved", "Declined")
_RESOLVING: Final = frozenset({"Approved", "Declined"})
_MAX_SLA_S: Final = 90 * 86_400
#: Object id prefixes a case may attach, by case relationship name (the sandbox stores no
#: reports or transactions, so attaching one is a 404 like any unknown object).
_CASE_OBJECTS: Final = {
    "inq_": "inquiries",
    "ver_": "verifications",
    "act_": "accounts",
    "rep_": "reports",
    "txn_": "txns",
}


class Directory:
    """Cases and relations of one sandbox.

    Args:
        state: the sandbox state holding inquiries, verifications and accounts.
    """

    def __init__(self, state: SandboxState) -> None:
        self._state = state
        self.cases: dict[str, CaseRecord] = {}
        self.relations: dict[str, list[RelationRecord]] = {}

    # --- accounts -----------------------------------------------------------------------

    def account(self, account_id: str) -> AccountRecord:
        """A stored account.

        Raises:
            RefusalError: 404 when there is no such account.
        """
        return stored(self._state.accounts, account_id, "account")

    def add_relation(
        self, account: AccountRecord, key: str, target_id: str, now: datetime
    ) -> RelationRecord:
        """Relate `account` to another account under `key`.

        Raises:
            RefusalError: 404 for an unknown target, 422 for a self-relation or an empty key,
                409 for a relation that already exists.
        """
        if not key:
            raise unprocessable(
                "meta.relation-schema-key must not be empty", "/meta/relation-schema-key"
            )
        if target_id not in self._state.accounts:
            raise not_found(f"meta.target-object-id {target_id!r} is not found")
        if target_id == account.id:
            raise unprocessable("An account cannot be related to itself", "/meta/target-object-id")
        existing = self.relations.setdefault(account.id, [])
        if any(rel.key == key and rel.target_id == target_id for rel in existing):
            raise conflict(f"Relation {key!r} to {target_id} already exists")
        relation = RelationRecord(account.id, key, target_id, now)
        existing.append(relation)
        account.updated_at = now
        return relation

    def related_accounts(self, account: AccountRecord, key: str) -> list[AccountRecord]:
        """Accounts related to `account` under `key`, newest relation first."""
        found = [rel for rel in self.relations.get(account.id, []) if rel.key == key]
        return [self._state.accounts[rel.target_id] for rel in reversed(found)]

    # --- cases --------------------------------------------------------------------------

    def case(self, case_id: str) -> CaseRecord:
        """A stored case.

        Raises:
            RefusalError: 404 when there is no such case.
        """
        return stored(self.cases, case_id, "case")

    def _attach(self, object_ids: Sequence[str]) -> dict[str, list[str]]:
        attached: dict[str, list[str]] = {}
        stores: Mapping[str, Mapping[str, Any]] = {
            "inquiries": self._state.inquiries,
            "verifications": self._state.verifications,
            "accounts": self._state.accounts,
        }
        for object_id in object_ids:
            relation = next(
                (name for prefix, name in _CASE_OBJECTS.items() if object_id.startswith(prefix)),
                None,
            )
            if relation is None or object_id not in stores.get(relation, {}):
                raise not_found(f"meta.object-ids {object_id!r} is not found")
            attached.setdefault(relation, []).append(object_id)
        return attached

    def create_case(
        self,
        *,
        template_id: str,
        now: datetime,
        queue_id: str | None = None,
        creator_email: str | None = None,
        fields: Mapping[str, Any] | None = None,
        object_ids: Sequence[str] = (),
        sla_s: float | None = None,
    ) -> CaseRecord:
        """Open a case, attaching existing objects.

        Raises:
            RefusalError: 422 for a bad template id or SLA, 404 for an unknown attached object.
        """
        if not template_id.startswith("ctmpl_"):
            raise unprocessable(
                "data.attributes.case-template-id must be a case template id (ctmpl_...)",
                "/data/attributes/case-template-id",
            )
        if sla_s is not None and not 0 < sla_s <= _MAX_SLA_S:
            raise unprocessable(
                "meta.sla-expires-in-seconds must be between 1 second and 90 days",
                "/meta/sla-expires-in-seconds",
            )
        attached = self._attach(object_ids)
        case = CaseRecord(
            id=new_id("case_"),
            name=f"CASE-{len(self.cases) + 1}",
            status="Open",
            template_id=template_id,
            created_at=now,
            updated_at=now,
            queue_id=queue_id,
            creator_email=creator_email,
            sla_expires_at=now + timedelta(seconds=sla_s) if sla_s is not None else None,
            fields=dict(fields or {}),
            object_ids=attached,
        )
        self.cases[case.id] = case
        return case

    def set_case_status(self, case: CaseRecord, status: str, now: datetime) -> CaseRecord:
        """Move a case to one of its template's statuses (case-insensitive match).

        Raises:
            RefusalError: 422 for a status the template does not define.
        """
        canonical = next((name for name in CASE_STATUSES if name.lower() == status.lower()), None)
        if canonical is None:
            raise unprocessable(
                f"Unknown case status {status!r} (allowed: {', '.join(CASE_STATUSES)})",
                "/meta/status",
            )
        if canonical != case.status:
            case.status = canonical
            case.resolved_at = now if canonical in _RESOLVING else None
            case.updated_at = now
        return case

    def object_type(self, object_id: str) -> str:
        """The `type` of a verification attached to a case (the other relations are typed)."""
        return self._state.verifications[object_id].type

"""Top-level documents of inquiry answers, and the `include=` rules they follow.

From API version 2025-10-27 on, `included` is empty unless `include=` names relationships.
`include` takes comma-separated relationship paths with at most one level of nesting; a name
that is not a relationship of the object is a 400. The sandbox stores verifications and
accounts, so those are the objects it can include; other valid names include nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from persona_sandbox.errors import bad_request
from persona_sandbox.ids import new_id
from persona_sandbox.records import InquiryRecord
from persona_sandbox.state import SandboxState

__all__ = [
    "INQUIRY_RELATIONSHIPS",
    "VERIFICATION_RELATIONSHIPS",
    "inquiry_document",
    "inquiry_includes",
    "one_time_link_meta",
    "parse_include",
]

INQUIRY_RELATIONSHIPS: Final = frozenset(
    {
        "account",
        "documents",
        "template",
        "inquiry-template",
        "inquiry-template-version",
        "reports",
        "transaction",
        "reviewer",
        "selfies",
        "sessions",
        "verifications",
    }
)
VERIFICATION_RELATIONSHIPS: Final = frozenset(
    {
        "inquiry",
        "template",
        "inquiry-template",
        "inquiry-template-version",
        "transaction",
        "verification-template",
        "verification-template-version",
        "document",
        "accounts",
    }
)
_LINK_BASE: Final = "https://withpersona.com/verify?code="
_SHORT_BASE: Final = "https://perso.na/verify?code="


def parse_include(query: Mapping[str, str], allowed: frozenset[str]) -> frozenset[str]:
    """The top-level relationship names `include=` asks for.

    Raises:
        RefusalError: 400 for a name that is not a relationship or nests too deeply.
    """
    raw = query.get("include")
    if not raw:
        return frozenset()
    names = set()
    for path in filter(None, (part.strip() for part in raw.split(","))):
        parts = path.split(".")
        if len(parts) > 2 or parts[0] not in allowed:
            raise bad_request(f"include {path!r} is not a relationship of this object")
        names.add(parts[0])
    return frozenset(names)


def inquiry_includes(query: Mapping[str, str]) -> frozenset[str]:
    """The inquiry relationships `include=` asks for; parse it before changing anything.

    Raises:
        RefusalError: 400 for a name that is not an inquiry relationship.
    """
    return parse_include(query, INQUIRY_RELATIONSHIPS)


def inquiry_document(
    state: SandboxState,
    inquiry: InquiryRecord,
    include: frozenset[str],
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`{data, included, meta?}` for one inquiry, with the included objects asked for."""
    document: dict[str, Any] = {
        "data": state.inquiry_resource(inquiry),
        "included": state.included(inquiry, include) if include else [],
    }
    if meta is not None:
        document["meta"] = meta
    return document


def one_time_link_meta() -> dict[str, str]:
    """A fresh `one-time-link` and `one-time-link-short` (single-use codes)."""
    code = new_id("otl_")[4:]
    return {
        "one-time-link": _LINK_BASE + code,
        "one-time-link-short": _SHORT_BASE + code[:10],
    }

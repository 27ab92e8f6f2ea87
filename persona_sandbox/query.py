"""Listing inquiries: Persona's filters, newest-first order and cursor pages.

`GET /inquiries` accepts `filter[...]` (ids up to 100, account ids, reference id, template ids,
statuses, created-at range, or a note on its own) and `page[size|after|before]`. Cursors are
object ids: `page[after]` gives the objects older than that one, `page[before]` the newer ones.
Links repeat the filters so a client can follow them as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from urllib.parse import urlencode

from persona_sandbox.errors import bad_request
from persona_sandbox.records import InquiryRecord
from persona_sandbox.state import SandboxState

__all__ = ["InquiryPage", "InquiryQuery", "list_inquiries", "parse_inquiry_query"]

MAX_IDS: Final = 100
_FILTERS: Final = frozenset(
    {
        "inquiry-id",
        "account-id",
        "note",
        "reference-id",
        "inquiry-template-id",
        "template-id",
        "status",
        "created-at-start",
        "created-at-end",
    }
)
_PAGE: Final = frozenset({"size", "after", "before"})


def _csv(value: str | None) -> frozenset[str] | None:
    if value is None:
        return None
    return frozenset(part.strip() for part in value.split(",") if part.strip())


def _moment(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(f"filter[{name}] must be an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise bad_request(f"filter[{name}] must include a time zone")
    return moment


@dataclass(frozen=True, slots=True, kw_only=True)
class InquiryQuery:
    """A parsed list request."""

    filters: Mapping[str, str]
    """The raw filters, repeated in pagination links."""
    size: int = 10
    after: str | None = None
    before: str | None = None
    ids: frozenset[str] | None = None
    sets: tuple[tuple[str, frozenset[str]], ...] = ()
    """(attribute, accepted values) for the comma-list filters other than ids."""
    start: datetime | None = None
    end: datetime | None = None

    def matches(self, inquiry: InquiryRecord) -> bool:
        """Whether an inquiry passes every filter."""
        if self.ids is not None and inquiry.id not in self.ids:
            return False
        values = {
            "account-id": inquiry.account_id,
            "inquiry-template-id": inquiry.inquiry_template_id,
            "template-id": inquiry.template_id,
            "status": inquiry.status,
        }
        if any(values[name] not in accepted for name, accepted in self.sets):
            return False
        f = self.filters
        if "reference-id" in f and inquiry.reference_id != f["reference-id"]:
            return False
        if "note" in f and inquiry.note != f["note"]:
            return False
        return (self.start is None or inquiry.created_at >= self.start) and (
            self.end is None or inquiry.created_at <= self.end
        )


def parse_inquiry_query(params: Mapping[str, str]) -> InquiryQuery:
    """Read `filter[...]`, `page[...]` and `include` from query parameters.

    Raises:
        RefusalError: 400 for an unknown filter, more than 100 ids, a bad page size, or `include`.
    """
    if params.get("include"):
        raise bad_request("include is not allowed on list endpoints")
    filters: dict[str, str] = {}
    page: dict[str, str] = {}
    for key, value in params.items():
        for prefix, known, into in (("filter[", _FILTERS, filters), ("page[", _PAGE, page)):
            if key.startswith(prefix) and key.endswith("]"):
                name = key[len(prefix) : -1]
                if name not in known:
                    raise bad_request(f"{key} is not a supported parameter")
                into[name] = value
    ids = _csv(filters.get("inquiry-id"))
    if ids is not None and len(ids) > MAX_IDS:
        raise bad_request(f"filter[inquiry-id] accepts at most {MAX_IDS} ids")
    if "note" in filters and len(filters) > 1:
        raise bad_request("filter[note] must be the only filter")
    size = 10
    if "size" in page:
        try:
            size = int(page["size"])
        except ValueError:
            raise bad_request("page[size] must be an integer between 1 and 100") from None
        if not 1 <= size <= MAX_IDS:
            raise bad_request("page[size] must be an integer between 1 and 100")
    if "after" in page and "before" in page:
        raise bad_request("page[after] and page[before] cannot be combined")
    sets = tuple(
        (name, accepted)
        for name in ("account-id", "inquiry-template-id", "template-id", "status")
        if (accepted := _csv(filters.get(name))) is not None
    )
    return InquiryQuery(
        filters=filters,
        size=size,
        after=page.get("after"),
        before=page.get("before"),
        ids=ids,
        sets=sets,
        start=_moment("created-at-start", filters.get("created-at-start")),
        end=_moment("created-at-end", filters.get("created-at-end")),
    )


@dataclass(frozen=True, slots=True)
class InquiryPage:
    """One page of a list answer and its links."""

    items: list[InquiryRecord]
    prev: str | None
    next: str | None


def _cursor_seq(state: SandboxState, inquiry_id: str, param: str) -> int:
    inquiry = state.inquiries.get(inquiry_id)
    if inquiry is None:
        raise bad_request(f"page[{param}] names an unknown inquiry {inquiry_id!r}")
    return inquiry.seq


def _link(query: InquiryQuery, cursor: str, inquiry_id: str) -> str:
    params = {f"filter[{name}]": value for name, value in query.filters.items()}
    params["page[size]"] = str(query.size)
    params[f"page[{cursor}]"] = inquiry_id
    return "/api/v1/inquiries?" + urlencode(params)


def list_inquiries(state: SandboxState, query: InquiryQuery, now: datetime) -> InquiryPage:
    """Advance the candidates to `now`, filter them and cut the requested page."""
    if query.ids is not None:
        candidates = sorted(
            (state.inquiries[i] for i in query.ids if i in state.inquiries),
            key=lambda inquiry: inquiry.seq,
            reverse=True,
        )
    else:
        candidates = list(reversed(state.order))
    matched = []
    for inquiry in candidates:
        state.machine.advance(inquiry, now)
        if query.matches(inquiry):
            matched.append(inquiry)
    if query.after is not None:
        after = _cursor_seq(state, query.after, "after")
        items = [inquiry for inquiry in matched if inquiry.seq < after][: query.size]
    elif query.before is not None:
        before = _cursor_seq(state, query.before, "before")
        items = [inquiry for inquiry in matched if inquiry.seq > before][-query.size :]
    else:
        items = matched[: query.size]
    if not items:
        return InquiryPage(items, None, None)
    newer = matched[0].seq > items[0].seq
    older = matched[-1].seq < items[-1].seq
    return InquiryPage(
        items,
        _link(query, "before", items[0].id) if newer else None,
        _link(query, "after", items[-1].id) if older else None,
    )

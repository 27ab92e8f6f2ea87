"""What a report says, as events carry it (pure: no I/O).

A report's matches differ by type: a watchlist report lists `matched-lists`, each with the
matched `entities`; a PEP report lists the matched people in `result`, each with the `sources`
(lists) that name them; an adverse-media report lists matched people in `related-sources`, each
with its `sources`. The summary reduces all three to the same shape: whether anything matched,
how many matches, and per list (or source) its name and how many matches it holds. Matched
people's names, birthdates and articles never enter it.

The query Persona echoes back holds the person's name and birthdate: only the keys named in
`PUBLISH_FIELDS` are copied into events, like inquiry fields.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from typing import Any, Final

from jobs.documents import MatchedList, ReportOutcome, ReportReadyEvent, published_at
from jobs.persona.errors import DescribedError
from jobs.persona.models import Report, ReportAttributes

__all__ = [
    "failed_outcome",
    "outcome_of",
    "published_query",
    "ready_event",
    "report_type_of",
]

_UNNAMED: Final = "unnamed list"
_ECHOED: Final = ("name-first", "name-middle", "name-last", "term", "birthdate", "country-code")


def report_type_of(report: Report) -> str:
    """The report's type without Persona's `report/` prefix."""
    return report.type.removeprefix("report/")


def _names(sources: Any) -> set[str]:
    """The list names of one matched entity's `sources` (an object or an array of sources)."""
    items: Iterable[Any] = ()
    if isinstance(sources, dict):
        items = sources.values()
    elif isinstance(sources, list):
        items = sources
    return {str(item.get("name")) for item in items if isinstance(item, dict) and item.get("name")}


def _counts(attributes: ReportAttributes) -> tuple[int, Counter[str]]:
    """(matches, matches per list name) of any of the three person screenings."""
    per_list: Counter[str] = Counter()
    if attributes.matched_lists:
        total = 0
        for item in attributes.matched_lists:
            entities = item.get("entities")
            count = max(len(entities), 1) if isinstance(entities, list) else 1
            per_list[str(item.get("name") or item.get("slug") or _UNNAMED)] += count
            total += count
        return total, per_list
    people = attributes.result if isinstance(attributes.result, list) else []
    people = people or attributes.related_sources or []
    for person in people:
        for name in _names(person.get("sources") if isinstance(person, dict) else None) or {
            _UNNAMED
        }:
            per_list[name] += 1
    return len(people), per_list


def _matched_lists(per_list: Counter[str]) -> list[MatchedList]:
    return [{"name": name, "matches": count} for name, count in sorted(per_list.items())]


def outcome_of(report: Report) -> ReportOutcome:
    """A ready or errored report's outcome, as a screening answer carries it."""
    total, per_list = _counts(report.attributes)
    has_match = report.attributes.has_match
    return {
        "report_type": report_type_of(report),
        "report_id": report.id,
        "status": report.status,
        "has_match": has_match if has_match is not None else total > 0,
        "match_count": total,
        "matched_lists": _matched_lists(per_list),
        "error": None,
    }


def failed_outcome(report_type: str, report_id: str | None, error: DescribedError) -> ReportOutcome:
    """The outcome of a report that could not run (refused, or no answer by its deadline)."""
    return {
        "report_type": report_type,
        "report_id": report_id,
        "status": "failed",
        "has_match": None,
        "match_count": 0,
        "matched_lists": [],
        "error": error.to_dict(),
    }


def published_query(report: Report, publish_fields: Collection[str]) -> dict[str, Any]:
    """The echoed query values whose keys `PUBLISH_FIELDS` names (none by default)."""
    attributes = report.attributes
    echoed = dict(attributes.query or {})
    for key in _ECHOED:
        value = getattr(attributes, key.replace("-", "_"))
        if value is not None:
            echoed.setdefault(key, value)
    allowed = set(publish_fields)
    return {key: value for key, value in echoed.items() if key in allowed and value is not None}


def ready_event(
    report: Report,
    *,
    request_id: str,
    reference_id: str | None,
    account_id: str | None,
    publish_fields: Collection[str],
    now: float,
) -> ReportReadyEvent:
    """The `data` of `report.ready`, the answer of a `run_report` request."""
    outcome = outcome_of(report)
    return {
        "event": "report.ready",
        "request_id": request_id,
        "report_id": report.id,
        "report_type": outcome["report_type"],
        "reference_id": reference_id,
        "account_id": account_id or report_account(report),
        "status": report.status,
        "has_match": bool(outcome["has_match"]),
        "match_count": outcome["match_count"],
        "matched_lists": outcome["matched_lists"],
        "query": published_query(report, publish_fields),
        "published_at": published_at(now),
    }


def report_account(report: Report) -> str | None:
    """The id of the account Persona tied the report to, when it names one."""
    related = report.relationships.get("account")
    ids = related.ids() if related is not None else []
    return ids[0] if ids else None

"""Sandbox reports: three person screenings, how each ends, and their resource objects.

The sandbox runs `report/watchlist`, `report/politically-exposed-person` and
`report/adverse-media` (any other type is refused with 422). A report is `pending` from its
creation until `report_after_s` sandbox seconds later (`SandboxConfig`; 0 makes it end at
once), then it ends by a rule on the words of its query's name parts and `term`, compared
without regard to case:

| word in the query | outcome |
| --- | --- |
| `Unscreenable` | `errored` (any type) |
| `Sanctioned` | a watchlist report matches one entity on `Sandbox Sanctions List` |
| `Exposed` | a PEP report matches one person, on the source `Sandbox PEP List` |
| `Newsworthy` | an adverse-media report matches one person, on `Sandbox Adverse Media` |

Otherwise it is `ready` with no match. Resources follow the report schemas of create-a-report
and retrieve-a-report (each type its own attributes; PEP echoes its query under `query`); the
routes are `persona_sandbox.routes_reports`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from persona_sandbox.ids import derived_id
from persona_sandbox.serialize import iso

__all__ = [
    "ERROR_WORD",
    "MATCH_WORDS",
    "NAME_KEYS",
    "QUERY_KEYS",
    "ReportRecord",
    "report_resource",
]

#: The word that makes each report type match, and the word that makes any report error.
MATCH_WORDS: Final[Mapping[str, str]] = {
    "watchlist": "sanctioned",
    "politically-exposed-person": "exposed",
    "adverse-media": "newsworthy",
}
ERROR_WORD: Final = "unscreenable"
NAME_KEYS: Final = ("name-first", "name-middle", "name-last", "term")
#: The query keys of each type's request schema.
QUERY_KEYS: Final[Mapping[str, tuple[str, ...]]] = {
    "watchlist": (*NAME_KEYS, "birthdate", "address-country-code"),
    "politically-exposed-person": (*NAME_KEYS, "birthdate", "country-code"),
    "adverse-media": (*NAME_KEYS, "birthdate", "country-code"),
}


@dataclass(slots=True)
class ReportRecord:
    """One report: what was asked, when, and how it ends."""

    id: str
    report_type: str
    query: dict[str, str]
    created_at: datetime
    ends_at: datetime
    template_id: str
    account_id: str | None

    @property
    def words(self) -> set[str]:
        """The lower-case words of the query's names."""
        return {
            word.lower() for key in NAME_KEYS for word in self.query.get(key, "").split() if word
        }

    def status(self, now: datetime) -> str:
        """`pending` until it ends, then `errored` or `ready` by the module's rule."""
        if now < self.ends_at:
            return "pending"
        return "errored" if ERROR_WORD in self.words else "ready"

    def matches(self, now: datetime) -> bool:
        """Whether the ended report matched (its type's word is in the query)."""
        return self.status(now) == "ready" and MATCH_WORDS[self.report_type] in self.words

    @property
    def full_name(self) -> str:
        """The matched person's name as the sandbox's lists hold it."""
        parts = [self.query.get(key) for key in ("name-first", "name-middle", "name-last")]
        return " ".join(part for part in parts if part) or self.query.get("term", "")


def _shared(report: ReportRecord, now: datetime) -> dict[str, Any]:
    status = report.status(now)
    return {
        "status": status,
        "created-at": iso(report.created_at),
        "completed-at": iso(report.ends_at) if status != "pending" else None,
        "redacted-at": None,
        "report-template-version-name": "v1",
        "has-match": report.matches(now),
        "is-continuous": False,
        "is-recurring": False,
        "tags": [],
    }


def _watchlist(report: ReportRecord, now: datetime) -> dict[str, Any]:
    query = report.query
    matched = []
    if report.matches(now):
        matched.append(
            {
                "name": "Sandbox Sanctions List",
                "url": "https://sandbox.invalid/lists/sanctions",
                "list-type": "sanction",
                "list-types": ["sanction"],
                "slug": "sandbox-sanctions",
                "flag-code": "XX",
                "entities": [{"name": report.full_name, "alias-type": "primary_name"}],
            }
        )
    return {
        **{key: query.get(key) for key in ("name-first", "name-middle", "name-last", "term")},
        "birthdate": query.get("birthdate"),
        "country-code": query.get("address-country-code"),
        "matched-lists": matched,
        "ignore-list": [],
    }


def _pep(report: ReportRecord, now: datetime) -> dict[str, Any]:
    result = []
    if report.matches(now):
        result.append(
            {
                "entity-id": derived_id("PEP", report.full_name)[3:18],
                "name": report.full_name,
                "country": "Sandbox",
                "topics": ["PEP"],
                "match-types": ["name-exact"],
                "sources": {
                    "sandbox-pep": {
                        "url": "https://sandbox.invalid/lists/pep",
                        "name": "Sandbox PEP List",
                        "flag-code": "XX",
                    }
                },
            }
        )
    return {
        "query": {key: value for key, value in report.query.items() if value},
        "result": result,
        "ignore-list": [],
    }


def _adverse_media(report: ReportRecord, now: datetime) -> dict[str, Any]:
    query = report.query
    sources = []
    if report.matches(now):
        sources.append(
            {
                "entity-id": derived_id("AM", report.full_name)[2:17],
                "name": report.full_name,
                "match-types": ["name_exact"],
                "sources": [
                    {
                        "name": "Sandbox Adverse Media",
                        "types": ["adverse-media-v2-other-minor"],
                        "country-codes": [],
                    }
                ],
                "media": [
                    {
                        "date": report.created_at.date().isoformat(),
                        "title": "Sandbox headline",
                        "snippet": "A sandbox article that names the person.",
                        "url": "https://sandbox.invalid/news/1",
                    }
                ],
            }
        )
    echoed: dict[str, Any] = {
        key: query.get(key) for key in ("name-first", "name-middle", "name-last")
    }
    if query.get("term"):
        echoed["term"] = query["term"]
    birthdate = query.get("birthdate")
    return {
        **echoed,
        "birthdate-year": int(birthdate[:4]) if birthdate else None,
        "birthdate": birthdate,
        "country-code": query.get("country-code"),
        "related-sources": sources,
        "ignore-list-media": {},
        "ignore-list-entity": [],
    }


_BUILDERS: Final = {
    "watchlist": _watchlist,
    "politically-exposed-person": _pep,
    "adverse-media": _adverse_media,
}


def report_resource(report: ReportRecord, now: datetime) -> dict[str, Any]:
    """The report resource object, in its type's schema."""
    account = {"type": "account", "id": report.account_id} if report.account_id else None
    return {
        "type": f"report/{report.report_type}",
        "id": report.id,
        "attributes": {**_shared(report, now), **_BUILDERS[report.report_type](report, now)},
        "relationships": {
            "inquiry": {"data": None},
            "account": {"data": account},
            "transaction": {"data": None},
            "report-template": {
                "data": {"type": f"report-template/{report.report_type}", "id": report.template_id}
            },
        },
    }

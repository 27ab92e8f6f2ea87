"""What a report says, per type, as events carry it: matches per list, no matched person."""

from __future__ import annotations

from typing import Any

from jobs.persona.errors import UnprocessableError
from jobs.persona.models import Report
from jobs.reports.summary import failed_outcome, outcome_of, published_query, ready_event


def _report(report_type: str, **attributes: Any) -> Report:
    return Report.model_validate(
        {
            "type": f"report/{report_type}",
            "id": "rep_1",
            "attributes": {"status": "ready", **attributes},
            "relationships": {"account": {"data": {"type": "account", "id": "act_1"}}},
        }
    )


def test_a_watchlist_report_counts_the_entities_of_each_matched_list() -> None:
    report = _report(
        "watchlist",
        **{
            "has-match": True,
            "matched-lists": [
                {"name": "OFAC SDN", "entities": [{"name": "A"}, {"name": "B"}]},
                {"name": "EU Sanctions", "entities": [{"name": "A"}]},
            ],
        },
    )
    outcome = outcome_of(report)
    assert (outcome["has_match"], outcome["match_count"]) == (True, 3)
    assert outcome["matched_lists"] == [
        {"name": "EU Sanctions", "matches": 1},
        {"name": "OFAC SDN", "matches": 2},
    ]


def test_a_pep_report_counts_its_people_by_the_sources_that_name_them() -> None:
    person = {"name": "Secret Name", "sources": {"a": {"name": "PEP List"}, "b": {"name": "Gov"}}}
    outcome = outcome_of(_report("politically-exposed-person", result=[person, person]))
    assert outcome["match_count"] == 2
    assert outcome["matched_lists"] == [
        {"name": "Gov", "matches": 2},
        {"name": "PEP List", "matches": 2},
    ]
    assert "Secret Name" not in str(outcome)


def test_an_adverse_media_report_counts_its_people_by_source() -> None:
    person = {"name": "Secret Name", "sources": [{"name": "Adverse Media"}], "media": [{}]}
    outcome = outcome_of(_report("adverse-media", **{"related-sources": [person]}))
    assert outcome["matched_lists"] == [{"name": "Adverse Media", "matches": 1}]
    assert outcome["has_match"] is True


def test_a_report_without_matches_has_none() -> None:
    outcome = outcome_of(_report("watchlist", **{"has-match": False, "matched-lists": []}))
    assert (outcome["has_match"], outcome["match_count"], outcome["matched_lists"]) == (
        False,
        0,
        [],
    )


def test_a_failed_outcome_says_why_and_matches_nothing() -> None:
    outcome = failed_outcome("watchlist", None, UnprocessableError("Persona answered 422"))
    assert (outcome["status"], outcome["has_match"]) == ("failed", None)
    assert outcome["error"] is not None
    assert outcome["error"]["type"] == "UnprocessableError"


def test_only_the_published_fields_of_the_echoed_query_are_published() -> None:
    report = _report(
        "politically-exposed-person",
        query={"name-first": "Jane", "name-last": "Doe", "birthdate": "1990-01-02"},
    )
    assert published_query(report, ("name-last",)) == {"name-last": "Doe"}
    assert published_query(report, ()) == {}


def test_report_ready_names_the_request_the_report_and_its_account() -> None:
    report = _report("watchlist", **{"name-last": "Doe", "matched-lists": []})
    data = ready_event(
        report,
        request_id="report-1",
        reference_id="person-1",
        account_id=None,
        publish_fields=(),
        now=1_767_261_960.0,
    )
    assert data["event"] == "report.ready"
    assert (data["request_id"], data["report_id"], data["account_id"]) == (
        "report-1",
        "rep_1",
        "act_1",
    )
    assert data["query"] == {}
    assert list(data)[-1] == "published_at"

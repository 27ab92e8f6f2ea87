"""Report queries, checked like Persona's request schemas, and built from an inquiry's fields."""

from __future__ import annotations

import pytest

from jobs.reports.queries import parse_query, query_from_fields

FIELDS = {
    "name-first": "Jane",
    "name-middle": None,
    "name-last": "Doe",
    "birthdate": "1990-01-02",
    "address-country-code": "GB",
    "address-street-1": "1 Road",
}


def test_a_watchlist_query_keeps_only_the_keys_given() -> None:
    assert parse_query("watchlist", {"term": "Jane Doe", "address-country-code": "GB"}) == {
        "term": "Jane Doe",
        "address-country-code": "GB",
    }


@pytest.mark.parametrize(
    ("report_type", "query", "named"),
    [
        ("watchlist", {"birthdate": "1990-01-02"}, "needs at least one of name-first"),
        ("watchlist", {"term": "J", "country-code": "GB"}, "country-code: Extra inputs"),
        ("adverse-media", {"term": "J", "address-country-code": "GB"}, "address-country-code"),
        ("politically-exposed-person", {"term": "J", "birthdate": "1990-02-30"}, "birthdate"),
        ("politically-exposed-person", {"term": "J", "country-code": "gb"}, "country-code"),
        ("watchlist", {"name-first": 7}, "name-first"),
        ("watchlist", {"name-first": "   "}, "name-first"),
        ("business-lookup", {"term": "J"}, "unknown report type"),
    ],
)
def test_a_query_that_does_not_fit_its_type_names_the_key(
    report_type: str, query: dict[str, object], named: str
) -> None:
    with pytest.raises(ValueError, match=named):
        parse_query(report_type, query)


def test_a_refused_query_never_repeats_its_values() -> None:
    with pytest.raises(ValueError, match="birthdate") as caught:
        parse_query("watchlist", {"name-last": "Zebulonius", "birthdate": "19/07/1903"})
    assert "Zebulonius" not in str(caught.value)
    assert "1903" not in str(caught.value)


def test_a_watchlist_query_from_fields_uses_the_address_country() -> None:
    assert query_from_fields("watchlist", FIELDS) == {
        "name-first": "Jane",
        "name-last": "Doe",
        "birthdate": "1990-01-02",
        "address-country-code": "GB",
    }


def test_a_pep_query_from_fields_names_the_country_its_own_way() -> None:
    query = query_from_fields("politically-exposed-person", FIELDS)
    assert query is not None
    assert query["country-code"] == "GB"
    assert "address-country-code" not in query


def test_field_values_that_do_not_fit_are_left_out() -> None:
    query = query_from_fields(
        "adverse-media", {**FIELDS, "birthdate": "02/01/1990", "address-country-code": "Britain"}
    )
    assert query == {"name-first": "Jane", "name-last": "Doe"}


def test_fields_without_a_name_build_no_query() -> None:
    assert query_from_fields("watchlist", {"birthdate": "1990-01-02"}) is None

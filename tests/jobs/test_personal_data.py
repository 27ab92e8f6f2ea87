"""What counts as personal in a published event, and its redacted form (no I/O)."""

from __future__ import annotations

import json

from jobs.personal_data import holds_personal_data, without_personal_data


def test_field_values_are_nulled_and_their_keys_kept() -> None:
    data = {"event": "inquiry.approved", "fields": {"name-first": "Jane", "birthdate": None}}

    assert without_personal_data(data) == {
        "event": "inquiry.approved",
        "fields": {"name-first": None, "birthdate": None},
    }
    assert data["fields"] == {"name-first": "Jane", "birthdate": None}, "the input is unchanged"


def test_links_are_nulled() -> None:
    data = {"event": "inquiry.link-refreshed", "one_time_link": "https://x", "expires_at": "t"}

    assert without_personal_data(data) == {
        "event": "inquiry.link-refreshed",
        "one_time_link": None,
        "expires_at": "t",
    }


def test_an_event_without_values_or_links_has_no_redacted_form() -> None:
    assert without_personal_data({"event": "inquiry.failed", "fields": {}}) is None
    assert without_personal_data({"fields": {"name-first": None}, "one_time_link": None}) is None
    assert without_personal_data({"fields": "not an object"}) is None


def test_stored_event_data_is_judged_from_its_json() -> None:
    assert holds_personal_data(json.dumps({"fields": {"name-first": "Jane"}}))
    assert not holds_personal_data(json.dumps({"fields": {"name-first": None}}))
    assert not holds_personal_data("not json")
    assert not holds_personal_data(json.dumps(["fields"]))
    assert not holds_personal_data(None)

from __future__ import annotations

import json
from typing import Any

import pytest
from arq.jobs import deserialize_result, serialize_result

from jobs.contract import (
    UNREADABLE_JOB,
    CreateInquiryArgs,
    InquiryArgs,
    RunReportArgs,
    json_deserializer,
    json_serializer,
    parse_args,
    valid_reference_id,
)
from jobs.errors import ApiTimeoutError, JobArgumentsError


def test_valid_create_arguments_parse() -> None:
    args = parse_args(
        CreateInquiryArgs,
        (),
        {"reference_id": "user-1", "template_id": "itmplv_abc", "fields": {"name-first": "A"}},
    )
    assert args.template_id == "itmplv_abc"
    assert args.fields == {"name-first": "A"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "reference_id: Field required"),
        ({"reference_id": 12}, "reference_id: Input should be a valid string"),
        ({"reference_id": ""}, "reference_id: String should have at least 1 character"),
        ({"reference_id": " padded"}, "reference_id: must be printable"),
        ({"reference_id": "u", "template_id": "tpl_1"}, "template_id: must be an itmpl_"),
        ({"reference_id": "u", "template_id": "itmplv_"}, "template_id: must be an itmpl_"),
        ({"reference_id": "u", "surprise": 1}, "surprise: Extra inputs are not permitted"),
        ({"reference_id": "u", "fields": {"a b": "x"}}, "fields: field names are"),
        ({"reference_id": "u", "fields": {"a": "x" * 3000}}, "fields: field values are at most"),
        ({"reference_id": "u", "fields": {"a": {"nested": 1}}}, "fields.a"),
        ({"reference_id": "u", "tags": ["x"] * 21}, "tags: List should have at most 20"),
        ({"reference_id": "u", "redirect_uri": "javascript:alert(1)"}, "redirect_uri"),
        ({"reference_id": "u", "account_id": "act/../x"}, "account_id: String should match"),
    ],
)
def test_bad_create_arguments_are_refused_clearly(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(JobArgumentsError, match=message.replace(".", r"\.").replace("(", r"\(")):
        parse_args(CreateInquiryArgs, (), kwargs)


def test_positional_arguments_are_refused() -> None:
    with pytest.raises(JobArgumentsError, match="keyword-only"):
        parse_args(InquiryArgs, ("inq_1",), {})


def test_error_messages_never_echo_values() -> None:
    with pytest.raises(JobArgumentsError) as caught:
        parse_args(CreateInquiryArgs, (), {"reference_id": "u", "fields": {"ssn": ["123-45-6789"]}})
    assert "123-45-6789" not in str(caught.value)


def test_inquiry_ids_with_separators_are_refused() -> None:
    with pytest.raises(JobArgumentsError, match="inquiry_id"):
        parse_args(InquiryArgs, (), {"inquiry_id": "inq_1:poll"})


def test_serializer_round_trips_a_job_as_json() -> None:
    job = {"t": 1, "f": "create_inquiry", "a": [], "k": {"reference_id": "u"}, "et": 1}
    raw = json_serializer(job)
    assert json.loads(raw) == job
    assert json_deserializer(raw) == job


def test_a_stored_result_keeps_its_value_but_not_the_persons_arguments() -> None:
    kwargs = {"reference_id": "user-1", "fields": {"name-first": "Alexander"}}
    raw = serialize_result(
        "create_inquiry",
        (),
        kwargs,
        1,
        1,
        True,
        {"inquiry_id": "inq_1"},
        2,
        3,
        "ref",
        "q",
        "job-1",
        serializer=json_serializer,
    )
    assert raw is not None

    result = json.loads(raw)

    assert (result["a"], result["k"]) == ([], {})
    assert result["r"] == {"inquiry_id": "inq_1"}
    assert b"Alexander" not in raw
    assert b"user-1" not in raw
    assert deserialize_result(raw, deserializer=json_deserializer).result == {"inquiry_id": "inq_1"}


def test_serializer_describes_exceptions_instead_of_pickling() -> None:
    raw = json_serializer({"r": ApiTimeoutError("slow", path="/inquiries"), "s": False})
    assert json.loads(raw)["r"]["error"]["type"] == "ApiTimeoutError"
    foreign = json.loads(json_serializer({"r": KeyError("k")}))
    assert foreign["r"]["error"]["type"] == "KeyError"


@pytest.mark.parametrize(
    "raw", [b"\x80\x04\x95pickle", b"[1,2]", b"not json", b'{"a": []}', b"[" * 100_000]
)
def test_a_payload_that_is_not_a_json_job_becomes_the_unreadable_job(raw: bytes) -> None:
    job = json_deserializer(raw)

    assert job["f"] == UNREADABLE_JOB
    assert (job["a"], set(job["k"])) == ([], {"reason"})
    assert job["k"]["reason"].startswith("the job is not ")


def test_an_integer_too_long_to_read_fails_validation_by_field_name() -> None:
    job = json_deserializer(
        b'{"f": "create_inquiry", "k": {"fields": {"age": ' + b"9" * 5_000 + b"}}}"
    )

    with pytest.raises(JobArgumentsError, match=r"^fields\.age"):
        parse_args(CreateInquiryArgs, (), {"reference_id": "user-1", **job["k"]})


@pytest.mark.parametrize("raw", [b'{"x": NaN}', b'{"x": Infinity}', b'{"x": -Infinity}'])
def test_non_finite_numbers_are_refused_as_arguments(raw: bytes) -> None:
    # Regression: Python's JSON parser reads them, the model took them, and the request then
    # failed inside the HTTP client (not JSON) with no job.failed event at all.
    fields = json.loads(raw)
    with pytest.raises(JobArgumentsError, match=r"fields\.x\.float: Input should be a finite"):
        parse_args(CreateInquiryArgs, (), {"reference_id": "user-1", "fields": fields})


@pytest.mark.parametrize(
    ("value", "kept"),
    [("user-1", "user-1"), ("r" * 1_000_000, None), ("a\nb", None), (" a", None), (42, None)],
    ids=["valid", "one-megabyte", "control-chars", "padded", "not-a-string"],
)
def test_only_a_valid_reference_id_is_repeated_in_a_failure(value: Any, kept: str | None) -> None:
    # Regression: a refused create copied its raw reference_id (a megabyte) into job.failed.
    assert valid_reference_id(value) == kept


_REPORT = {"report_type": "watchlist", "query": {"name-last": "Doe"}, "reference_id": "u"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"report_type": "business-lookup"}, "report_type: Input should be 'watchlist'"),
        ({"query": "Doe"}, "query: Input should be a valid dictionary"),
        ({"query": {}}, "query: needs at least one of name-first"),
        ({"query": {"name-last": "Doe", "ssn": "1"}}, "query: ssn: Extra inputs"),
        ({"reference_id": None}, "give reference_id or account_id"),
        ({"account_id": "act_1"}, "give reference_id or account_id"),
        ({"report_template_id": "itmpl_1"}, "report_template_id: String should match"),
    ],
)
def test_bad_run_report_arguments_are_refused_clearly(
    changes: dict[str, Any], message: str
) -> None:
    arguments = {key: value for key, value in {**_REPORT, **changes}.items() if value is not None}
    with pytest.raises(JobArgumentsError, match=message):
        parse_args(RunReportArgs, (), arguments)


def test_run_report_arguments_give_persona_only_the_query_keys_sent() -> None:
    parsed = parse_args(RunReportArgs, (), {**_REPORT, "query": {"term": "Jane Doe"}})
    assert parsed.persona_query == {"term": "Jane Doe"}


@pytest.mark.parametrize(
    ("reports", "message"),
    [
        (["watchlist", "watchlist"], "reports: each report type at most once"),
        ([], "reports: List should have at least 1 item"),
        (["phone-number"], "reports.0: Input should be"),
    ],
)
def test_bad_screening_reports_are_refused_clearly(reports: list[str], message: str) -> None:
    with pytest.raises(JobArgumentsError, match=message):
        parse_args(CreateInquiryArgs, (), {"reference_id": "u", "reports": reports})

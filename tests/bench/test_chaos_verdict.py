"""The chaos run's accounting: one answer per request, on the stream and in the ledger."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bench.chaos.verdict import LedgerEvidence, Request, judge
from jobs.state.results import ResultEvent

REQUESTS = [Request("req-1", "person-1", True), Request("req-2", "person-2", True)]
CREATED = [
    {"attributes": {"payload": {"data": {"id": f"inq_{n}", "attributes": {"reference-id": ref}}}}}
    for n, ref in ((1, "person-1"), (2, "person-2"))
]
COUNTERS = {"creates_by_idempotency_key": {"create:req-1:0": 1, "create:req-2:0": 1}}


def _event(entry_id: str, request_id: str, inquiry_id: str) -> ResultEvent:
    data = {"request_id": request_id, "status": "approved"}
    return ResultEvent(entry_id, "inquiry.approved", inquiry_id, data)


def _judge(entries: list[ResultEvent], answers: Mapping[str, str | None], open_: int = 0) -> Any:
    ledger = LedgerEvidence(answers=answers, open_requests=open_)
    return judge(REQUESTS, entries, COUNTERS, CREATED, secrets=["s3cr3t"], ledger=ledger)


def test_one_event_per_request_that_the_ledger_names_is_clean() -> None:
    events = [_event("1-0", "req-1", "inq_1"), _event("2-0", "req-2", "inq_2")]

    verdict = _judge(events, {"req-1": "1-0", "req-2": "2-0"})

    assert verdict.clean, verdict
    assert verdict.answered == 2


def test_the_ledger_naming_another_entry_or_none_is_a_disagreement() -> None:
    events = [_event("1-0", "req-1", "inq_1"), _event("2-0", "req-2", "inq_2")]

    verdict = _judge(events, {"req-1": "9-0", "req-2": None})

    assert not verdict.clean
    assert verdict.ledger_disagrees == {
        "req-1": "answered with 9-0",
        "req-2": "no answer in the ledger",
    }


def test_a_request_still_open_in_the_ledger_spoils_the_run() -> None:
    events = [_event("1-0", "req-1", "inq_1"), _event("2-0", "req-2", "inq_2")]

    verdict = _judge(events, {"req-1": "1-0", "req-2": "2-0"}, open_=1)

    assert not verdict.clean
    assert verdict.open_requests == 1


def test_lost_duplicated_and_unexpected_events_are_listed_by_request() -> None:
    events = [
        _event("1-0", "req-1", "inq_1"),
        _event("1-1", "req-1", "inq_1"),
        _event("3-0", "req-nobody-made", "inq_9"),
    ]

    verdict = _judge(events, {"req-1": "1-0", "req-2": None})

    assert verdict.lost == ["req-2"]
    assert verdict.duplicated == {"req-1": 2}
    assert verdict.unexpected == ["3-0 inquiry.approved inq_9"]

"""The ledger as the actions use it: an action's answer leaves its inquiry's followers waiting;
the argument models."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio import Redis

from jobs.contract import (
    AccountRelationsArgs,
    DecideInquiryArgs,
    RefreshLinkArgs,
    SetCaseStatusArgs,
    parse_args,
)
from jobs.errors import JobArgumentsError
from jobs.state.keys import KeySpace
from jobs.state.ledger import Ledger
from jobs.state.results import read_range

KEYS = KeySpace("test:")


@pytest.fixture
async def ledger(decoded_redis: Redis) -> Ledger:
    """A ledger whose inquiry `inq_1` the create request `create-1` follows."""
    ledger = Ledger(decoded_redis, KEYS, stream="test:results", maxlen=1_000, answered_ttl_s=600)
    await ledger.open("create-1", "create_inquiry", 100.0, reference_id="person-1")
    await ledger.follow(
        "inq_1",
        "create-1",
        reference_id="person-1",
        status="created",
        now=100.0,
        first_due=105.0,
        creator=True,
    )
    return ledger


@pytest.mark.redis
@pytest.mark.parametrize("event", ["inquiry.decision-recorded", "job.failed"])
async def test_an_action_answer_leaves_the_followers_of_its_inquiry_waiting(
    ledger: Ledger, decoded_redis: Redis, event: str
) -> None:
    await ledger.open("decide-1", "decide_inquiry", 150.0)

    answer = await ledger.answer("decide-1", event=event, data={}, inquiry_id="inq_1")

    assert answer.new
    record = await ledger.inquiry("inq_1")
    assert record is not None
    assert (record.followers, record.done, record.round) == ({"create-1": "person-1"}, False, 0)
    assert await decoded_redis.zscore(KEYS.due, "inq_1") == 105_000
    request = await ledger.request("create-1")
    assert request is not None
    assert (request.entry, request.inquiry_id) == (None, "inq_1")
    [entry] = await read_range(decoded_redis, "test:results")
    assert (entry.event, entry.inquiry_id) == (event, "inq_1")


@pytest.mark.parametrize(
    ("model", "kwargs"),
    [
        (DecideInquiryArgs, {"inquiry_id": "inq_1", "decision": "approve", "comment": "ok"}),
        (DecideInquiryArgs, {"inquiry_id": "inq_1", "decision": "mark_for_review"}),
        (RefreshLinkArgs, {"inquiry_id": "inq_1", "expires_in_seconds": 3600}),
        (RefreshLinkArgs, {"inquiry_id": "inq_1"}),
        (SetCaseStatusArgs, {"case_id": "case_1", "status": "Approved"}),
        (AccountRelationsArgs, {"account_id": "act_1", "key": "household"}),
    ],
)
def test_valid_arguments_parse(model: Any, kwargs: dict[str, Any]) -> None:
    assert parse_args(model, (), kwargs).model_dump(exclude_none=True) == kwargs


def test_argument_errors_do_not_echo_values() -> None:
    with pytest.raises(JobArgumentsError) as caught:
        parse_args(DecideInquiryArgs, (), {"inquiry_id": "inq_1", "decision": "Jane Doe"})
    assert "Jane" not in caught.value.message
    assert caught.value.message.startswith("decision:")

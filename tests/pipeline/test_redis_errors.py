"""A Redis command that fails inside a job makes the job run again, never drops the request.

Regression: arq treats such an error like any other exception, stores a failure and deletes
the job. With Redis back a moment later (a fast restart, a failover) the create request had
no event until the sweep gave up on it, and its inquiry was orphaned.
"""

from __future__ import annotations

from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from jobs.state.store import Store
from tests.pipeline.conftest import Pipeline


@pytest.mark.parametrize("error", [RedisConnectionError, RedisTimeoutError])
async def test_a_create_whose_redis_command_fails_once_still_ends_in_one_result(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, error: type[Exception]
) -> None:
    claim = Store.claim_inquiry
    failures: list[str] = []

    async def flaky_claim(self: Store, inquiry_id: str, request_id: str) -> Any:
        # After Persona created the inquiry: the worst moment for the connection to break.
        if not failures:
            failures.append(inquiry_id)
            raise error("Connection closed by server.")
        return await claim(self, inquiry_id, request_id)

    monkeypatch.setattr(Store, "claim_inquiry", flaky_claim)
    job_id = await pipeline.create("person-1", note="sandbox-outcome=completed sandbox-after=30")

    await pipeline.run()

    assert failures, "the failure was injected"
    [result] = await pipeline.events()
    assert (result.event, result.data["request_id"]) == ("inquiry.completed", job_id)
    assert pipeline.inquiries_of("person-1") == failures, "the same, single inquiry"
    assert pipeline.calls("create-an-inquiry") == 2, "the retry replayed the create"

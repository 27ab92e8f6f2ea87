"""The worker's requests pass through the shared limiter in Redis."""

from __future__ import annotations

import pytest

from jobs.state.redis_typing import resolved
from tests.pipeline.conftest import Pipeline


@pytest.mark.settings(rate_limit_per_minute=6_000)
async def test_every_request_reserves_a_slot_in_the_shared_limiter(pipeline: Pipeline) -> None:
    for index in range(3):
        await pipeline.create(f"person-{index}", note="sandbox-outcome=completed sandbox-after=0")

    await pipeline.run()

    assert len(await pipeline.events()) == 3
    tat = await resolved(pipeline.redis.hget("persona:ratelimit", "tat"))
    assert tat is not None
    assert await pipeline.redis.pttl("persona:ratelimit") > 0

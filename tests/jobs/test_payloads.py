"""The store of result payloads from webhooks: newest first, never older than a result."""

from __future__ import annotations

import pytest

from jobs.context import JobContext
from jobs.state.payloads import PAYLOAD_TTL_S

pytestmark = pytest.mark.redis

DOCUMENT = {"data": {"type": "inquiry", "id": "inq_1", "attributes": {"status": "approved"}}}


async def test_a_newer_payload_replaces_an_older_one(context: JobContext) -> None:
    await context.payloads.offer("inq_1", status="completed", at=10.0, document=DOCUMENT)

    kept = await context.payloads.offer("inq_1", status="approved", at=20.0, document=DOCUMENT)

    stored = await context.payloads.take("inq_1")
    assert kept
    assert stored is not None
    assert (stored.status, stored.at) == ("approved", 20.0)


async def test_a_published_result_drops_its_payload_and_refuses_older_ones(
    context: JobContext,
) -> None:
    await context.payloads.offer("inq_1", status="approved", at=20.0, document=DOCUMENT)

    await context.payloads.published("inq_1", 20.0)

    assert await context.payloads.take("inq_1") is None
    assert not await context.payloads.offer("inq_1", status="approved", at=20.0, document=DOCUMENT)
    assert await context.payloads.offer("inq_1", status="expired", at=30.0, document=DOCUMENT)
    ttl = await context.redis.ttl(context.keys.payload("inq_1"))
    assert 0 < ttl <= PAYLOAD_TTL_S


async def test_forgetting_drops_a_waiting_payload_and_keeps_the_result_time(
    context: JobContext,
) -> None:
    await context.payloads.published("inq_1", 20.0)
    await context.payloads.offer("inq_1", status="expired", at=30.0, document=DOCUMENT)

    await context.payloads.forget("inq_1")

    assert await context.payloads.take("inq_1") is None
    assert not await context.payloads.offer("inq_1", status="approved", at=15.0, document=DOCUMENT)

"""The console's "now" section over a ledger set up by hand: counts by status from
`Ledger.status_counts`, the oldest waiting inquiry, the requests waiting."""

from __future__ import annotations

import time

import httpx
import pytest
from redis.asyncio import Redis

from jobs.policy.cadence import Mode
from jobs.state.keys import KeySpace
from jobs.state.ledger import Ledger
from jobs.state.webhook_flow import WebhookFlow
from settings import Settings
from tests.worker.conftest import CONSOLE_TOKEN

pytestmark = pytest.mark.redis

BEARER = {"authorization": f"Bearer {CONSOLE_TOKEN}"}


async def _follow(ledger: Ledger, n: int, status: str, since: float) -> None:
    await ledger.open(f"req-{n}", "poll_inquiry", since)
    await ledger.follow(
        f"inq_now{n}", f"req-{n}", reference_id=None, status=status, now=since, first_due=since
    )


@pytest.fixture
def ledger(decoded_redis: Redis, console_settings: Settings) -> Ledger:
    return Ledger(
        decoded_redis,
        KeySpace(console_settings.key_prefix),
        stream=console_settings.results_stream,
        maxlen=1_000,
        answered_ttl_s=60,
    )


async def test_now_counts_in_flight_by_status_and_names_the_oldest(
    console: httpx.AsyncClient, ledger: Ledger
) -> None:
    now = time.time()
    await _follow(ledger, 1, "pending", now - 60)
    await _follow(ledger, 2, "pending", now - 7_200)
    await _follow(ledger, 3, "completed", now - 5)
    page = (await console.get("/console/partial/now", headers=BEARER)).text
    assert '<span class="value" id="in-flight">3</span>' in page
    assert '<tr><td>pending</td><td class="num">2</td></tr>' in page
    assert '<tr><td>completed</td><td class="num">1</td></tr>' in page
    assert '<span class="value" id="open-requests">3</span>' in page
    assert "inq_now2" in page  # followed two hours ago: the oldest
    assert '<span class="value" id="oldest">2 h 0 min</span>' in page


async def test_now_with_nothing_in_flight_says_so(console: httpx.AsyncClient) -> None:
    page = (await console.get("/console/partial/now", headers=BEARER)).text
    assert '<span class="value" id="in-flight">0</span>' in page
    assert "nothing in flight" in page
    assert '<span class="value" id="oldest">none</span>' in page


async def test_now_shows_how_status_checks_run(
    console: httpx.AsyncClient, decoded_redis: Redis, console_settings: Settings
) -> None:
    page = (await console.get("/console/partial/now", headers=BEARER)).text
    assert '<span class="value" id="polling-mode">normal</span>' in page
    assert "no webhooks seen" in page

    flow = WebhookFlow(decoded_redis, KeySpace(console_settings.key_prefix))
    await flow.switch(Mode.WEBHOOKS, time.time(), "signed webhooks cover every change")

    page = (await console.get("/console/partial/now", headers=BEARER)).text
    assert '<span class="value" id="polling-mode">safety net</span>' in page
    assert "signed webhooks cover every change" in page

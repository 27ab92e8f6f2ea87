from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from jobs.errors import ConfigError
from jobs.state.deployment import claim_prefix
from jobs.state.keys import KeySpace
from jobs.state.ledger import Ledger
from jobs.state.redis_typing import resolved
from jobs.webhooks.signature import signature_header
from settings import Settings
from tests.conftest import TEST_WEBHOOK_SECRET

pytestmark = pytest.mark.redis

#: The keys of the default deployment, which the web app under test uses.
KEYS = KeySpace()


def event_body(
    name: str = "inquiry.approved",
    *,
    event_id: str = "evt_1",
    inquiry_id: str = "inq_1",
    status: str = "approved",
) -> bytes:
    document = {
        "data": {
            "type": "event",
            "id": event_id,
            "attributes": {
                "name": name,
                "created-at": "2025-12-02T14:47:06.000Z",
                "payload": {
                    "data": {"type": "inquiry", "id": inquiry_id, "attributes": {"status": status}},
                    "included": [],
                },
            },
        }
    }
    return json.dumps(document).encode()


def signed(body: bytes, secret: str = TEST_WEBHOOK_SECRET, at: int | None = None) -> dict[str, str]:
    return {
        "content-type": "application/json; charset=utf-8",
        "persona-signature": signature_header([secret], at or int(time.time()), body),
    }


async def deliver(web: httpx.AsyncClient, body: bytes | None = None) -> httpx.Response:
    """POST a signed delivery of `body` (by default an approved event) to the receiver."""
    body = event_body() if body is None else body
    return await web.post("/webhooks/persona", content=body, headers=signed(body))


async def _nothing_happened(redis: Redis, settings: Settings) -> None:
    assert await redis.zcard(settings.queue_name) == 0
    assert await redis.keys(KEYS.webhook_event("*")) == []


@pytest.fixture
def ledger(decoded_redis: Redis, web_settings: Settings) -> Ledger:
    """The request ledger of the web app's deployment."""
    return Ledger(
        decoded_redis,
        KEYS,
        stream=web_settings.results_stream,
        maxlen=web_settings.results_stream_maxlen,
        answered_ttl_s=web_settings.record_ttl_s,
    )


@pytest.fixture
async def followed(ledger: Ledger) -> str:
    """`inq_1` followed by the create request that made it, as `create_inquiry` leaves it."""
    now = time.time()
    await ledger.open("create-1", "create_inquiry", now, reference_id="person-1")
    outcome = await ledger.follow(
        "inq_1",
        "create-1",
        reference_id="person-1",
        status="pending",
        now=now,
        first_due=now + 60,
        creator=True,
    )
    assert outcome.following
    return "inq_1"


async def test_signed_terminal_event_enqueues_one_fetch(
    web: httpx.AsyncClient, redis: Redis, web_settings: Settings, followed: str
) -> None:
    response = await deliver(web)
    assert response.status_code == 202
    assert response.json() == {"event_id": "evt_1", "action": "fetch enqueued"}
    assert await redis.zrange(web_settings.queue_name, 0, -1) == [b"persona:fetch:inq_1:0"]


async def test_every_signed_event_tells_the_polling_tick_that_webhooks_flow(
    web: httpx.AsyncClient, redis: Redis
) -> None:
    before = time.time()

    response = await deliver(web, event_body("case.approved"))

    assert response.status_code == 202
    last = await resolved(redis.hget(KEYS.webhook_flow, "last"))
    assert last is not None
    assert float(last) >= before - 1


async def test_a_status_event_of_a_followed_inquiry_is_noted_and_enqueues_nothing(
    web: httpx.AsyncClient, ledger: Ledger, web_settings: Settings, followed: str
) -> None:
    response = await deliver(web, event_body("inquiry.marked-for-review", status="needs_review"))

    assert response.json()["action"] == "status noted"
    record = await ledger.inquiry(followed)
    assert record is not None
    assert (record.status, record.followers) == ("needs_review", {"create-1": "person-1"})
    assert await ledger.redis.zcard(web_settings.queue_name) == 0


async def test_a_terminal_event_after_every_request_was_answered_enqueues_nothing(
    web: httpx.AsyncClient, ledger: Ledger, followed: str
) -> None:
    data = {"status": "approved"}
    answer = await ledger.answer(
        "create-1", event="inquiry.approved", data=data, inquiry_id=followed
    )
    assert answer.new

    response = await deliver(web)

    assert response.json()["action"] == "already published"
    assert await ledger.redis.zcard(ledger.keys.default_queue) == 0


async def test_a_terminal_event_of_an_inquiry_nobody_follows_enqueues_nothing(
    web: httpx.AsyncClient, redis: Redis, web_settings: Settings
) -> None:
    # Regression: fetching it answered a request nobody made and took the inquiry from the
    # create job whose answer had been lost, which then created a second inquiry.
    response = await deliver(web)
    assert response.status_code == 202
    assert response.json()["action"] == "not followed"
    assert await redis.zcard(web_settings.queue_name) == 0


@pytest.mark.parametrize(
    ("first_id", "second_id", "action"),
    [("evt_1", "evt_1", "duplicate"), ("evt_a", "evt_b", "fetch enqueued")],
    ids=["redelivered-event", "new-event-id"],
)
async def test_a_second_event_for_the_inquiry_enqueues_no_second_fetch(
    web: httpx.AsyncClient,
    redis: Redis,
    web_settings: Settings,
    followed: str,
    first_id: str,
    second_id: str,
    action: str,
) -> None:
    await deliver(web, event_body(event_id=first_id))
    again = await deliver(web, event_body(event_id=second_id))
    assert again.status_code == 202
    assert again.json()["action"] == action
    assert await redis.zcard(web_settings.queue_name) == 1


async def test_event_ids_are_remembered_for_the_dedupe_window(
    web: httpx.AsyncClient, redis: Redis, web_settings: Settings
) -> None:
    await deliver(web)
    ttl = await redis.ttl(KEYS.webhook_event("evt_1"))
    assert 7 * 86_400 <= ttl <= web_settings.webhook_dedupe_ttl_s


async def test_unknown_event_names_are_acknowledged_and_ignored(
    web: httpx.AsyncClient, redis: Redis, web_settings: Settings
) -> None:
    response = await deliver(web, event_body("report/watchlist.matched"))
    assert response.status_code == 202
    assert response.json()["action"] == "ignored"
    assert await redis.zcard(web_settings.queue_name) == 0


async def test_rotation_header_is_accepted(web: httpx.AsyncClient) -> None:
    body = event_body()
    header = signature_header(["wbhsec_rotated_new", TEST_WEBHOOK_SECRET], int(time.time()), body)
    response = await web.post(
        "/webhooks/persona",
        content=body,
        headers={"content-type": "application/json", "persona-signature": header},
    )
    assert response.status_code == 202


async def test_healthz_and_readyz(web: httpx.AsyncClient) -> None:
    assert (await web.get("/healthz")).json() == {"status": "ok"}
    ready = await web.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["redis"] == "ok"


GOOD = event_body()
NO_PAYLOAD = b'{"data": {"type": "event", "id": "evt_2", "attributes": {"name": "inquiry.done"}}}'


def _case(body: bytes, headers: dict[str, str], status: int, reason: str) -> Any:
    return pytest.param(body, headers, status, id=reason)


def _hostile_cases() -> list[Any]:
    now = int(time.time())
    json_type = {"content-type": "application/json"}
    superscript_t = f"t=\u00b2,v1={'0' * 64}"
    eight_sets = " ".join(
        signature_header([TEST_WEBHOOK_SECRET], now - index, GOOD) for index in range(8)
    )
    return [
        _case(GOOD, json_type, 400, "missing-signature"),
        _case(GOOD, {**json_type, "persona-signature": ""}, 400, "empty-signature"),
        _case(GOOD, {**json_type, "persona-signature": "INVALID_FORMAT"}, 400, "invalid-format"),
        _case(GOOD, {**json_type, "persona-signature": f"t={now}"}, 400, "no-v1"),
        _case(GOOD, {**json_type, "persona-signature": "v1=" + "0" * 64}, 400, "no-t"),
        _case(GOOD, {**json_type, "persona-signature": f"t=abc,v1={'0' * 64}"}, 400, "t-not-int"),
        # Sent as byte 0xB2 (headers are latin-1): "²", which `str.isdigit` takes for a digit.
        _case(GOOD, {**json_type, "persona-signature": superscript_t}, 400, "t-superscript-two"),
        _case(GOOD, {**json_type, "persona-signature": eight_sets}, 400, "eight-sets"),
        _case(GOOD, signed(GOOD, secret="wbhsec_wrong"), 401, "wrong-secret"),
        _case(GOOD, {**json_type, "persona-signature": f"t={now},v1={'0' * 64}"}, 401, "zeros"),
        _case(GOOD, {**json_type, "persona-signature": f"t={now},v1=xyz"}, 401, "non-hex"),
        _case(GOOD + b" ", signed(GOOD), 401, "body-tampered-after-signing"),
        _case(GOOD.replace(b"approved", b"declined"), signed(GOOD), 401, "payload-swapped"),
        _case(GOOD, {**signed(GOOD), "content-type": "text/plain"}, 415, "text-plain"),
        _case(
            GOOD, {k: v for k, v in signed(GOOD).items() if k != "content-type"}, 415, "no-ctype"
        ),
        _case(b"x" * 5000, signed(b"x" * 5000), 413, "oversized-body"),
        _case(GOOD, {**signed(GOOD), "content-length": "\u00b2"}, 413, "length-superscript-two"),
        _case(b"not json", signed(b"not json"), 400, "signed-non-json"),
        _case(b"[]", signed(b"[]"), 400, "signed-json-array"),
        _case(b'{"data": 5}', signed(b'{"data": 5}'), 400, "data-not-object"),
        _case(
            b'{"data": {"type": "inquiry", "id": "inq_1"}}',
            signed(b'{"data": {"type": "inquiry", "id": "inq_1"}}'),
            400,
            "not-an-event",
        ),
        _case(
            event_body(event_id="evt_../../x"),
            signed(event_body(event_id="evt_../../x")),
            400,
            "event-id-with-path",
        ),
        _case(b"\xff\xfe\x00", signed(b"\xff\xfe\x00"), 400, "invalid-utf8"),
        _case(NO_PAYLOAD, signed(NO_PAYLOAD), 400, "no-payload"),
        _case(
            event_body(),
            signed(event_body(), at=int(time.time()) - 10 * 86_400),
            202,
            "old-timestamp-accepted-without-tolerance",
        ),
    ]


@pytest.mark.parametrize(("body", "headers", "status"), _hostile_cases())
async def test_bad_requests_are_refused_and_change_nothing(
    web: httpx.AsyncClient,
    redis: Redis,
    web_settings: Settings,
    body: bytes,
    headers: dict[str, str],
    status: int,
) -> None:
    sent = httpx.Headers(headers, encoding="latin-1")
    response = await web.post("/webhooks/persona", content=body, headers=sent)
    assert response.status_code == status, response.text
    if status != 202:
        assert "error" in response.json()
        await _nothing_happened(redis, web_settings)


def _with_included(included: Any) -> bytes:
    document = json.loads(event_body())
    document["data"]["attributes"]["payload"]["included"] = included
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    "included",
    [
        pytest.param("verifications", id="a-string"),
        pytest.param([1, 2], id="not-objects"),
        pytest.param([{"type": "verification/selfie"}], id="no-id"),
        pytest.param(
            [{"type": "verification/selfie", "id": "ver_1", "attributes": {"checks": 3}}],
            id="unreadable-verification",
        ),
    ],
)
async def test_an_included_of_the_wrong_shape_is_refused_and_the_inquiry_stays_followed(
    web: httpx.AsyncClient, redis: Redis, web_settings: Settings, followed: str, included: Any
) -> None:
    due = await redis.zscore(KEYS.due, followed)

    response = await deliver(web, _with_included(included))

    assert response.status_code == 400
    assert "included" in response.json()["error"]
    await _nothing_happened(redis, web_settings)
    assert await redis.zscore(KEYS.due, followed) == due, "the polling tick still checks it"
    assert await redis.keys(KEYS.payload("*")) == []


async def test_declared_oversize_is_refused_before_reading(
    web: httpx.AsyncClient, redis: Redis, web_settings: Settings
) -> None:
    headers = {**signed(GOOD), "content-length": "999999999"}
    response = await web.post("/webhooks/persona", content=GOOD, headers=headers)
    assert response.status_code == 413
    await _nothing_happened(redis, web_settings)


async def test_get_on_the_webhook_route_is_not_allowed(web: httpx.AsyncClient) -> None:
    assert (await web.get("/webhooks/persona")).status_code == 405


async def test_stale_signature_is_refused_when_a_tolerance_is_set(
    make_settings: Any, redis_server: Any, redis: Redis
) -> None:
    from worker.web import create_app

    settings = make_settings(redis_url=redis_server.url, webhook_tolerance_s=300)
    app = create_app(settings)
    body = event_body()
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://w") as client,
    ):
        stale = await client.post(
            "/webhooks/persona", content=body, headers=signed(body, at=int(time.time()) - 301)
        )
        fresh = await client.post("/webhooks/persona", content=body, headers=signed(body))
    assert stale.status_code == 401
    assert "tolerance" in stale.json()["error"]
    assert fresh.status_code == 202


async def test_the_app_refuses_to_start_on_a_redis_that_may_evict_keys(
    make_settings: Any,
    redis_server: Any,
    set_eviction_policy: Callable[[str], Awaitable[None]],
) -> None:
    from worker.web import create_app

    await set_eviction_policy("volatile-lru")
    app = create_app(make_settings(redis_url=redis_server.url))

    with pytest.raises(ConfigError, match="maxmemory-policy is volatile-lru; set it to noeviction"):
        async with app.router.lifespan_context(app):
            pass


async def test_the_app_refuses_to_start_under_a_prefix_another_queue_owns(
    make_settings: Any, redis_server: Any, redis: Any
) -> None:
    from worker.web import create_app

    settings = make_settings(redis_url=redis_server.url)
    await claim_prefix(redis, KeySpace(settings.key_prefix), queue_name="another-queue", stream="s")
    app = create_app(settings)

    with pytest.raises(ConfigError, match="QUEUE_NAME is 'another-queue'"):
        async with app.router.lifespan_context(app):
            pass


def test_the_app_refuses_to_be_built_without_a_webhook_secret(make_settings: Any) -> None:
    from worker.web import create_app

    with pytest.raises(ConfigError, match="PERSONA_WEBHOOK_SECRETS: the web process needs"):
        create_app(make_settings(persona_webhook_secrets=""))

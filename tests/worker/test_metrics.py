"""Metrics: what each observation records, bounded labels, and both ways they are served."""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from arq import Retry
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from bench.abuse import commands_served
from jobs.metrics import (
    Metrics,
    observe_api_call,
    observe_publish_lag,
    observe_webhook,
    record_rate_limit_wait,
    reset_metrics,
    set_inflight,
)
from jobs.persona.client import ApiCall, RateLimitInfo
from jobs.persona.models import InquiryAttributes
from jobs.state.keys import KeySpace
from jobs.state.ledger import Ledger
from jobs.state.redis_typing import resolved
from worker import metrics as worker_metrics
from worker.instrument import instrument
from worker.metrics import MetricsServer, refresh_inflight, refresh_mode


@pytest.fixture(autouse=True)
def fresh() -> Metrics:
    return reset_metrics()


def sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def _call(status: int | None, *, reset_s: float | None = None) -> ApiCall:
    return ApiCall(
        "retrieve-an-inquiry", "GET", status, 0.042, RateLimitInfo(300, 10, reset_s), None
    )


async def test_job_wrapper_counts_each_outcome_and_times_it(fresh: Metrics) -> None:
    async def ok(ctx: dict[str, Any]) -> int:
        return 1

    async def again(ctx: dict[str, Any]) -> None:
        raise Retry(defer=1)

    async def broken(ctx: dict[str, Any]) -> None:
        raise RuntimeError("x")

    async def stuck(ctx: dict[str, Any]) -> None:
        await asyncio.Event().wait()

    ctx = {"job_id": "j", "job_try": 1}
    await instrument("poll_inquiry", ok)(ctx)
    with pytest.raises(Retry):
        await instrument("poll_inquiry", again)(ctx)
    with pytest.raises(RuntimeError):
        await instrument("poll_inquiry", broken)(ctx)
    with pytest.raises(TimeoutError):  # arq's job timeout cancels the task
        await asyncio.wait_for(instrument("poll_inquiry", stuck)(ctx), 0.01)

    for outcome in ("success", "retry", "failed", "cancelled"):
        assert sample(fresh, "persona_worker_jobs_total", job="poll_inquiry", outcome=outcome) == 1
    assert sample(fresh, "persona_worker_job_duration_seconds_count", job="poll_inquiry") == 4


def test_wrapper_keeps_the_name_arq_registers() -> None:
    async def poll_inquiry(ctx: dict[str, Any]) -> None:
        return None

    wrapped = instrument("poll_inquiry", poll_inquiry)
    assert (getattr(wrapped, "__name__", None), wrapped.__qualname__) == (
        poll_inquiry.__name__,
        poll_inquiry.__qualname__,
    )


def test_every_job_series_starts_at_zero(fresh: Metrics) -> None:
    async def job(ctx: dict[str, Any]) -> None:
        return None

    instrument("fetch_verification", job)
    assert (
        sample(fresh, "persona_worker_jobs_total", job="fetch_verification", outcome="failed") == 0
    )


@pytest.mark.parametrize(
    ("status", "status_class"), [(200, "2xx"), (404, "4xx"), (503, "5xx"), (None, "none")]
)
def test_api_calls_by_operation_and_status_class(
    fresh: Metrics, status: int | None, status_class: str
) -> None:
    observe_api_call(_call(status))

    labels = {"operation": "retrieve-an-inquiry", "status_class": status_class}
    assert sample(fresh, "persona_worker_api_requests_total", **labels) == 1
    assert sample(
        fresh, "persona_worker_api_request_duration_seconds_sum", operation=labels["operation"]
    ) == pytest.approx(0.042)
    assert sample(fresh, "persona_worker_rate_limit_waits_total", reason="429") is None


def test_a_429_is_a_rate_limit_wait_of_its_reset(fresh: Metrics) -> None:
    observe_api_call(_call(429, reset_s=7.0))
    record_rate_limit_wait(0.25, reason="limiter")

    assert (
        sample(
            fresh,
            "persona_worker_api_requests_total",
            operation="retrieve-an-inquiry",
            status_class="4xx",
        )
        == 1
    )
    assert sample(fresh, "persona_worker_rate_limit_waits_total", reason="429") == 1
    assert sample(fresh, "persona_worker_rate_limit_wait_seconds_sum", reason="429") == 7.0
    assert sample(fresh, "persona_worker_rate_limit_wait_seconds_sum", reason="limiter") == 0.25


def test_inflight_gauge_has_every_known_status_and_folds_unknown_ones(fresh: Metrics) -> None:
    set_inflight({"pending": 3, "needs_review": 1, "brand_new_status": 2, "": 1})

    assert sample(fresh, "persona_worker_inflight_inquiries", status="pending") == 3
    assert sample(fresh, "persona_worker_inflight_inquiries", status="approved") == 0
    assert sample(fresh, "persona_worker_inflight_inquiries", status="other") == 2
    assert sample(fresh, "persona_worker_inflight_inquiries", status="unknown") == 1
    assert sample(fresh, "persona_worker_inflight_inquiries", status="brand_new_status") is None


def test_publish_lag_runs_from_the_decision(fresh: Metrics) -> None:
    decided = datetime(2025, 12, 2, 12, 0, 0, tzinfo=UTC)
    attributes = InquiryAttributes(
        status="approved",
        completed_at=datetime(2025, 12, 2, 11, 0, 0, tzinfo=UTC),
        decisioned_at=decided,
    )

    observe_publish_lag(attributes, decided.timestamp() + 4.5)
    observe_publish_lag(InquiryAttributes(status="pending"), decided.timestamp())

    assert sample(fresh, "persona_worker_publish_lag_seconds_sum", status="approved") == 4.5
    assert sample(fresh, "persona_worker_publish_lag_seconds_count", status="approved") == 1
    assert sample(fresh, "persona_worker_publish_lag_seconds_count", status="pending") is None


def test_webhook_outcomes_are_a_fixed_set(fresh: Metrics) -> None:
    observe_webhook("fetch enqueued")
    observe_webhook("something new")

    assert sample(fresh, "persona_worker_webhooks_total", outcome="fetch_enqueued") == 1
    assert sample(fresh, "persona_worker_webhooks_total", outcome="other") == 1


def test_resetting_gives_a_fresh_registry_without_duplicate_registration() -> None:
    first = reset_metrics()
    first.jobs.labels("x", "success").inc()
    second = reset_metrics()

    assert second.registry is not first.registry
    assert (
        second.registry.get_sample_value(
            "persona_worker_jobs_total", {"job": "x", "outcome": "success"}
        )
        is None
    )


#: The keys of the default deployment.
KEYS = KeySpace()


def _ledger(redis: Redis, keys: KeySpace = KEYS) -> Ledger:
    return Ledger(redis, keys, stream=keys.default_results_stream, maxlen=1_000, answered_ttl_s=60)


@pytest.fixture
def ledger(decoded_redis: Redis) -> Ledger:
    """The request ledger of the default deployment."""
    return _ledger(decoded_redis)


async def _follow(ledger: Ledger, inquiry_id: str, status: str) -> None:
    """A followed inquiry as a create job leaves it, through the ledger's own scripts."""
    request_id = f"create-{inquiry_id}"
    await ledger.open(request_id, "create_inquiry", 1.0)
    await ledger.follow(
        inquiry_id, request_id, reference_id=None, status=status, now=1.0, first_due=2.0
    )


@pytest.mark.redis
async def test_inflight_is_counted_from_redis_at_scrape_time(
    fresh: Metrics, ledger: Ledger
) -> None:
    await _follow(ledger, "inq_a", "pending")
    await _follow(ledger, "inq_b", "pending")
    await _follow(ledger, "inq_c", "needs_review")
    await _follow(ledger, "inq_d", "unknown")

    await refresh_inflight(ledger)

    assert sample(fresh, "persona_worker_inflight_inquiries", status="pending") == 2
    assert sample(fresh, "persona_worker_inflight_inquiries", status="needs_review") == 1
    assert sample(fresh, "persona_worker_inflight_inquiries", status="unknown") == 1


@pytest.mark.redis
async def test_the_polling_mode_is_read_from_redis_at_scrape_time(
    fresh: Metrics, decoded_redis: Redis
) -> None:
    await refresh_mode(decoded_redis, KEYS)
    before = sample(fresh, "persona_worker_polling_mode", mode="polling")
    await resolved(decoded_redis.hset(KEYS.webhook_flow, mapping={"mode": "webhooks"}))

    await refresh_mode(decoded_redis, KEYS)

    assert before == 1
    assert sample(fresh, "persona_worker_polling_mode", mode="webhooks") == 1
    assert sample(fresh, "persona_worker_polling_mode", mode="polling") == 0


@pytest.mark.redis
async def test_inflight_counts_only_its_own_deployment(
    fresh: Metrics, decoded_redis: Redis, ledger: Ledger
) -> None:
    other = _ledger(decoded_redis, KeySpace("persona-demo:"))
    await _follow(ledger, "inq_a", "pending")
    await _follow(other, "inq_b", "pending")

    await refresh_inflight(ledger)
    assert sample(fresh, "persona_worker_inflight_inquiries", status="pending") == 1
    await refresh_inflight(other)
    assert sample(fresh, "persona_worker_inflight_inquiries", status="pending") == 1


@pytest.mark.redis
async def test_a_scrape_costs_two_redis_commands_with_20000_in_flight(
    fresh: Metrics, web: httpx.AsyncClient, redis: Redis, ledger: Ledger
) -> None:
    # Records written in bulk and counted as the worker counts them at start-up.
    statuses = ("created", "pending", "needs_review", "completed")
    async with ledger.redis.pipeline(transaction=False) as pipe:
        for index in range(20_000):
            pipe.hset(KEYS.inquiry(f"inq_{index}"), "status", statuses[index % 4])
            pipe.zadd(KEYS.due, {f"inq_{index}": 1})
        await pipe.execute()
    assert await ledger.recount() == 20_000
    before = await commands_served(redis)

    answer = await web.get("/metrics")

    # `commands_served` leaves out its own INFO calls. Two reads whatever the number in
    # flight: the ledger's counts by status and the polling mode.
    assert await commands_served(redis) - before == 2
    assert 'persona_worker_inflight_inquiries{status="pending"} 5000.0' in answer.text


@pytest.mark.redis
async def test_the_worker_endpoint_serves_metrics_and_nothing_else(
    fresh: Metrics, ledger: Ledger
) -> None:
    await _follow(ledger, "inq_a", "created")
    fresh.jobs.labels("create_inquiry", "success").inc()
    async with (
        MetricsServer(ledger, port=0, host="127.0.0.1") as server,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client,
    ):
        scrape = await client.get("/metrics")
        openmetrics = await client.get(
            "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
        )
        missing = await client.get("/")
        posted = await client.post("/metrics")

    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain")
    families = {family.name: family for family in text_string_to_metric_families(scrape.text)}
    assert 'persona_worker_jobs_total{job="create_inquiry",outcome="success"} 1.0' in scrape.text
    assert 'persona_worker_inflight_inquiries{status="created"} 1.0' in scrape.text
    assert "persona_worker_publish_lag_seconds" in families
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
    assert openmetrics.text.endswith("# EOF\n")
    assert (missing.status_code, posted.status_code) == (404, 405)


@pytest.mark.redis
async def test_a_silent_client_is_dropped_and_others_still_served(ledger: Ledger) -> None:
    async with MetricsServer(ledger, port=0, host="127.0.0.1", request_timeout_s=0.2) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /metrics HTTP/1.1\r\n")  # the headers never finish
        await writer.drain()
        async with httpx.AsyncClient() as client:
            answer = await client.get(f"http://127.0.0.1:{server.port}/metrics")
        # The server hangs up on the silent client: end of stream, and no answer was sent.
        assert await asyncio.wait_for(reader.read(), 60) == b""  # the bound only catches a hang
        writer.close()
        await writer.wait_closed()
    assert answer.status_code == 200


@pytest.mark.redis
async def test_a_client_that_stalls_on_its_next_request_is_dropped(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    render = worker_metrics.render

    async def slow_render(ledger: Ledger, accept: str | None) -> tuple[bytes, str]:
        await asyncio.sleep(0.4)  # a slow scrape outlasts the first deadline: no hang-up
        return await render(ledger, accept)

    monkeypatch.setattr(worker_metrics, "render", slow_render)
    async with MetricsServer(ledger, port=0, host="127.0.0.1", request_timeout_s=0.2) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: scraper\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)  # catches a hang
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        writer.write(b"GET /metrics HTTP/1.1\r\n")  # the next request's headers never finish
        await writer.drain()

        assert await asyncio.wait_for(reader.read(), 60) == b""  # the bound only catches a hang
        writer.close()
        await writer.wait_closed()
    assert head.startswith(b"HTTP/1.1 200 ")


@pytest.mark.redis
async def test_the_worker_endpoint_leaves_signals_and_logs_to_the_worker(
    ledger: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    handled = (signal.SIGINT, signal.SIGTERM)
    before = {signum: signal.getsignal(signum) for signum in handled}
    with caplog.at_level(logging.DEBUG):
        async with (
            MetricsServer(ledger, port=0, host="127.0.0.1") as server,
            httpx.AsyncClient() as client,
        ):
            answer = await client.get(f"http://127.0.0.1:{server.port}/metrics?token=s3cr3t")
            # uvicorn is serving now: the worker's SIGTERM handling is still in place.
            serving = {signum: signal.getsignal(signum) for signum in handled}
    after = {signum: signal.getsignal(signum) for signum in handled}

    assert answer.status_code == 200
    assert before == serving == after
    served = [record for record in caplog.records if record.name.startswith("uvicorn")]
    assert not [record for record in served if record.name == "uvicorn.access"]
    assert not [record for record in served if "s3cr3t" in record.getMessage()]


@pytest.mark.redis
async def test_web_app_serves_metrics(web: httpx.AsyncClient, fresh: Metrics) -> None:
    observe_webhook("duplicate")

    answer = await web.get("/metrics")

    assert answer.status_code == 200
    assert 'persona_worker_webhooks_total{outcome="duplicate"} 1.0' in answer.text
    assert "persona_worker_inflight_inquiries" in answer.text


@pytest.mark.redis
async def test_the_workers_rate_limiter_reports_its_waits(
    fresh: Metrics, decoded_redis: Redis
) -> None:
    from jobs.persona.ratelimit import RedisRateLimiter
    from worker.lifecycle import _limiter_waited

    # 600 a minute without burst: the second request waits for its slot 100 ms on.
    limiter = RedisRateLimiter(decoded_redis, per_minute=600, burst=0, on_wait=_limiter_waited)
    await limiter.acquire("retrieve-an-inquiry")
    await limiter.acquire("retrieve-an-inquiry")

    assert sample(fresh, "persona_worker_rate_limit_waits_total", reason="limiter") == 1
    waited = sample(fresh, "persona_worker_rate_limit_wait_seconds_sum", reason="limiter")
    assert waited is not None
    assert 0 < waited <= 0.101

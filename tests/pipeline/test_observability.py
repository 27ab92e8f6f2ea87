"""Logs and metrics of a real pipeline run: the ids operators need, and no secrets or PII.

The run goes through everything that sees a person's data or a secret: a create job whose
`fields` hold recognisable values, the Persona client with its API key, status checks, the
publication, and a signed webhook through the web app. The logs are captured at DEBUG as JSON
and searched for those values; the metrics are scraped from the worker's own endpoint and from
the web app's `/metrics` while the worker still runs.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette

from jobs.metrics import Metrics, reset_metrics
from jobs.webhooks.signature import signature_header
from settings import Settings
from tests.conftest import TEST_API_KEY, TEST_WEBHOOK_SECRET
from tests.logging_support import capture_logs, parse_json_lines
from tests.pipeline.conftest import Pipeline
from worker.embedded_redis import free_port
from worker.web import create_app

pytestmark = pytest.mark.sandbox(decision_after_s=0.0)

#: Values nobody else would log: if any shows up in the output, it leaked.
PII = {"name-first": "Zebulonius", "name-last": "Quackenbottom", "email-address": "zq@pii.test"}


@pytest.fixture(autouse=True)
def fresh_metrics() -> Metrics:
    return reset_metrics()


@pytest.fixture
def pipeline_overrides() -> dict[str, Any]:
    return {"metrics_port": free_port()}


@contextlib.asynccontextmanager
async def web_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app: Starlette = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://web.test") as client:
            yield client


def _webhook(inquiry_id: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "data": {
                "type": "event",
                "id": "evt_observability",
                "attributes": {
                    "name": "inquiry.approved",
                    "payload": {
                        "data": {
                            "type": "inquiry",
                            "id": inquiry_id,
                            "attributes": {"status": "approved"},
                        }
                    },
                },
            }
        }
    ).encode()
    signature = signature_header([TEST_WEBHOOK_SECRET], int(time.time()), body)
    return body, {"content-type": "application/json", "persona-signature": signature}


async def test_a_run_logs_every_id_and_no_secret_or_pii(pipeline: Pipeline) -> None:
    with capture_logs("json", "DEBUG") as buffer:
        await pipeline.create(
            "person-7", note="sandbox-outcome=approved sandbox-after=30", fields=PII
        )
        await pipeline.run()
        [inquiry_id] = pipeline.inquiries_of("person-7")
        body, headers = _webhook(inquiry_id)
        async with web_client(pipeline.settings) as web:
            assert (
                await web.post("/webhooks/persona", content=body, headers=headers)
            ).status_code == 202

    output = buffer.getvalue()
    lines = parse_json_lines(output)
    signature = re.search(r"v1=([0-9a-f]+)", headers["persona-signature"])
    assert signature is not None
    for secret in (*PII.values(), TEST_API_KEY, TEST_WEBHOOK_SECRET, signature.group(1)):
        assert secret not in output, f"{secret!r} reached the logs"

    # arq's own line for the create job is there, its arguments hidden and the job named.
    [started] = [
        line
        for line in lines
        if line["logger"] == "arq.worker" and "create_inquiry(" in line["message"]
    ]
    assert started["message"].endswith("create-person-7:create_inquiry(…)")
    assert (started["job"], started["job_id"]) == ("create_inquiry", "create-person-7")
    # The create job's own lines carry the person; its closing line also the inquiry it made.
    create_lines = [line for line in lines if line.get("job") == "create_inquiry"]
    assert {line["reference_id"] for line in create_lines if "job_try" in line} == {"person-7"}
    [closing] = [line for line in create_lines if line["logger"] == "worker.instrument"]
    assert closing["message"].startswith("create_inquiry success in ")
    assert (closing["job_id"], closing["job_try"]) == ("create-person-7", 1)
    assert closing["inquiry_id"] == inquiry_id
    # The publication says which job, try, inquiry and person it was for.
    [published] = [line for line in lines if line["message"].startswith("published inquiry.")]
    assert published["job"] in {"poll_inquiry", "fetch_verification"}
    assert published["job_id"]
    assert published["job_try"] >= 1
    assert (published["inquiry_id"], published["reference_id"]) == (inquiry_id, "person-7")


def _families(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def _value(families: dict[str, Any], sample_name: str, **labels: str) -> float:
    name = sample_name.removesuffix("_total").removesuffix("_count").removesuffix("_sum")
    for sample in families[name].samples:
        if sample.name == sample_name and all(sample.labels.get(k) == v for k, v in labels.items()):
            return float(sample.value)
    raise AssertionError(f"no sample {sample_name}{labels}")


async def test_both_processes_serve_the_metrics_after_a_run(pipeline: Pipeline) -> None:
    for person in ("person-1", "person-2"):
        await pipeline.create(person, note="sandbox-outcome=approved sandbox-after=30")
    async with pipeline.running():
        await pipeline.wait_for_events(2)
        port = pipeline.settings.metrics_port
        async with httpx.AsyncClient() as client:
            worker_scrape = await client.get(f"http://127.0.0.1:{port}/metrics")
        async with web_client(pipeline.settings) as web:
            web_scrape = await web.get("/metrics")

    assert worker_scrape.status_code == web_scrape.status_code == 200
    people = ("person-1", "person-2")
    ids = {*people, *(f"create-{p}" for p in people)}
    ids.update(inquiry for p in people for inquiry in pipeline.inquiries_of(p))
    for text in (worker_scrape.text, web_scrape.text):
        families = _families(text)
        assert (
            _value(families, "persona_worker_jobs_total", job="create_inquiry", outcome="success")
            == 2
        )
        fetched = _value(
            families, "persona_worker_jobs_total", job="fetch_verification", outcome="success"
        )
        assert fetched >= 2
        assert (
            _value(families, "persona_worker_jobs_total", job="poll_tick", outcome="success") >= 1
        )
        assert (
            _value(families, "persona_worker_job_duration_seconds_count", job="create_inquiry") == 2
        )
        assert (
            _value(
                families,
                "persona_worker_api_requests_total",
                operation="create-an-inquiry",
                status_class="2xx",
            )
            == 2
        )
        assert (
            _value(
                families,
                "persona_worker_api_request_duration_seconds_count",
                operation="create-an-inquiry",
            )
            == 2
        )
        lags = families["persona_worker_publish_lag_seconds"].samples
        assert sum(s.value for s in lags if s.name.endswith("_count")) == 2
        assert _value(families, "persona_worker_inflight_inquiries", status="pending") == 0
        assert "persona_worker_rate_limit_waits" in families
        labels = {
            value
            for family in families.values()
            for s in family.samples
            for value in s.labels.values()
        }
        assert not labels & ids, "ids never become label values"
    # The endpoint stopped with the worker.
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as client:
            await client.get(f"http://127.0.0.1:{pipeline.settings.metrics_port}/metrics")

"""The secrets and PII audit: a whole run, webhooks included, leaks nothing it was not allowed to.

A person with recognisable PII (name, birthdate, address, id number) goes through creation,
status checks, a signed webhook and publication, with a recognisable API key and webhook
secret. Afterwards none of those values may appear in the captured logs, the metrics of either
process, any error message, or the published events, except the one field `PUBLISH_FIELDS`
allows into events. Reports are audited too: the person is screened after approval, a
`run_report` request searches for them, and another one fails on a query holding their id number.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from jobs.contract import RUN_REPORT
from jobs.metrics import reset_metrics
from jobs.webhooks.signature import signature_header
from tests.conftest import TEST_API_KEY, TEST_WEBHOOK_SECRET
from tests.harness import serve
from tests.logging_support import capture_logs
from tests.pipeline.conftest import Pipeline
from worker.embedded_redis import free_port
from worker.web import create_app

PII = {
    "name-first": "Zebulonius",
    "name-last": "Quackenbottom",
    "birthdate": "1903-07-19",
    "address-street-1": "17 Marmalade Viaduct",
    "address-postal-code": "QX9 4ZZ",
    "identification-number": "XQ-5571-ZZ-0042",
}
ALLOWED = "name-last"

pytestmark = pytest.mark.sandbox(decision_after_s=0.0)


@pytest.fixture
def pipeline_overrides() -> dict[str, Any]:
    return {"metrics_port": free_port(), "publish_fields": ALLOWED}


def _signed_event(inquiry_id: str, event_id: str, name: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "data": {
                "type": "event",
                "id": event_id,
                "attributes": {
                    "name": name,
                    "payload": {
                        "data": {"type": "inquiry", "id": inquiry_id, "attributes": {}},
                        "included": [],
                    },
                },
            }
        }
    ).encode()
    header = signature_header([TEST_WEBHOOK_SECRET], int(time.time()), body)
    return body, {"content-type": "application/json", "persona-signature": header}


async def test_no_secret_or_pii_leaks_beyond_the_allowed_field(pipeline: Pipeline) -> None:
    reset_metrics()
    secrets = (TEST_API_KEY, TEST_WEBHOOK_SECRET)
    with capture_logs("json", "DEBUG") as logs:
        async with (
            serve(create_app(pipeline.settings)) as web_root,
            pipeline.running() as worker,
        ):
            await pipeline.create(
                "person-7",
                note="sandbox-outcome=approved sandbox-after=30",
                fields=PII,
                reports=["watchlist", "politically-exposed-person", "adverse-media"],
            )
            query = {key: PII[key] for key in ("name-first", "name-last", "birthdate")}
            await pipeline.enqueue(
                RUN_REPORT,
                job_id="report-9",
                report_type="watchlist",
                query=query,
                reference_id="person-9",
            )
            await pipeline.enqueue(
                RUN_REPORT,
                job_id="bad-report-10",
                report_type="adverse-media",
                query={**query, "identification-number": PII["identification-number"]},
                reference_id="person-10",
            )
            # A request that fails, so error messages are part of the audit.
            await pipeline.create(
                "person-8", note="sandbox-outcome=nonsense", fields=PII, job_id="bad-8"
            )
            async with httpx.AsyncClient(timeout=10) as http:
                await pipeline.wait_for_events(4)
                [inquiry_id] = pipeline.inquiries_of("person-7")
                body, headers = _signed_event(inquiry_id, "evt_audit1", "inquiry.approved")
                answer = await http.post(
                    f"{web_root}/webhooks/persona", content=body, headers=headers
                )
                assert answer.status_code < 300
                worker_metrics = (
                    await http.get(f"http://127.0.0.1:{pipeline.settings.metrics_port}/metrics")
                ).text
                web_metrics = (await http.get(f"{web_root}/metrics")).text
            assert worker.jobs_complete + worker.jobs_failed >= 2

    events = await pipeline.events()
    event_text = json.dumps([event.data for event in events])
    everything_else = logs.getvalue() + worker_metrics + web_metrics
    for value in (*PII.values(), *secrets):
        assert value not in everything_else, f"{value!r} reached logs or metrics"
    for name, value in PII.items():
        assert (value in event_text) is (name == ALLOWED), (
            f"{name} in events: {value in event_text}"
        )
    failed = [event for event in events if event.event == "job.failed"]
    assert failed, "the failing request was audited too"
    assert all(value not in json.dumps([e.data for e in failed]) for value in PII.values())
    reports = {event.event for event in events if event.request.startswith("report-")}
    assert reports == {"report.ready"}, "the report request was audited too"
    [screened] = [event for event in events if event.request == "create-person-7"]
    assert len(screened.data["reports"]) == 3, "the screening was audited too"
    assert "persona_worker_jobs_total" in worker_metrics
    assert "persona_worker_webhooks_total" in web_metrics

"""The console's pages over a real run: no PII and no secret on any of them (after a run with
recognisable personal data, one field allowed into events by `PUBLISH_FIELDS`, no page holds
any of it, nor the API key, the webhook secret or the console's own token), and the results
list's filters."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import TEST_API_KEY, TEST_WEBHOOK_SECRET
from tests.harness import serve
from tests.pipeline.conftest import Pipeline
from tests.pipeline.test_pii_audit import ALLOWED, PII
from worker.web import create_app

pytestmark = pytest.mark.sandbox(decision_after_s=0.0)

TOKEN = "pii-audit-console-token-0001"


@pytest.fixture
def pipeline_overrides() -> dict[str, Any]:
    return {"publish_fields": ALLOWED, "console_token": TOKEN}


async def test_no_console_page_shows_pii_or_secrets(pipeline: Pipeline) -> None:
    await pipeline.create("person-7", note="sandbox-outcome=approved", fields=PII)
    await pipeline.create("person-8", note="sandbox-outcome=nonsense", fields=PII, job_id="bad-8")
    await pipeline.run()
    [inquiry_id] = pipeline.inquiries_of("person-7")
    assert PII[ALLOWED] in str([event.data for event in await pipeline.events()])
    pages = [
        "/console/",
        "/console/?range=day",
        "/console/partial/now",
        "/console/partial/charts",
        "/console/results",
        "/console/results?event=job.failed",
        "/console/story?q=create-person-7",
        "/console/story?q=person-7",
        f"/console/story?q={inquiry_id}",
        "/console/story?q=bad-8",
    ]
    async with (
        serve(create_app(pipeline.settings)) as root,
        httpx.AsyncClient(headers={"authorization": f"Bearer {TOKEN}"}) as http,
    ):
        texts = {path: (await http.get(root + path)).text for path in pages}
    assert inquiry_id in texts[f"/console/story?q={inquiry_id}"]
    assert "create-an-inquiry" in texts["/console/story?q=person-7"]
    for path, text in texts.items():
        for value in (*PII.values(), TEST_API_KEY, TEST_WEBHOOK_SECRET, TOKEN):
            assert value not in text, f"{value!r} on {path}"


async def test_the_results_list_filters_by_error_type(pipeline: Pipeline) -> None:
    await pipeline.create("person-1", note="sandbox-outcome=approved")
    await pipeline.create("person-2", note="sandbox-outcome=nonsense", job_id="bad-2")
    await pipeline.run()
    [failed] = [event for event in await pipeline.events() if event.event == "job.failed"]
    error_type = failed.data["error"]["type"]
    async with (
        serve(create_app(pipeline.settings)) as root,
        httpx.AsyncClient(headers={"authorization": f"Bearer {TOKEN}"}) as http,
    ):
        everything = (await http.get(f"{root}/console/results")).text
        filtered = (await http.get(f"{root}/console/results?error_type={error_type}")).text
    assert "create-person-1" in everything
    assert "bad-2" in everything
    assert "bad-2" in filtered
    assert "create-person-1" not in filtered

"""The operator console in a real browser: headless Chromium (the system's) driven by Playwright
against the web app, a worker and the sandbox, in this test's loop.

One walk through what an operator does: the console refuses a visitor without the token and lets
the token's holder log in; the "now" counts follow requests from queued to in flight to
answered (the last step through the page's own refresh script); the charts draw lines with
data; the results list filters by event; a search finds one request and shows its story.
Each page's screenshot is saved in the test's `tmp_path`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.harness import serve
from tests.pipeline.conftest import Pipeline
from tests.pipeline.test_pii_audit import _signed_event
from worker.web import create_app

pytestmark = [pytest.mark.slow, pytest.mark.sandbox(decision_after_s=3_000.0)]

TOKEN: Final = "browser-test-console-token-42"
#: Debian's Chromium; Playwright's own browser download is not used.
CHROMIUM: Final = "/usr/bin/chromium"
#: The longest the browser waits for a page to show something.
WAIT_MS: Final = 20_000


@pytest.fixture
def pipeline_overrides() -> dict[str, Any]:
    return {"console_token": TOKEN}


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    expect.set_options(timeout=WAIT_MS)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        try:
            yield launched
        finally:
            await launched.close()


async def _shot(page: Page, folder: Path, name: str) -> None:
    await page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


async def _log_in(page: Page, root: str, folder: Path) -> None:
    await page.goto(f"{root}/console/")
    await expect(page.locator("form.login")).to_be_visible()
    await page.fill("input[name=token]", "not-the-console-token")
    await page.click("form.login button")
    await expect(page.locator(".error")).to_contain_text("not the console's token")
    await _shot(page, folder, "login-refused")
    await page.fill("input[name=token]", TOKEN)
    await page.click("form.login button")
    await expect(page.locator("#in-flight")).to_be_visible()


async def test_the_console_in_a_browser(
    pipeline: Pipeline, browser: Browser, tmp_path: Path
) -> None:
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(WAIT_MS)
    async with serve(create_app(pipeline.settings)) as root:
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{root}/console/partial/now")).status_code == 401
        await _log_in(page, root, tmp_path)

        people = [f"person-{n}" for n in range(3)]
        for reference in people:
            await pipeline.create(reference, note="sandbox-outcome=approved")
        await pipeline.create("person-x", note="sandbox-outcome=nonsense", job_id="bad-x")
        await page.reload()
        await expect(page.locator("#queue-depth")).to_have_text("4 / 4")
        await expect(page.locator("#results-hour")).to_have_text("0")

        async with pipeline.running():
            await pipeline.wait_until(
                lambda: _due_count(pipeline, len(people)), "every inquiry in flight"
            )
            await page.reload()
            await expect(page.locator("#in-flight")).to_have_text(str(len(people)))
            await expect(page.locator("#by-status tbody tr").first).not_to_contain_text("nothing")
            await _shot(page, tmp_path, "now-in-flight")
            [inquiry_id] = pipeline.inquiries_of("person-0")
            body, headers = _signed_event(inquiry_id, "evt_console1", "inquiry.approved")
            async with httpx.AsyncClient() as http:
                answer = await http.post(f"{root}/webhooks/persona", content=body, headers=headers)
                assert answer.status_code == 202
            await pipeline.wait_for_events(len(people) + 1)
            # No reload: the page's script brings the new counts.
            await expect(page.locator("#in-flight")).to_have_text("0")
            await expect(page.locator("#results-hour")).to_have_text(str(len(people) + 1))
            await expect(page.locator("#workers")).not_to_have_text("0")

        await page.reload()
        # Accepted, whichever came first: the webhook's fetch or the tick's.
        webhooks = page.locator("#webhooks tbody")
        await expect(webhooks).to_contain_text(re.compile("fetch enqueued|already published"))
        for chart in ("results", "persona", "latency"):
            line = page.locator(f"#chart-{chart} polyline.series").first
            await expect(line).to_have_attribute("points", re.compile(r"\d"))
            assert int(await line.get_attribute("data-count") or "0") >= 1, chart
        failures = page.locator("#chart-results polyline[data-series='job.failed']")
        await expect(failures).to_have_count(1)
        await expect(page.locator("#chart-persona line.limit")).to_have_count(1)
        await _shot(page, tmp_path, "now-and-charts")

        await page.goto(f"{root}/console/results?event=job.failed")
        await expect(page.locator("#results tbody tr")).to_have_count(1)
        await expect(page.locator("#results tbody")).to_contain_text("bad-x")
        await page.goto(f"{root}/console/results")
        await expect(page.locator("#results tbody tr")).to_have_count(len(people) + 1)
        await _shot(page, tmp_path, "results")

        [ended] = await pipeline.events_for("create-person-0")
        await page.fill("header input[name=q]", "person-0")
        await page.click("header form.search button")
        await expect(page.locator("#request-state")).to_have_text(f"answered: {ended.event}")
        steps = page.locator("#steps tbody")
        for kind in ("run", "api", "following", "check", "webhook", "event"):
            await expect(steps.locator(f"tr.step-{kind}").first).to_be_visible()
        await expect(steps.locator("tr.step-api").first).to_contain_text("create-an-inquiry")
        await expect(steps.locator("tr.step-api").first).to_contain_text("201")
        await _shot(page, tmp_path, "story")
    assert sorted(path.name for path in tmp_path.glob("*.png")) == [  # noqa: ASYNC240
        "login-refused.png",
        "now-and-charts.png",
        "now-in-flight.png",
        "results.png",
        "story.png",
    ]


async def _due_count(pipeline: Pipeline, expected: int) -> bool:
    return await pipeline.ledger.due_count() == expected

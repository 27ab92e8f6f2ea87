"""Webhook subscriptions made through the API drive the sandbox's delivery settings."""

from __future__ import annotations

from typing import Any, Final

import httpx
import pytest

from persona_sandbox import SandboxConfig
from persona_sandbox.ratelimit import UNLIMITED
from tests.sandbox.conftest import MakeHarness
from tests.sandbox.support import Harness

URL: Final = "http://127.0.0.1:8000/webhooks/persona"
EVENTS: Final = ["inquiry.approved", "inquiry.declined"]
VERIFICATIONS: Final = {
    "state": "custom",
    "event-types": [{"event-type": "inquiry", "relationships": ["verifications"]}],
}


def webhook_body(**attributes: Any) -> dict[str, Any]:
    values = {"name": "results", "url": URL, "enabled-events": EVENTS, **attributes}
    return {"data": {"attributes": values}}


async def created(harness: Harness, **attributes: Any) -> dict[str, Any]:
    response = await harness.post("/webhooks", webhook_body(**attributes))
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def enabled(harness: Harness, **attributes: Any) -> dict[str, Any]:
    webhook = await created(harness, **attributes)
    response = await harness.post(f"/webhooks/{webhook['id']}/enable")
    assert response.status_code == 200, response.text
    return webhook


async def rotate(harness: Harness, webhook_id: str, expires_in_s: int) -> list[str]:
    body = {"meta": {"expires-in-seconds": expires_in_s}}
    response = await harness.post(f"/webhooks/{webhook_id}/rotate-secret", body)
    assert response.status_code == 200, response.text
    return [secret["value"] for secret in response.json()["data"]["attributes"]["secrets"]]


async def test_created_subscription_delivers_nothing_until_enabled(harness: Harness) -> None:
    await created(harness, **{"included-allowlist": VERIFICATIONS})
    assert not harness.sandbox.webhooks.settings.enabled


async def test_enabled_subscription_sets_url_events_secret_and_included(
    harness: Harness,
) -> None:
    webhook = await enabled(harness, **{"included-allowlist": VERIFICATIONS})
    settings = harness.sandbox.webhooks.settings
    assert (settings.url, settings.events, settings.secrets) == (
        URL,
        tuple(EVENTS),
        (webhook["attributes"]["secret"],),
    )
    assert settings.included_relationships == ("verifications",)


async def test_include_all_includes_every_relationship(harness: Harness) -> None:
    await enabled(harness, **{"included-allowlist": {"state": "include_all"}})
    assert harness.sandbox.webhooks.settings.included_relationships == ("*",)


async def test_subscription_without_an_allowlist_includes_nothing(harness: Harness) -> None:
    await enabled(harness)
    assert harness.sandbox.webhooks.settings.included_relationships == ()


async def test_allowlist_of_unsubscribed_event_types_is_dropped(harness: Harness) -> None:
    accounts = {
        "state": "custom",
        "event-types": [{"event-type": "account", "relationships": ["*"]}],
    }
    webhook = await created(harness, **{"included-allowlist": accounts})
    assert webhook["attributes"]["included-allowlist"] == {"state": "include_none"}


async def test_rotation_signs_with_new_and_old_secret(harness: Harness) -> None:
    webhook = await enabled(harness)
    new, old = await rotate(harness, webhook["id"], 600)
    settings = harness.sandbox.webhooks.settings
    assert settings.signing_secrets == (new, old)
    assert old == webhook["attributes"]["secret"]


async def test_after_the_rotation_window_only_the_new_secret_signs(harness: Harness) -> None:
    webhook = await enabled(harness)
    new, _ = await rotate(harness, webhook["id"], 600)
    harness.clock.advance(601)
    response = await harness.client.get("/webhooks")
    assert response.status_code == 200
    assert harness.sandbox.webhooks.settings.signing_secrets == (new,)


async def test_background_pass_ends_the_rotation_window(harness: Harness) -> None:
    webhook = await enabled(harness)
    new, _ = await rotate(harness, webhook["id"], 600)
    harness.clock.advance(601)
    harness.sandbox.advance_all()
    assert harness.sandbox.webhooks.settings.signing_secrets == (new,)


async def test_newest_enabled_subscription_drives_delivery(harness: Harness) -> None:
    await enabled(harness)
    harness.clock.advance(1)
    newest = await enabled(harness, url="http://127.0.0.1:8001/hooks")
    settings = harness.sandbox.webhooks.settings
    assert (settings.url, settings.secrets) == (
        "http://127.0.0.1:8001/hooks",
        (newest["attributes"]["secret"],),
    )


async def test_admin_delivery_knobs_survive_a_subscription(harness: Harness) -> None:
    await harness.admin("POST", "webhooks", {"duplicate_rate": 0.5})
    await enabled(harness)
    assert harness.sandbox.webhooks.settings.duplicate_rate == 0.5


async def test_reset_forgets_subscriptions(harness: Harness) -> None:
    await enabled(harness)
    await harness.admin("POST", "reset")
    listed = (await harness.client.get("/webhooks")).json()
    assert listed["data"] == []
    assert not harness.sandbox.webhooks.settings.enabled


@pytest.mark.parametrize(
    ("attributes", "status"),
    [
        ({"url": "ftp://127.0.0.1/hooks"}, 422),
        ({"url": "not a url"}, 422),
        ({"enabled-events": ["inquiry. approved"]}, 400),
        ({"included-allowlist": {"state": "sometimes"}}, 400),
        ({"included-allowlist": {"state": "custom"}}, 400),
        (
            {
                "included-allowlist": {
                    "state": "custom",
                    "event-types": [{"event-type": "inquiry", "relationships": ["*", "x"]}],
                }
            },
            400,
        ),
        ({"colour": "blue"}, 400),
    ],
)
async def test_malformed_subscription_is_refused(
    harness: Harness, attributes: dict[str, Any], status: int
) -> None:
    response = await harness.post("/webhooks", webhook_body(**attributes))
    assert response.status_code == status, response.text
    assert (await harness.client.get("/webhooks")).json()["data"] == []


async def test_negative_rotation_window_is_refused(harness: Harness) -> None:
    webhook = await created(harness)
    body = {"meta": {"expires-in-seconds": -1}}
    response = await harness.post(f"/webhooks/{webhook['id']}/rotate-secret", body)
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/webhooks/wbh_unknown"),
        ("POST", "/webhooks/wbh_unknown/enable"),
        ("POST", "/webhooks/wbh_unknown/rotate-secret"),
    ],
)
async def test_unknown_webhook_is_a_404(harness: Harness, method: str, path: str) -> None:
    response: httpx.Response = (
        await harness.client.get(path) if method == "GET" else await harness.post(path)
    )
    assert response.status_code == 404


async def test_rate_limits_without_a_limit_report_the_unlimited_figure(harness: Harness) -> None:
    (limit,) = (await harness.client.get("/rate-limits")).json()["data"]
    assert limit["attributes"]["limit"] == UNLIMITED


async def test_rate_limits_count_the_window(make_harness: MakeHarness) -> None:
    harness = await make_harness(SandboxConfig(rate_limit_per_minute=10))
    await harness.client.get("/webhooks")
    (limit,) = (await harness.client.get("/rate-limits")).json()["data"]
    assert (limit["attributes"]["limit"], limit["attributes"]["remaining"]) == (10, 8)

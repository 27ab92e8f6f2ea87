"""Webhook settings: validation, the admin route that changes them at run time, the CLI flags,
and the background advance pass they switch on.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

import pytest

from persona_sandbox import Sandbox, SandboxConfig, WebhookSettings
from persona_sandbox.__main__ import build_config, parser
from persona_sandbox.background import WEBHOOK_ADVANCE_INTERVAL_S, BackgroundAdvance
from persona_sandbox.webhook_signing import signature, signature_header
from tests.sandbox.conftest import MakeHarness
from tests.sandbox.receiver import WAIT_S
from tests.sandbox.support import Harness

SECRET: Final = "wbhsec_settings_tests_current"
OLD_SECRET: Final = "wbhsec_settings_tests_previous"
URL: Final = "http://127.0.0.1:8000/webhooks/persona"


def on(**changes: Any) -> WebhookSettings:
    """Delivery to URL signed with SECRET, with some fields changed."""
    values: dict[str, Any] = {"url": URL, "secrets": (SECRET,), **changes}
    return WebhookSettings(**values)


# --- the settings object ----------------------------------------------------------------------


def test_delivery_is_off_by_default() -> None:
    settings = SandboxConfig().webhooks

    assert not settings.enabled
    assert not settings.delivers("inquiry.approved")


def test_default_events_are_every_inquiry_and_verification_event() -> None:
    settings = on()

    assert settings.delivers("inquiry.approved")
    assert settings.delivers("verification.passed")
    assert not settings.delivers("report/watchlist.ready")


@pytest.mark.parametrize(
    "changes",
    [
        {"url": "ftp://127.0.0.1/hooks"},
        {"url": "http:///no-host"},
        {"url": "http://127.0.0.1:99999/hooks"},
        {"secrets": ()},
        {"secrets": ("whsec_wrong_prefix",)},
        {"secrets": ("wbhsec_",)},
        {"events": ()},
        {"events": ("inquiry. approved",)},
        {"duplicate_rate": 1.5},
        {"reorder_rate": -0.1},
        {"reorder_hold_s": -1.0},
        {"retry_compression": 0.0},
        {"timeout_s": 0.0},
    ],
)
def test_invalid_webhook_settings_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"must|needs|valid"):
        on(**changes)


def test_secrets_never_show() -> None:
    settings = on(secrets=(SECRET, OLD_SECRET))

    shown = f"{settings!r} {settings.to_json()}"

    assert SECRET not in shown
    assert OLD_SECRET not in shown
    assert settings.to_json()["secret_count"] == 2


def test_updates_read_json_values() -> None:
    updated = on().updated(
        {"secrets": [OLD_SECRET, SECRET], "rotation": True, "events": ["inquiry.*"], "seed": 3}
    )

    assert updated.signing_secrets == (OLD_SECRET, SECRET)
    assert updated.events == ("inquiry.*",)
    assert updated.seed == 3


def test_included_relationships_are_set_like_the_other_knobs() -> None:
    updated = on().updated({"included_relationships": ["verifications"]})

    assert updated.included_relationships == ("verifications",)
    assert updated.to_json()["included_relationships"] == ["verifications"]


@pytest.mark.parametrize(
    "changes",
    [
        {"colour": "blue"},
        {"secrets": "wbhsec_not_a_list"},
        {"rotation": "yes"},
        {"duplicate_rate": True},
        {"seed": 1.5},
        {"url": 42},
    ],
)
def test_bad_updates_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"unknown|must"):
        on().updated(changes)


def test_signature_matches_persona_public_vector() -> None:
    # The public test vector of Persona's scheme from ResearchHub's webhook tests.
    expected = "0fd4586aa5cb67c098a920ed55906fb2669a2bb21c6ed2de58e4f5cfb79814c7"

    assert signature("wbhsec_researchhub", 1720713905, b"abc123") == expected


def test_rotation_header_is_space_separated_sets_newest_first() -> None:
    header = signature_header(("wbhsec_new_secret", "wbhsec_old_secret"), 1764686826, b"{}")

    new, old = header.split(" ")
    assert new == f"t=1764686826,v1={signature('wbhsec_new_secret', 1764686826, b'{}')}"
    assert old == f"t=1764686826,v1={signature('wbhsec_old_secret', 1764686826, b'{}')}"


# --- at run time ------------------------------------------------------------------------------


async def test_admin_route_turns_delivery_on_without_showing_secrets(harness: Harness) -> None:
    response = await harness.admin("POST", "webhooks", {"url": URL, "secrets": [SECRET]})

    assert response.status_code == 200
    assert response.json()["url"] == URL
    assert SECRET not in response.text
    assert harness.sandbox.webhooks.settings.secrets == (SECRET,)


async def test_admin_route_refuses_bad_settings(harness: Harness) -> None:
    response = await harness.admin("POST", "webhooks", {"url": URL})

    assert response.status_code == 400
    assert "secret" in response.json()["error"]
    assert not harness.sandbox.webhooks.settings.enabled


async def test_admin_route_turns_delivery_off(make_harness: MakeHarness) -> None:
    harness = await make_harness(SandboxConfig(rate_limit_per_minute=0, webhooks=on()))

    response = await harness.admin("DELETE", "webhooks")

    assert response.json()["url"] is None
    assert (await harness.admin("GET", "webhooks")).json() == WebhookSettings().to_json()


async def test_reset_restores_the_startup_webhook_settings(make_harness: MakeHarness) -> None:
    harness = await make_harness(SandboxConfig(rate_limit_per_minute=0, webhooks=on()))
    await harness.admin("POST", "webhooks", {"duplicate_rate": 1.0})

    await harness.admin("POST", "reset")

    assert harness.sandbox.webhooks.settings == on()


def test_webhooks_switch_on_the_background_advance_pass() -> None:
    assert Sandbox(SandboxConfig()).advance_interval_s() == 0
    assert Sandbox(SandboxConfig(webhooks=on())).advance_interval_s() == WEBHOOK_ADVANCE_INTERVAL_S


def test_a_configured_advance_interval_wins() -> None:
    config = SandboxConfig(webhooks=on(), advance_interval_s=2.0)

    assert Sandbox(config).advance_interval_s() == 2.0


async def test_background_pass_stops_right_after_a_wake() -> None:
    passes = asyncio.Event()
    advance = BackgroundAdvance(passes.set, lambda: 0.001)
    advance.start()
    async with asyncio.timeout(WAIT_S):
        await passes.wait()
        advance.wake()
        await advance.stop()

    assert not advance.running


# --- the command line -------------------------------------------------------------------------


def test_cli_arguments_build_the_webhook_settings() -> None:
    args = parser().parse_args(
        [
            "--webhook-url", URL, "--webhook-secret", SECRET, "--webhook-secret", OLD_SECRET,
            "--webhook-rotation", "--webhook-events", "inquiry.approved,inquiry.declined",
            "--webhook-duplicate-rate", "0.1", "--webhook-reorder-rate", "0.2",
            "--webhook-reorder-hold", "0.5", "--webhook-retry-compression", "3600",
            "--webhook-timeout", "2", "--webhook-seed", "9", "--webhook-include", "verifications",
        ]
    )  # fmt: skip

    settings = build_config(args).webhooks

    assert settings == WebhookSettings(
        url=URL,
        secrets=(SECRET, OLD_SECRET),
        rotation=True,
        events=("inquiry.approved", "inquiry.declined"),
        duplicate_rate=0.1,
        reorder_rate=0.2,
        reorder_hold_s=0.5,
        retry_compression=3600.0,
        timeout_s=2.0,
        seed=9,
        included_relationships=("verifications",),
    )


def test_cli_reads_webhook_secrets_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSONA_SANDBOX_WEBHOOK_SECRETS", f"{SECRET},{OLD_SECRET}")

    settings = build_config(parser().parse_args(["--webhook-url", URL])).webhooks

    assert settings.secrets == (SECRET, OLD_SECRET)


def test_cli_delivers_nothing_by_default() -> None:
    assert not build_config(parser().parse_args([])).webhooks.enabled

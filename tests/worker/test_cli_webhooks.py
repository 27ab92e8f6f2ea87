"""`persona-worker webhooks ...` against the sandbox: what an operator types and sees.

`main` runs its own event loop, so each command runs in a thread while the sandbox serves on
loopback in the test's loop.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Final

import pytest

from jobs.policy.status import INQUIRY_EVENT_NAMES
from persona_sandbox import SandboxConfig, run_sandbox
from persona_sandbox.server import SandboxHandle
from tests.conftest import TEST_API_KEY
from tests.logging_support import preserved_logging
from tests.loopback import loopback_server
from worker.cli import main

RECEIVER: Final = "https://receiver.example/webhooks/persona"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Each command configures the process's logging; put pytest's back afterwards."""
    with preserved_logging():
        yield


def point_at(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSONA_API_KEY", TEST_API_KEY)
    monkeypatch.setenv("PERSONA_API_URL", url)
    monkeypatch.chdir("/")  # no .env from the checkout


@pytest.fixture
async def sandbox(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SandboxHandle]:
    config = SandboxConfig(api_key=TEST_API_KEY, rate_limit_per_minute=0)
    async with run_sandbox(config) as handle:
        point_at(handle.url, monkeypatch)
        yield handle


async def run(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def created(capsys: pytest.CaptureFixture[str], url: str = RECEIVER) -> dict[str, object]:
    assert await run("webhooks", "create", "--url", url, "--json") == 0
    answer: dict[str, object] = json.loads(capsys.readouterr().out)
    return answer


async def test_create_subscribes_the_inquiry_events_with_verifications_and_enables_it(
    sandbox: SandboxHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = await created(capsys)

    settings = sandbox.sandbox.webhooks.settings
    assert (settings.url, settings.events) == (RECEIVER, INQUIRY_EVENT_NAMES)
    assert settings.included_relationships == ("verifications",)
    assert answer["status"] == "enabled"
    assert answer["includes_verifications"] is True


async def test_create_prints_the_secret_once_with_the_setting_it_goes_in(
    sandbox: SandboxHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run("webhooks", "create", "--url", RECEIVER) == 0

    out = capsys.readouterr().out
    (secret,) = sandbox.sandbox.webhooks.settings.secrets
    assert out.count(secret) == 2  # shown, then in the setting's line
    assert f"PERSONA_WEBHOOK_SECRETS={secret}" in out


async def test_create_accepts_http_to_a_loopback_receiver(
    sandbox: SandboxHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = await created(capsys, "http://127.0.0.1:8000/webhooks/persona")
    assert answer["url"] == "http://127.0.0.1:8000/webhooks/persona"


@pytest.mark.parametrize(
    "url",
    ["http://receiver.example/webhooks/persona", "ftp://receiver.example/x", "https:///no-host"],
)
async def test_create_refuses_a_url_that_is_not_https_before_any_request(
    sandbox: SandboxHandle, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    assert await run("webhooks", "create", "--url", url) == 2

    assert "--url" in capsys.readouterr().err
    assert sandbox.counters_json()["requests"] == 0


async def test_rotate_secret_lists_both_secrets_newest_first_and_when_the_old_expires(
    sandbox: SandboxHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    first = await created(capsys)

    code = await run(
        "webhooks", "rotate-secret", str(first["id"]), "--expires-in", "3600", "--json"
    )

    assert code == 0
    answer = json.loads(capsys.readouterr().out)
    new, old = answer["secrets"]
    assert old["value"] == first["secret"]
    assert answer["during_rotation"] == f"{new['value']},{old['value']}"
    assert answer["old_secrets_expire_at"] == old["expires_at"] is not None
    assert sandbox.sandbox.webhooks.settings.signing_secrets == (new["value"], old["value"])


async def test_rotate_secret_explains_the_rotation_window(
    sandbox: SandboxHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    first = await created(capsys)

    assert await run("webhooks", "rotate-secret", str(first["id"]), "--expires-in", "600") == 0

    out = capsys.readouterr().out
    new, old = sandbox.sandbox.webhooks.settings.secrets
    assert f"PERSONA_WEBHOOK_SECRETS={new},{old}" in out
    assert f"PERSONA_WEBHOOK_SECRETS={new}\n" in out + "\n"
    assert "expires at" in out


async def test_rotate_secret_of_an_unknown_webhook_says_so(
    sandbox: SandboxHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run("webhooks", "rotate-secret", "wbh_NoSuchWebhook") == 1

    assert "no webhook wbh_NoSuchWebhook" in capsys.readouterr().err


async def test_list_shows_url_events_status_and_included_verifications(
    sandbox: SandboxHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    first = await created(capsys)

    assert await run("webhooks", "list", "--json") == 0

    (row,) = json.loads(capsys.readouterr().out)
    assert row == {
        "id": first["id"],
        "url": RECEIVER,
        "status": "enabled",
        "events": list(INQUIRY_EVENT_NAMES),
        "includes_verifications": True,
    }


async def test_list_table_never_shows_a_secret(
    sandbox: SandboxHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    first = await created(capsys)

    assert await run("webhooks", "list") == 0

    out = capsys.readouterr().out
    assert str(first["id"]) in out
    assert RECEIVER in out
    assert "included" in out
    assert "wbhsec_" not in out


async def test_an_answer_outside_the_spec_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    body = b'{"data": "not a list of webhooks"}'

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
        writer.write(head.encode() + b"\r\nConnection: close\r\n\r\n" + body)
        await writer.drain()

    async with loopback_server(answer) as port:
        point_at(f"http://127.0.0.1:{port}/api/v1", monkeypatch)
        code = await run("webhooks", "list")

    assert code == 1
    assert "could not be read" in capsys.readouterr().err


def test_a_negative_rotation_window_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["webhooks", "rotate-secret", "wbh_1", "--expires-in", "-5"])

    assert exit_.value.code == 2
    assert "--expires-in" in capsys.readouterr().err

"""The README's main command: the demo runs the whole pipeline to a results table by itself."""

from __future__ import annotations

import json

import pytest

from worker.cli import main
from worker.demo import run_demo
from worker.embedded_redis import RedisServer, free_port

pytestmark = pytest.mark.slow


async def test_the_demo_answers_every_request_once_and_prints_the_table(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_server.url)

    code = await run_demo(count=10)

    out = capsys.readouterr().out
    assert code == 0, out
    assert "10/10 requests answered; duplicate events: 0." in out
    table = [line for line in out.splitlines() if line.startswith("person-")]
    assert len(table) == 10
    assert all("no result" not in line for line in table)
    assert "Persona API calls:" in out


async def test_the_demo_starts_its_own_redis_when_none_answers(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")

    code = await run_demo(count=3)

    out = capsys.readouterr().out
    assert code == 0, out
    assert "started a private redis-server" in out


def test_the_demo_with_json_prints_one_report_on_stdout(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_server.url)

    assert main(["demo", "--count", "3", "--json"]) == 0

    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert (report["requests"], report["answered"], report["duplicate_events"]) == (3, 3, 0)
    assert [row["reference_id"] for row in report["results"]] == [
        "person-001",
        "person-002",
        "person-003",
    ]
    assert all(row["event"] for row in report["results"])
    assert report["api_calls"] >= 6
    assert "requests answered" in captured.err, "the human-readable run went to stderr"

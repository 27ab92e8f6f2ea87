"""The README's main command: the demo runs the whole pipeline to a results table by itself."""

from __future__ import annotations

import json

import pytest
from redis.asyncio import Redis

from jobs.state.keys import KeySpace
from jobs.state.results import read_range
from worker.cli import main
from worker.demo import DEMO_PREFIX, run_demo
from worker.embedded_redis import RedisServer, free_port

pytestmark = pytest.mark.slow


async def test_the_demo_answers_every_request_once_and_prints_the_table(
    redis_server: RedisServer,
    redis: Redis,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    # What an interrupted demo leaves: a request still following an inquiry nobody knows now.
    earlier = KeySpace(DEMO_PREFIX)
    await redis.zadd(earlier.due, {"inq_from_an_earlier_run": 0})
    await redis.zadd(earlier.open_requests, {"demo-earlier-001": 0})

    code = await run_demo(count=10)

    out = capsys.readouterr().out
    assert code == 0, out
    assert "10/10 requests answered; duplicate events: 0." in out
    table = [line for line in out.splitlines() if line.startswith("person-")]
    assert len(table) == 10
    assert all("no result" not in line for line in table)
    # Approved people are screened; the first of them is on the sandbox's watchlist.
    assert [line for line in table if "watchlist:match" in line]
    assert "matched a list: person-" in out
    assert "Persona API calls:" in out
    # Every key it kept is under its own prefix; what the earlier run left was cleared, not
    # answered during this one.
    ours = {key.decode() for key in await redis.keys("*") if not key.startswith(b"arq:")}
    assert ours
    assert all(key.startswith(DEMO_PREFIX) for key in ours), sorted(ours)
    events = await read_range(redis, earlier.default_results_stream)
    assert len(events) == 10
    assert not [event for event in events if event.answers("demo-earlier-001")]


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

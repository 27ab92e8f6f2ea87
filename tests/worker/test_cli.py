"""`persona-worker` commands against a real Redis: what an operator types, what they see."""

from __future__ import annotations

import json

import pytest
import redis

from tests.conftest import TEST_API_KEY, TEST_TEMPLATE_ID
from worker.cli import main
from worker.embedded_redis import RedisServer


@pytest.fixture
def env(redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> redis.Redis:
    monkeypatch.setenv("PERSONA_API_KEY", TEST_API_KEY)
    monkeypatch.setenv("PERSONA_TEMPLATE_ID", TEST_TEMPLATE_ID)
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    monkeypatch.chdir("/")  # no .env from the checkout
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    client.flushall()
    return client


def test_enqueue_create_writes_one_json_job(
    env: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "enqueue",
            "create",
            "--reference-id",
            "u-1",
            "--field",
            "name-first=Ada",
            "--job-id",
            "req-1",
            "--json",
        ]
    )

    assert code == 0
    assert json.loads(capsys.readouterr().out) == {"job_id": "req-1"}
    raw = env.get("arq:job:req-1")
    assert isinstance(raw, str)
    job = json.loads(raw)
    assert (job["f"], job["k"]["reference_id"], job["k"]["fields"]) == (
        "create_inquiry",
        "u-1",
        {"name-first": "Ada"},
    )
    assert env.zscore("persona:queue", "req-1") is not None


def test_enqueue_with_a_taken_job_id_says_so_and_fails(
    env: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["enqueue", "poll", "inq_1", "--job-id", "p-1"]) == 0
    assert main(["enqueue", "poll", "inq_1", "--job-id", "p-1"]) == 1
    assert "already exists" in capsys.readouterr().err


def test_enqueue_with_bad_arguments_names_them_and_writes_nothing(
    env: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["enqueue", "create", "--reference-id", "u-1", "--template-id", "nope"])

    assert code == 2
    assert "template_id" in capsys.readouterr().err
    assert env.zcard("persona:queue") == 0


def test_a_missing_api_key_is_named(
    env: redis.Redis, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PERSONA_API_KEY")

    assert main(["status"]) == 2
    assert "PERSONA_API_KEY" in capsys.readouterr().err


def test_status_counts_queued_jobs(env: redis.Redis, capsys: pytest.CaptureFixture[str]) -> None:
    main(["enqueue", "poll", "inq_1"])
    capsys.readouterr()

    assert main(["status", "--json"]) == 0

    view = json.loads(capsys.readouterr().out)
    assert view["queued_jobs"] == 1


def test_status_of_an_unfollowed_inquiry_fails(
    env: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "inq_unknown"]) == 1
    assert "not followed" in capsys.readouterr().err


def _publish(env: redis.Redis, event: str, inquiry_id: str) -> None:
    data = {"event": event, "inquiry_id": inquiry_id, "status": event.split(".")[-1]}
    env.xadd(
        "persona:results", {"event": event, "inquiry_id": inquiry_id, "data": json.dumps(data)}
    )


def test_results_filter_by_event_and_count(
    env: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    _publish(env, "inquiry.approved", "inq_a")
    _publish(env, "inquiry.declined", "inq_b")
    _publish(env, "inquiry.approved", "inq_c")

    assert main(["results", "--event", "inquiry.approved", "--json"]) == 0

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["inquiry_id"] for line in lines] == ["inq_a", "inq_c"]


def test_results_follow_stops_after_count(
    env: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    _publish(env, "inquiry.completed", "inq_a")

    assert main(["results", "--follow", "--count", "1", "--inquiry", "inq_a"]) == 0

    assert "inq_a" in capsys.readouterr().out

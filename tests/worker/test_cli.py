"""`persona-worker` commands against a real Redis: what an operator types, what they see."""

from __future__ import annotations

import io
import itertools
import json
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import redis

from jobs.state.keys import KeySpace
from jobs.state.ledger import FOLLOWER_FIELD
from tests.conftest import TEST_API_KEY, TEST_TEMPLATE_ID
from tests.logging_support import preserved_logging
from worker.cli import main
from worker.embedded_redis import RedisServer

#: The keys of the default deployment (`KEY_PREFIX` unset), which the commands read.
KEYS = KeySpace()


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Each command configures the process's logging; put pytest's back afterwards."""
    with preserved_logging():
        yield


@pytest.fixture
def env(redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> redis.Redis:
    monkeypatch.setenv("PERSONA_API_KEY", TEST_API_KEY)
    monkeypatch.setenv("PERSONA_TEMPLATE_ID", TEST_TEMPLATE_ID)
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    monkeypatch.chdir("/")  # no .env from the checkout
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    client.flushall()
    return client


def _job(client: redis.Redis, job_id: str) -> dict[str, Any]:
    """The wire document of one queued job."""
    raw = client.get(f"arq:job:{job_id}")
    assert isinstance(raw, str)
    document: dict[str, Any] = json.loads(raw)
    return document


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
    job = _job(env, "req-1")
    assert (job["f"], job["k"]["reference_id"], job["k"]["fields"]) == (
        "create_inquiry",
        "u-1",
        {"name-first": "Ada"},
    )
    assert env.zscore("persona:queue", "req-1") is not None


def test_enqueue_create_with_screening_and_tags(
    env: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = (
        "enqueue create --reference-id u-1 --report watchlist --report adverse-media --tag vip"
        " --redirect-uri https://example.com/done --job-id req-2"
    )

    assert main(argv.split()) == 0

    kwargs = _job(env, "req-2")["k"]
    assert kwargs["reports"] == ["watchlist", "adverse-media"]
    assert (kwargs["tags"], kwargs["redirect_uri"]) == (["vip"], "https://example.com/done")


def test_enqueue_report_writes_one_run_report_job(
    env: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = (
        "enqueue report watchlist --reference-id u-1 --query name-first=Ada"
        " --query name-last=Lovelace --job-id rep-1 --json"
    )

    assert main(argv.split()) == 0

    assert json.loads(capsys.readouterr().out) == {"job_id": "rep-1"}
    job = _job(env, "rep-1")
    assert (job["f"], job["k"]) == (
        "run_report",
        {
            "report_type": "watchlist",
            "query": {"name-first": "Ada", "name-last": "Lovelace"},
            "reference_id": "u-1",
        },
    )


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["watchlist", "--reference-id", "u-1"], "query"),
        (["watchlist", "--reference-id", "u-1", "--query", "Ada"], "--query expects NAME=VALUE"),
        (["watchlist", "--reference-id", "u-1", "--query", "colour=red"], "colour"),
    ],
    ids=["no query", "not a pair", "unknown key"],
)
def test_enqueue_report_with_a_bad_query_names_it_and_writes_nothing(
    env: redis.Redis, capsys: pytest.CaptureFixture[str], argv: list[str], named: str
) -> None:
    assert main(["enqueue", "report", *argv]) == 2

    assert named in capsys.readouterr().err
    assert env.zcard("persona:queue") == 0


def test_enqueue_report_needs_exactly_one_person(
    env: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as usage:
        main(["enqueue", "report", "watchlist", "--query", "name-last=Doe"])

    assert usage.value.code == 2
    assert "--reference-id" in capsys.readouterr().err
    assert env.zcard("persona:queue") == 0


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


def _follow(
    env: redis.Redis,
    inquiry_id: str,
    status: str,
    *,
    since: float,
    error: str = "",
    reference: str = "user-1",
) -> None:
    """An inquiry followed by the create request that made it, as the ledger writes both."""
    request_id = f"create-{reference}"
    env.hset(
        KEYS.inquiry(inquiry_id),
        mapping={
            "since": repr(since),
            "status": status,
            "updated": repr(since + 5),
            "polls": 2,
            "round": 0,
            "err": error,
            "creator": request_id,
            f"{FOLLOWER_FIELD}{request_id}": reference,
        },
    )
    env.zadd(KEYS.due, {inquiry_id: int((since + 60) * 1000)})
    env.hset(
        KEYS.request(request_id),
        mapping={
            "job": "create_inquiry",
            "at": repr(since),
            "ref": reference,
            "inquiry": inquiry_id,
        },
    )
    env.zadd(KEYS.open_requests, {request_id: int((since + 3_600) * 1000)})


def test_status_is_a_table_of_statuses_oldest_queue_and_errors(
    env: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    now = time.time()
    _follow(env, "inq_old", "pending", since=now - 3_700, error="ServerError", reference="u-1")
    _follow(env, "inq_mid", "pending", since=now - 120, reference="u-2")
    _follow(
        env, "inq_new", "needs_review", since=now - 10, error="ApiTimeoutError", reference="u-3"
    )
    main(["enqueue", "poll", "inq_1"])
    capsys.readouterr()

    assert main(["status"]) == 0

    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["in", "flight", "3"]
    assert "oldest 1h01m (inq_old)" in lines[0]
    assert lines[1].split()[:3] == ["open", "requests", "3"]
    assert lines[2].split()[:2] == ["queue", "1"]
    assert "(1 ready, 0 scheduled)" in lines[2]
    assert ["pending", "2"] in [line.split() for line in lines]
    assert ["needs_review", "1"] in [line.split() for line in lines]
    errors = lines[lines.index("last errors") + 2 :]
    assert [line.split()[:3] for line in errors] == [
        ["inq_new", "needs_review", "ApiTimeoutError"],
        ["inq_old", "pending", "ServerError"],
    ]


def test_status_json_has_the_same_facts(
    env: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    now = time.time()
    _follow(env, "inq_old", "pending", since=now - 100, error="ServerError")

    assert main(["status", "--json"]) == 0

    view = json.loads(capsys.readouterr().out)
    assert view["in_flight"] == 1
    assert view["open_requests"] == 1
    assert view["by_status"] == {"pending": 1}
    assert view["oldest_inquiry_id"] == "inq_old"
    assert view["last_errors"][0]["error"] == "ServerError"
    assert view["queued_ready"] == 0


def test_status_shows_the_polling_mode_all_workers_share(
    env: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    reason = "signed webhooks announce the changes"
    env.hset(
        KEYS.webhook_flow,
        mapping={"mode": "webhooks", "since": time.time() - 90, "reason": reason},
    )

    assert main(["status"]) == 0
    table = capsys.readouterr().out
    assert main(["status", "--json"]) == 0
    view = json.loads(capsys.readouterr().out)

    assert f"polling         webhooks for 1m30s ({reason})" in table
    assert (view["polling"]["mode"], view["polling"]["reason"]) == ("webhooks", reason)


def test_status_of_an_empty_pipeline_says_so(
    env: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "last errors     none" in out
    assert "(none)" in out
    assert "polling          polling" in out


def test_inquiry_show_prints_the_record_and_only_its_events(
    env: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    since = time.time() - 30
    _follow(env, "inq_a", "completed", since=since, reference="user-7")
    _publish(env, "inquiry.decision-recorded", "inq_a")
    _publish(env, "inquiry.approved", "inq_b")
    _publish(env, "inquiry.approved", "inq_a")

    assert main(["inquiry", "show", "inq_a"]) == 0

    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "reference     user-7" in lines
    assert "creator       create-user-7" in lines
    assert "status        completed" in lines
    assert "checks        2 (round 0)" in lines
    assert "done          no" in lines
    assert [line.split() for line in _section(lines, "waiting (1)")] == [
        ["create-user-7", "user-7"]
    ]
    due = datetime.fromtimestamp(int((since + 60) * 1000) / 1000, tz=UTC)
    assert any(line.startswith(f"next check    {due:%Y-%m-%d %H:%M:%SZ} (in ") for line in lines)
    events = [line.split()[1] for line in _section(lines, "events (2)")]
    assert events == ["inquiry.decision-recorded", "inquiry.approved"]
    assert "inq_b" not in out


def _section(lines: list[str], title: str) -> list[str]:
    """The indented lines under a section title of the `inquiry show` table."""
    rest = lines[lines.index(title) + 1 :]
    return [line for line in itertools.takewhile(lambda line: line.startswith("  "), rest)]


def test_inquiry_show_of_a_settled_inquiry_says_it_is_done(
    env: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    now = time.time()
    env.hset(
        KEYS.inquiry("inq_done"),
        mapping={
            "since": repr(now - 90),
            "status": "approved",
            "updated": repr(now - 5),
            "polls": 4,
            "round": 1,
            "done": "1",
            "event": "inquiry.approved",
            "creator": "create-9",
        },
    )
    _publish(env, "inquiry.approved", "inq_done")

    assert main(["inquiry", "show", "inq_done"]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert "checks        4 (round 1)" in lines
    assert "done          yes" in lines
    assert "last event    inquiry.approved" in lines
    assert "next check    - (not followed)" in lines
    assert "reference     -" in lines
    assert _section(lines, "waiting (0)") == []


def test_inquiry_show_json_and_the_old_status_spelling_agree(
    env: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    _follow(env, "inq_a", "pending", since=time.time() - 30)
    _publish(env, "inquiry.approved", "inq_a")

    assert main(["inquiry", "show", "inq_a", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert main(["status", "inq_a", "--json"]) == 0
    via_status = json.loads(capsys.readouterr().out)

    assert shown == via_status
    assert shown["record"]["status"] == "pending"
    assert shown["record"]["followers"] == {"create-user-1": "user-1"}
    assert shown["next_check"] == pytest.approx(time.time() + 30, abs=5)
    assert [event["event"] for event in shown["events"]] == ["inquiry.approved"]


def test_inquiry_show_finds_events_after_the_record_expired(
    env: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    _publish(env, "inquiry.failed", "inq_gone")

    assert main(["inquiry", "show", "inq_gone"]) == 0

    out = capsys.readouterr().out
    assert "record        none" in out
    assert "inquiry.failed" in out


def test_inquiry_show_of_an_unknown_inquiry_fails(
    env: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inquiry", "show", "inq_nothing"]) == 1
    assert "not followed" in capsys.readouterr().err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_long_stream_scan_shows_progress_on_a_terminal(
    env: redis.Redis, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with env.pipeline(transaction=False) as pipe:
        for index in range(2_500):
            inquiry = "inq_target" if index == 10 else f"inq_{index}"
            _publish(pipe, "inquiry.completed", inquiry)
        pipe.execute()
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)

    assert main(["inquiry", "show", "inq_target", "--json"]) == 0

    progress = terminal.getvalue()
    assert "\rreading results stream 1000/2500" in progress
    assert "\rreading results stream 2500/2500" in progress
    assert progress.endswith("\r"), "the progress line is erased at the end"
    shown = json.loads(capsys.readouterr().out)
    assert [event["inquiry_id"] for event in shown["events"]] == ["inq_target"]


def test_progress_stays_off_when_stderr_is_not_a_terminal(
    env: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    _publish(env, "inquiry.completed", "inq_a")
    assert main(["inquiry", "show", "inq_a"]) == 0
    assert "reading" not in capsys.readouterr().err


def _publish(
    env: redis.Redis | redis.client.Pipeline, event: str, inquiry_id: str, reference: str = ""
) -> None:
    """Add a result entry as the publisher writes one (with a reference id when given)."""
    data = {"event": event, "inquiry_id": inquiry_id, "status": event.split(".")[-1]}
    if reference:
        data["reference_id"] = reference
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


def test_results_filter_by_reference_and_several_events(
    env: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    _publish(env, "inquiry.approved", "inq_a", "user-1")
    _publish(env, "inquiry.declined", "inq_b", "user-1")
    _publish(env, "inquiry.approved", "inq_c", "user-2")
    _publish(env, "job.failed", "inq_d", "user-1")

    code = main(
        [
            "results",
            "--reference",
            "user-1",
            "--event",
            "inquiry.approved",
            "--event",
            "job.failed",
            "--json",
        ]
    )

    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["inquiry_id"] for line in lines] == ["inq_a", "inq_d"]

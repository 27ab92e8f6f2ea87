"""Log lines: JSON or text by setting, every id of the job that logged, nothing secret."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from arq import Retry

from jobs import log_context
from settings import Settings
from tests.logging_support import capture_logs, parse_json_lines, preserved_logging
from worker.instrument import instrument
from worker.logs import configure_logging

log = logging.getLogger("tests.worker.logs")


async def _job_that_learns_its_inquiry(ctx: dict[str, Any], **kwargs: Any) -> str:
    log.info("before the inquiry is known")
    log_context.bind(inquiry_id="inq_learnt")
    log.info("after the inquiry is known")
    return "done"


async def test_json_lines_carry_the_job_its_try_and_the_ids_it_learns() -> None:
    job = instrument("create_inquiry", _job_that_learns_its_inquiry)

    with capture_logs("json", "INFO") as buffer:
        assert await job({"job_id": "req-1", "job_try": 2}, reference_id="user-9") == "done"

    before, after = [
        line for line in parse_json_lines(buffer.getvalue()) if line["logger"] == log.name
    ]
    assert before == {
        "time": before["time"],
        "level": "INFO",
        "logger": "tests.worker.logs",
        "message": "before the inquiry is known",
        "job": "create_inquiry",
        "job_id": "req-1",
        "job_try": 2,
        "reference_id": "user-9",
    }
    assert before["time"].endswith("Z")
    assert after["inquiry_id"] == "inq_learnt"
    assert log_context.current() == {}, "the job's fields end with the job"


async def test_text_lines_are_readable_with_the_same_fields() -> None:
    job = instrument("poll_inquiry", _job_that_learns_its_inquiry)

    with capture_logs("text", "INFO") as buffer:
        await job({"job_id": "poll:inq_learnt:3", "job_try": 1}, inquiry_id="inq_learnt")

    line = next(text for text in buffer.getvalue().splitlines() if "after the inquiry" in text)
    assert " INFO    tests.worker.logs: after the inquiry is known  " in line
    assert line.endswith("job=poll_inquiry job_id=poll:inq_learnt:3 try=1 inquiry_id=inq_learnt")


def test_settings_choose_format_and_level(make_settings: Any) -> None:
    settings: Settings = make_settings(log_format="json", log_level="WARNING")

    with preserved_logging():
        handler = configure_logging(settings)
        root = logging.getLogger()
        assert handler in root.handlers
        assert root.level == logging.WARNING
        record = logging.LogRecord("x", logging.WARNING, __file__, 1, "hello %s", ("you",), None)
        assert json.loads(handler.format(record))["message"] == "hello you"


def test_configuring_twice_keeps_one_handler_and_takes_over_arq_and_uvicorn() -> None:
    with preserved_logging():
        arq_logger = logging.getLogger("arq")
        arq_logger.addHandler(logging.StreamHandler())  # what the arq CLI's dictConfig does
        arq_logger.propagate = False
        configure_logging(log_format="text", log_level="INFO")
        configure_logging(log_format="json", log_level="DEBUG")

        ours = [h for h in logging.getLogger().handlers if type(h).__module__ == "worker.logs"]
        assert len(ours) == 1
        assert isinstance(ours[0].formatter, logging.Formatter)
        assert type(ours[0].formatter).__name__ == "JsonFormatter"
        for name in ("arq", "uvicorn", "uvicorn.access"):
            logger = logging.getLogger(name)
            assert (logger.handlers, logger.propagate) == ([], True)
        assert logging.getLogger("httpx").level == logging.WARNING


async def test_retries_failures_and_successes_all_end_the_scope() -> None:
    async def retrying(ctx: dict[str, Any]) -> None:
        raise Retry(defer=1)

    async def failing(ctx: dict[str, Any]) -> None:
        raise ValueError("boom")

    with pytest.raises(Retry):
        await instrument("poll_inquiry", retrying)({"job_id": "a", "job_try": 1})
    with pytest.raises(ValueError, match="boom"):
        await instrument("poll_inquiry", failing)({"job_id": "b", "job_try": 1})
    assert log_context.current() == {}


def test_bind_keeps_identifiers_and_refuses_anything_else() -> None:
    with log_context.scope(job="x"):
        log_context.bind(inquiry_id="inq_1", reference_id=" padded ")
        assert log_context.current()["reference_id"] == log_context.INVALID
        log_context.bind(reference_id="line\nbreak")
        assert log_context.current()["reference_id"] == log_context.INVALID
        log_context.bind(reference_id="x" * 256)
        assert log_context.current()["reference_id"] == log_context.INVALID
        log_context.bind(reference_id=None)  # None leaves what was bound
        assert log_context.current()["inquiry_id"] == "inq_1"
        with pytest.raises(TypeError, match="unknown log context field"):
            log_context.bind(email="someone@example.org")


def test_scopes_do_not_inherit_another_jobs_ids() -> None:
    with log_context.scope(job="outer", inquiry_id="inq_outer"):
        with log_context.scope(job="inner"):
            assert log_context.current() == {"job": "inner"}
        assert log_context.current()["inquiry_id"] == "inq_outer"


@pytest.mark.parametrize(
    "secret",
    [
        "persona_sandbox_abc123",
        "persona_production_XYZ-789",
        "wbhsec_0123abcd",
        "Bearer persona_sandbox_abc123",
        "t=1700000000,v1=" + "ab" * 32,
    ],
)
@pytest.mark.parametrize("log_format", ["json", "text"])
def test_formatters_scrub_keys_secrets_tokens_and_signatures(secret: str, log_format: Any) -> None:
    with capture_logs(log_format, "INFO") as buffer:
        try:
            raise RuntimeError(f"failed with {secret}")
        except RuntimeError:
            log.exception("request with %s failed", secret)

    output = buffer.getvalue()
    assert "[redacted]" in output
    for part in secret.replace("=", " ").replace(",", " ").split():
        if len(part) > 12:
            assert part not in output


def test_arq_job_lines_hide_arguments_and_results_and_name_the_job() -> None:
    arq_log = logging.getLogger("arq.worker")
    with capture_logs("json", "INFO") as buffer:
        arq_log.info(
            "%6.2fs → %s(%s)%s", 0.01, "req-1:create_inquiry", "fields={'name': 'Ada'}", ""
        )
        arq_log.info("%6.2fs ← %s ● %s", 0.02, "poll:inq_1:3:poll_inquiry", "{'link': 'x'}")
        arq_log.info("%6.2fs ↻ %s retrying job in %0.2fs", 0.03, "cron:sweep", 1.0)

    start, done, retry = parse_json_lines(buffer.getvalue())
    assert start["message"] == "  0.01s → req-1:create_inquiry(…)"
    assert (start["job"], start["job_id"]) == ("create_inquiry", "req-1")
    assert done["message"] == "  0.02s ← poll:inq_1:3:poll_inquiry ● …"
    assert (done["job"], done["job_id"]) == ("poll_inquiry", "poll:inq_1:3")
    assert retry["job"] == "sweep"
    assert "job_id" not in retry
    assert "Ada" not in buffer.getvalue()


def test_the_web_app_built_from_the_environment_logs_our_way(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from worker.web import create_app

    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.setenv("PERSONA_API_KEY", "persona_sandbox_web0test")
    monkeypatch.setenv("PERSONA_WEBHOOK_SECRETS", "wbhsec_web0test")
    monkeypatch.setenv("LOG_FORMAT", "json")
    with preserved_logging():
        uvicorn_access = logging.getLogger("uvicorn.access")
        uvicorn_access.addHandler(logging.StreamHandler())  # what uvicorn's own config does
        create_app()

        [handler] = [h for h in logging.getLogger().handlers if type(h).__module__ == "worker.logs"]
        assert type(handler.formatter).__name__ == "JsonFormatter"
        assert uvicorn_access.handlers == []


def test_a_web_app_given_settings_leaves_logging_alone(make_settings: Any) -> None:
    from worker.web import create_app

    with preserved_logging():
        before = list(logging.getLogger().handlers)
        create_app(make_settings(log_format="json"))
        assert logging.getLogger().handlers == before

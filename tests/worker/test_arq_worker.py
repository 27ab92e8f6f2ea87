"""The worker's guards around arq: passing Redis errors in arq's own bookkeeping end nothing."""

from __future__ import annotations

import logging

import pytest
from arq.worker import Worker
from redis.exceptions import ResponseError

from worker.arq_worker import PersonaWorker

MISCONF = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist"


def _worker_whose_bookkeeping_fails(
    monkeypatch: pytest.MonkeyPatch, error: Exception
) -> PersonaWorker:
    async def failing_run_job(self: Worker, job_id: str, score: int) -> None:
        raise error

    monkeypatch.setattr(Worker, "run_job", failing_run_job)
    return PersonaWorker.__new__(PersonaWorker)


async def test_a_refused_write_while_arq_takes_a_job_leaves_it_for_later(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    worker = _worker_whose_bookkeeping_fails(monkeypatch, ResponseError(MISCONF))

    with caplog.at_level(logging.WARNING, logger="worker.arq_worker"):
        await worker.run_job("persona:report-tick:1", 1)

    assert "runs again when its claim expires" in caplog.text


async def test_other_redis_errors_still_escape(monkeypatch: pytest.MonkeyPatch) -> None:
    error = ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value")
    worker = _worker_whose_bookkeeping_fails(monkeypatch, error)

    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await worker.run_job("job-1", 1)

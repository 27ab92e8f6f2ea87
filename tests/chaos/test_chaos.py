"""The CI-sized chaos run: 250 requests through real processes under kills, a Redis restart and
a misbehaving API, and every request still ends exactly once.

`bench.chaos` does the work (see its docstrings); `python -m bench.chaos` is the larger run. The
processes are the deployed ones: the Procfile's worker (`python -m worker.run`) several times
over, the web receiver under uvicorn, `persona-sandbox` and redis-server with AOF.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.chaos import ChaosPlan, run_chaos
from bench.chaos.stack import WORKER_COMMAND
from bench.processes import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.redis]


def test_the_chaos_run_starts_the_procfile_worker() -> None:
    procfile = dict(
        line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line
    )
    assert procfile["worker"].split() == ["python", *WORKER_COMMAND[1:]]


def _ran_out_of_time(logs: Path) -> int:
    """Jobs the workers' logs show stopped by their own deadline (`jobs.pipeline.requests`)."""
    return sum(
        path.read_text(errors="replace").count(" ran out of its ")
        for path in logs.rglob("worker-*")
        if path.is_file()
    )


@pytest.mark.timeout(300)
async def test_every_request_ends_exactly_once_under_chaos(tmp_path: Path) -> None:
    plan = ChaosPlan.ci()
    report = await run_chaos(plan, tmp_path)
    summary = "\n".join(report.lines()) + f"\nlogs: {tmp_path}"
    verdict = report.verdict

    assert report.settled, summary
    # Exactly one terminal event per request, none for a request never made.
    assert verdict.lost == [], summary
    assert verdict.duplicated == {}, summary
    assert verdict.unexpected == [], summary
    assert verdict.wrong_outcome == {}, summary
    # The ledger agrees: each request's recorded answer is its one event, and none is open.
    assert verdict.ledger_disagrees == {}, summary
    assert verdict.open_requests == 0, summary
    # Exactly one Persona inquiry per create job (none for a malformed one), by key and person.
    assert verdict.extra_creates == {}, summary
    assert verdict.extra_creates_by_reference == {}, summary
    assert verdict.creates_without_key == 0, summary
    assert verdict.mismatched == [], summary
    # Neither the API key nor the webhook secret in any event or anything the sandbox stored.
    assert verdict.leaks == [], summary
    # The chaos happened: kills with stranded jobs, one Redis restart, faults, 429s, webhooks.
    assert report.recovery.kills >= 8, summary
    assert report.recovery.jobs_in_flight > 0, summary
    assert report.recovery.jobs_back == report.recovery.jobs_in_flight, summary
    assert report.redis_restarts == 1, summary
    assert report.sandbox["faults"].get("error", 0) > 0, summary
    assert report.sandbox["faults"].get("hang", 0) > 0, summary
    # Some held answers trickled in past a job's time: its own deadline ran it again.
    assert _ran_out_of_time(tmp_path) > 0, summary
    assert report.worker_429s > 0, summary
    assert report.sandbox["webhooks"]["duplicates"] > 0, summary
    assert report.sandbox["webhooks"]["reordered"] > 0, summary
    # Workers ride out the Redis restart (none ended on its own) and stop cleanly on SIGTERM.
    assert report.unexpected_exits == [], summary
    assert set(report.stop_codes) == {0}, summary
    # A killed worker's jobs come back once arq's in-progress key expires: JOB_TIMEOUT_S + 10 s.
    assert report.recovery.max_back_s is not None, summary
    # (plus the wait for a free worker slot and the run's sampling, hence the margin).
    assert report.recovery.max_back_s <= plan.in_progress_ttl_s + 5.0, summary

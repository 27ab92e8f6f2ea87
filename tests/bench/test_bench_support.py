"""The benchmark's pure parts: figures and targets, the table, percentiles, clocks, the CLI."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench.__main__ import parser
from bench.processes import settings_env
from bench.report import ScenarioResult, percentile, render_table, write_json
from bench.sandbox import SandboxClock
from jobs.state.keys import is_cron_job_id


def test_figures_are_judged_against_their_bounds() -> None:
    result = ScenarioResult("calls", "a. calls")

    low = result.add("polling path", 2.08, at_most=2.1)
    high = result.add("webhook path", 2.06, at_most=2.05)
    rate = result.add("per minute", 139.9, at_least=140)
    info = result.add("naive", 9.5)

    assert (low.met, high.met, rate.met, info.met) == (True, False, False, None)
    assert (low.target, rate.target, info.target) == ("<= 2.1", ">= 140", "")
    assert (low.verdict(), high.verdict(), info.verdict()) == ("met", "MISSED", "")


def test_the_table_names_each_scenario_once_and_shows_verdicts() -> None:
    first = ScenarioResult("calls", "a. calls")
    first.add("polling path", 2.08, at_most=2.1)
    first.add("webhook path", 2.0, at_most=2.05)
    second = ScenarioResult("memory", "e. memory")
    second.add("bytes", float("nan"), "B", at_most=2048)

    lines = render_table([first, second]).splitlines()

    assert len(lines) == 2 + 3
    assert lines[2].startswith("| a. calls ")
    assert lines[3].startswith("|          ")
    assert "MISSED" in lines[4]
    assert "n/a" in lines[4]
    assert len({len(line) for line in lines}) == 1


def test_json_keeps_figures_and_details(tmp_path: Path) -> None:
    result = ScenarioResult("memory", "e. memory", details={"samples": [1, 2]})
    result.add("bytes", float("nan"), "B", at_most=2048)

    path = write_json([result], tmp_path / "results", command="python -m bench", wall_s=1.25)

    document = json.loads(path.read_text())
    assert document["command"] == "python -m bench"
    [scenario] = document["scenarios"]
    assert scenario["details"] == {"samples": [1, 2]}
    assert scenario["figures"][0]["value"] is None
    assert scenario["figures"][0]["met"] is False


@pytest.mark.parametrize(("share", "expected"), [(0.0, 1.0), (0.5, 2.5), (0.99, 3.97), (1.0, 4.0)])
def test_percentiles_interpolate(share: float, expected: float) -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], share) == pytest.approx(expected)


def test_percentile_of_nothing_is_nan() -> None:
    assert math.isnan(percentile([], 0.5))


def test_a_scaled_sandbox_clock_maps_back_to_wall_time() -> None:
    pinned = datetime(2025, 12, 8, 12, 0, tzinfo=UTC)
    clock = SandboxClock(pinned, wall_at=1_000.0, time_scale=20.0)

    assert clock.wall(pinned + timedelta(seconds=60)) == pytest.approx(1_003.0)
    assert clock.wall(pinned - timedelta(seconds=20)) == pytest.approx(999.0)


def test_settings_become_environment_variables() -> None:
    env = settings_env({"poll_tick_s": 5.0, "publish_fields": ("a", "b"), "flag": True})

    assert env == {"POLL_TICK_S": "5.0", "PUBLISH_FIELDS": "a,b", "FLAG": "true"}


def test_the_command_line_takes_names_letters_and_settings() -> None:
    args = parser().parse_args(["--only", "a,memory", "--set", "POLL_TICK_S=5"])

    assert args.only == ["calls", "memory"]
    assert args.set == [("poll_tick_s", "5")]


@pytest.mark.parametrize(
    "argv",
    [
        ["--only", "speed"],
        ["--set", "NOT_A_SETTING=1"],
        ["--set", "POLL_ALIGN_S=5"],  # removed with the polling tick
        ["--inquiries", "5"],
    ],
)
def test_the_command_line_refuses_unknown_scenarios_settings_and_sizes(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(argv)


@pytest.mark.parametrize(
    ("job_id", "cron"),
    [
        ("persona:poll-tick:1796434225476", True),
        ("bench:sweep:1796434220000", True),
        ("persona-demo:poll-tick:1796434225250", True),
        ("persona:fetch:inq_1:0", False),
        ("persona:poll-tick", False),
        ("sweep-7", False),
        ("create-user-1", False),
    ],
)
def test_cron_runs_are_told_from_pipeline_jobs_of_any_deployment(job_id: str, cron: bool) -> None:
    assert is_cron_job_id(job_id) is cron


def test_the_abuse_benchmark_runs_the_procfiles_web_command_on_its_own_port() -> None:
    from bench.abuse import procfile_web_argv
    from bench.processes import ROOT, console_script

    argv = procfile_web_argv(ROOT / "Procfile", host="127.0.0.1", port=8123)

    launcher = console_script("uvicorn")
    assert argv[: len(launcher)] == launcher
    assert argv[len(launcher) :] == [
        *("--factory", "worker.web:create_app", "--host", "127.0.0.1", "--port", "8123"),
        *("--limit-concurrency", "2048"),
    ]

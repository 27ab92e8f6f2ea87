"""The chaos command line: timeouts that fit together, and a usage error for ones that do not."""

from __future__ import annotations

import pytest

from bench.chaos.__main__ import _parser, _plan, main


def test_a_job_timeout_alone_gets_held_answers_that_outlast_it() -> None:
    plan = _plan(_parser().parse_args(["--ci", "--job-timeout", "28"]))

    assert plan.job_timeout_s == 28
    assert plan.hang_s > max(plan.job_timeout_s, plan.http_timeout_s)


def test_timeouts_that_do_not_fit_end_in_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--ci", "--job-timeout", "2"])

    assert exited.value.code == 2
    assert "job_timeout_s must exceed" in capsys.readouterr().err

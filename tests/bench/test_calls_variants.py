"""Scenario a's polling variants: the command line, the options it builds, the labels."""

from __future__ import annotations

import math

import pytest

from bench.__main__ import calls_options_of, parser
from bench.scenarios.calls import BusyCore, CallsOptions, polling_label


def test_by_default_the_polling_run_has_one_process_and_nothing_beside_it() -> None:
    options = calls_options_of(parser().parse_args([]))

    assert (options.workers, options.busy_core) == (1, False)
    assert options == CallsOptions()


def test_the_command_line_asks_for_processes_and_a_busy_core() -> None:
    argv = ["--only", "calls", "--no-naive", "--calls-workers", "4", "--calls-load"]
    argv += ["--set", "POLL_TICK_S=10", "--inquiries", "200"]

    options = calls_options_of(parser().parse_args(argv))

    assert options == CallsOptions(
        inquiries=200, naive=False, overrides={"poll_tick_s": "10"}, workers=4, busy_core=True
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["--calls-workers", "0"],
        ["--calls-workers", "17"],
        ["--calls-workers", "2.5"],
        ["--calls-workers"],
        ["--calls-load=yes"],
    ],
)
def test_the_command_line_refuses_other_process_counts_and_load_values(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(argv)


@pytest.mark.parametrize(
    ("workers", "busy_core", "label"),
    [
        (1, False, "polling path"),
        (4, False, "polling path, 4 processes"),
        (1, True, "polling path, 1 process, one core busy"),
        (4, True, "polling path, 4 processes, one core busy"),
    ],
)
def test_each_variant_labels_its_polling_figure(workers: int, busy_core: bool, label: str) -> None:
    assert polling_label(workers, busy_core) == label


def test_a_busy_core_is_its_cpu_time_per_second_of_wall_time() -> None:
    assert BusyCore(cpu_s=270.0, wall_s=300.0).cores == pytest.approx(0.9)
    assert math.isnan(BusyCore(cpu_s=0.0, wall_s=0.0).cores)

"""The console's charts: what each series draws from the per-minute bins."""

from __future__ import annotations

from jobs.state.history_reads import Bin
from worker.console.charts import build_charts


def _bins(lags: list[int | None]) -> list[Bin]:
    """One-minute bins whose latency histogram holds one sample in bucket `lag` (or none)."""
    return [
        Bin(start=60 * n, minutes=1, counts={} if lag is None else {f"lag:{lag}": 1})
        for n, lag in enumerate(lags)
    ]


def test_a_value_with_no_neighbour_is_drawn_as_a_dot() -> None:
    [latency] = [
        chart
        for chart in build_charts(_bins([None, 2, None, None]), rate_limit=None)
        if chart.key == "latency"
    ]

    p50 = next(line for line in latency.lines if line.name == "p50")

    assert p50.count == 1
    assert len(p50.dots) == 1


def test_values_side_by_side_are_a_line_without_dots() -> None:
    [latency] = [
        chart
        for chart in build_charts(_bins([None, 2, 2, None]), rate_limit=None)
        if chart.key == "latency"
    ]

    p50 = next(line for line in latency.lines if line.name == "p50")

    assert p50.count == 2
    assert p50.dots == []

"""Figures, targets, the printed table and the JSON file: one shape for every scenario.

Each scenario returns a `ScenarioResult`: a list of `Figure`s (what the table shows, each with
its target and whether it is met) and a free-form `details` dict that only goes into the JSON
(per-operation counts, samples, settings), so the table stays readable and the JSON keeps
everything needed to check a figure later.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["Figure", "ScenarioResult", "percentile", "render_table", "write_json"]


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured number, with its target when there is one."""

    label: str
    value: float
    unit: str = ""
    target: str = ""
    """Human-readable target, e.g. `<= 2.1`; empty when the figure is informative only."""
    met: bool | None = None
    """Whether the target is met; None when there is no target."""
    digits: int = 2

    def shown(self) -> str:
        """The value as the table prints it."""
        if math.isnan(self.value):
            return "n/a"
        text = f"{self.value:,.{self.digits}f}"
        return f"{text} {self.unit}".strip()

    def verdict(self) -> str:
        """`met`, `MISSED` or empty."""
        if self.met is None:
            return ""
        return "met" if self.met else "MISSED"


@dataclass
class ScenarioResult:
    """What one scenario measured."""

    key: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0

    def add(
        self,
        label: str,
        value: float,
        unit: str = "",
        *,
        at_most: float | None = None,
        at_least: float | None = None,
        digits: int = 2,
    ) -> Figure:
        """Record a figure, judging it against an upper or lower bound when given."""
        target, met = "", None
        if at_most is not None:
            target, met = f"<= {at_most:g}", value <= at_most
        elif at_least is not None:
            target, met = f">= {at_least:g}", value >= at_least
        figure = Figure(label, value, unit, target, met, digits)
        self.figures.append(figure)
        return figure

    def judged(self, label: str, value: float, unit: str, target: str, met: bool) -> None:
        """Record a figure whose target is not a simple bound (e.g. "flat")."""
        self.figures.append(Figure(label, value, unit, target, met))


def percentile(values: Sequence[float], share: float) -> float:
    """The `share` quantile (0-1) by linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * share
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def render_table(results: Sequence[ScenarioResult]) -> str:
    """The results as a Markdown table (readable in a terminal, pasteable into a README)."""
    rows = [("scenario", "figure", "value", "target", "")]
    for result in results:
        for index, figure in enumerate(result.figures):
            name = result.title if index == 0 else ""
            rows.append((name, figure.label, figure.shown(), figure.target, figure.verdict()))
    widths = [max(len(row[column]) for row in rows) for column in range(5)]
    lines = []
    for number, row in enumerate(rows):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        lines.append("| " + " | ".join(cells) + " |")
        if number == 0:
            lines.append("|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


def write_json(
    results: Sequence[ScenarioResult], directory: Path, *, command: str, wall_s: float
) -> Path:
    """Write every figure and detail to `<directory>/<UTC timestamp>.json`; return the path."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = directory / f"{stamp}.json"
    document = {
        "command": command,
        "started_at": stamp,
        "wall_s": round(wall_s, 1),
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "scenarios": [
            {
                "key": result.key,
                "title": result.title,
                "wall_s": round(result.wall_s, 1),
                "figures": [
                    {**asdict(figure), "value": _json_number(figure.value)}
                    for figure in result.figures
                ],
                "details": result.details,
            }
            for result in results
        ],
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return path


def _json_number(value: float) -> float | None:
    return None if math.isnan(value) else value

"""The console's charts, drawn on the server as SVG: no script and no library needed to see them.

Each chart is a few polylines over the bins of one window (`worker.console.data.charts`): the
geometry is computed here, the template only writes it out. A series with no data at all is
left out, so an idle deployment shows an empty chart with its "no data" note rather than flat
lines that look like measurements.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from jobs.state.history_reads import Bin

__all__ = ["HEIGHT", "WIDTH", "Chart", "Line", "build_charts"]

WIDTH: Final = 640
HEIGHT: Final = 180
_PAD: Final = 8
#: Colours of the series, in order (readable on white, distinct for the common colour blindness).
_COLOURS: Final = ("#1b6ac9", "#d9480f", "#2b8a3e", "#862e9c", "#e67700", "#0b7285", "#495057")


@dataclass(frozen=True, slots=True)
class Line:
    """One series: its name, colour, SVG points and its last and largest values."""

    name: str
    colour: str
    points: str
    dots: list[tuple[float, float]]
    """Points with no value beside them, drawn as dots (a line through one point is invisible)."""
    count: int
    last: float
    peak: float


@dataclass(frozen=True, slots=True)
class Chart:
    """One chart: a title, a unit, its lines, the value at the top, and an optional limit."""

    key: str
    title: str
    unit: str
    lines: list[Line]
    top: float
    limit_y: float | None
    limit: float | None
    start: int
    end: int

    @property
    def empty(self) -> bool:
        """Whether no series has data."""
        return not self.lines


def _chart(
    key: str,
    title: str,
    unit: str,
    bins: Sequence[Bin],
    series: dict[str, Callable[[Bin], float | None]],
    *,
    limit: float | None = None,
) -> Chart:
    values = {name: [read(bin_) for bin_ in bins] for name, read in series.items()}
    kept = {name: vals for name, vals in values.items() if any(v for v in vals if v)}
    peak = max([v for vals in kept.values() for v in vals if v is not None] + [limit or 0, 1e-9])
    top = peak * 1.1
    step = (WIDTH - 2 * _PAD) / max(len(bins) - 1, 1)

    def y(value: float) -> float:
        return round(HEIGHT - _PAD - (HEIGHT - 2 * _PAD) * value / top, 1)

    lines = []
    for index, (name, vals) in enumerate(kept.items()):
        points = " ".join(
            f"{round(_PAD + i * step, 1)},{y(v)}" for i, v in enumerate(vals) if v is not None
        )
        present = [v for v in vals if v is not None]
        dots = [
            (round(_PAD + i * step, 1), y(v))
            for i, v in enumerate(vals)
            if v is not None
            and (i == 0 or vals[i - 1] is None)
            and (i == len(vals) - 1 or vals[i + 1] is None)
        ]
        lines.append(
            Line(
                name=name,
                colour=_COLOURS[index % len(_COLOURS)],
                points=points,
                dots=dots,
                count=len(present),
                last=present[-1] if present else 0.0,
                peak=max(present, default=0.0),
            )
        )
    return Chart(
        key=key,
        title=title,
        unit=unit,
        lines=lines,
        top=top,
        limit_y=None if limit is None else y(limit),
        limit=limit,
        start=bins[0].start if bins else 0,
        end=bins[-1].start + bins[-1].minutes * 60 if bins else 0,
    )


def _names(bins: Sequence[Bin], kind: str) -> list[str]:
    return sorted({name for bin_ in bins for name in bin_.kind(kind)})


def build_charts(bins: Sequence[Bin], *, rate_limit: int | None) -> list[Chart]:
    """The console's five charts over one window's bins (`rate_limit`: None when unknown)."""

    def rate(name: str) -> Callable[[Bin], float | None]:
        return lambda bin_: bin_.per_minute(name)

    def lag(q: float) -> Callable[[Bin], float | None]:
        return lambda bin_: bin_.lag(q)

    return [
        _chart(
            "results",
            "Results per minute by outcome",
            "per minute",
            bins,
            {name: rate(f"ev:{name}") for name in _names(bins, "ev")},
        ),
        _chart(
            "latency",
            "Decision to event latency",
            "seconds",
            bins,
            {"p50": lag(0.5), "p99": lag(0.99)},
        ),
        _chart(
            "persona",
            "Persona requests per minute (line: the limit)",
            "per minute",
            bins,
            {"requests": rate("api:all")},
            limit=None if rate_limit is None else float(rate_limit),
        ),
        _chart("throttled", "429 answers per minute", "per minute", bins, {"429": rate("api:429")}),
        _chart(
            "failures",
            "Failures per minute by error type",
            "per minute",
            bins,
            {name: rate(f"err:{name}") for name in _names(bins, "err")},
        ),
    ]

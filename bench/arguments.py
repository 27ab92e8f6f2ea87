"""Command-line argument types the benchmarks share."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["bounded"]


def bounded(low: float, high: float, kind: type[int] | type[float]) -> Any:
    """An argparse type: a number of `kind` between `low` and `high`, else a usage error, so
    a benchmark never starts at a size that cannot finish."""

    def parse(text: str) -> int | float:
        value = kind(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low:g} and {high:g}")
        return value

    return parse

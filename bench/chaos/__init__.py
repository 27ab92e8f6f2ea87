"""Chaos runs: real worker, web, sandbox and Redis processes under kills, restarts and faults.

`python -m bench.chaos` runs the documented plan and prints its figures; the test suite runs
`ChaosPlan.ci()` (tests/chaos/test_chaos.py). See `bench.chaos.run` for what a run does.
"""

from bench.chaos.plan import ChaosPlan
from bench.chaos.run import ChaosReport, run_chaos

__all__ = ["ChaosPlan", "ChaosReport", "run_chaos"]

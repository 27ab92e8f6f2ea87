"""The documents the worker publishes and returns, and the one time stamp they carry.

Every event on the results stream has `published_at`: when the worker published it, read from
the job's injected clock (`JobContext.clock`) like every other time the pipeline acts on, so a
test that moves the clock moves the stamps too. `published_at` is the one place that turns such
a reading into the stamp.
"""

from __future__ import annotations

import time

__all__ = ["published_at"]


def published_at(now: float) -> str:
    """The `published_at` of an event published at `now` (unix seconds): UTC, to the second."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))

"""`persona-sandbox` as a process: its URLs, its admin routes, and its clock.

The sandbox runs in a process of its own wherever its CPU must not be charged to the worker
(the benchmarks) or where the deployed shape is the point (the chaos run, the process tests).
`SandboxProcess` is what the stack hands back once the sandbox answers: the API URL to point a
worker at and a client for `/_sandbox/*` (counters, reset, webhook settings, clock).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import httpx

from bench.processes import ChildProcess

__all__ = ["BANNER", "SandboxClock", "SandboxProcess"]

#: The first line the sandbox prints, followed by its API URL.
BANNER: Final = "persona-sandbox serving "


@dataclass(frozen=True, slots=True)
class SandboxClock:
    """Maps sandbox timestamps to wall-clock time for a sandbox on a scaled clock.

    The sandbox's clock starts at the wall-clock time it was built and runs `time_scale`
    times faster; one reading of its time next to our own wall clock pins the mapping.
    """

    sandbox_at: datetime
    wall_at: float
    time_scale: float

    def wall(self, moment: datetime) -> float:
        """The wall-clock time (unix seconds) at which the sandbox clock showed `moment`."""
        return self.wall_at + (moment - self.sandbox_at).total_seconds() / self.time_scale


@dataclass
class SandboxProcess:
    """`persona-sandbox` as a process, and a client for its admin routes."""

    child: ChildProcess
    root_url: str
    time_scale: float
    admin: httpx.AsyncClient

    @property
    def api_url(self) -> str:
        """The API base URL the worker is pointed at."""
        return self.root_url + "/api/v1"

    async def counters(self) -> dict[str, Any]:
        """`GET /_sandbox/counters`."""
        response = await self.admin.get("/_sandbox/counters")
        response.raise_for_status()
        counters: dict[str, Any] = response.json()
        return counters

    async def reset(self) -> None:
        """Forget every inquiry, event and counter (webhooks back to the start-up settings)."""
        (await self.admin.post("/_sandbox/reset")).raise_for_status()

    async def configure_webhooks(self, settings: Mapping[str, Any] | None) -> None:
        """Deliver webhooks with these settings, or stop delivering them (None)."""
        if settings is None:
            response = await self.admin.delete("/_sandbox/webhooks")
        else:
            response = await self.admin.post("/_sandbox/webhooks", json=dict(settings))
        response.raise_for_status()

    async def clock(self) -> SandboxClock:
        """Pin sandbox time to wall time: the reading with the shortest round trip wins."""
        best: tuple[float, SandboxClock] | None = None
        for _ in range(5):
            before = time.time()
            response = await self.admin.get("/_sandbox/health")
            after = time.time()
            response.raise_for_status()
            moment = datetime.fromisoformat(response.json()["now"].replace("Z", "+00:00"))
            reading = SandboxClock(moment, (before + after) / 2, self.time_scale)
            if best is None or after - before < best[0]:
                best = (after - before, reading)
        assert best is not None
        return best[1]

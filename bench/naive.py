"""The baseline: what Persona's tutorial does, with the same client the worker uses.

For each person: create an inquiry; read its status every 10 seconds until it is terminal;
then read each of its verifications with `GET /verifications/{id}`. No batching, no shared
limiter, no `include`: the calls per decided inquiry it spends are what the pipeline is
compared with. The 10-second period is divided by the sandbox's time scale, so the baseline
polls at the same cadence, in sandbox time, as it would against Persona.

    python -m bench.naive --url http://127.0.0.1:8900/api/v1 --inquiries 100 --time-scale 20
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import ClassVar, Final, TypeVar

import httpx
from pydantic import SecretStr

from bench.harness import API_KEY, TEMPLATE_ID
from jobs.errors import TransientApiError
from jobs.persona.client import PersonaClient
from jobs.persona.models import InquiryDocument
from settings import DEFAULT_TERMINAL_STATUSES

__all__ = ["NaiveResult", "run_naive"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class NaiveResult:
    """What the baseline did."""

    decided: int
    """Inquiries that reached a terminal status and had their verifications read."""
    calls: int
    """API calls this script sent (every one, answered or not)."""
    status_reads: int
    """Of those, status reads: the share that shows whether the 10 s period was kept."""
    wall_s: float


class _CountingClient:
    """The worker's `PersonaClient`, counting what it sends and retrying what a client must.

    A tutorial script that died on the first dropped keep-alive connection would not be a
    fair baseline, so a transient failure (a timeout, a 5xx, a closed connection) is retried
    a few times; every attempt counts as a call.
    """

    TRIES: ClassVar[int] = 3
    """Attempts per request before a transient failure gives up."""

    def __init__(self, client: PersonaClient) -> None:
        self.client = client
        self.calls = 0
        self.status_reads = 0

    async def _call(self, send: Callable[[], Awaitable[T]]) -> T:
        for attempt in range(1, self.TRIES + 1):
            self.calls += 1
            try:
                return await send()
            except TransientApiError:
                if attempt == self.TRIES:
                    raise
                await asyncio.sleep(0.1 * attempt)
        raise AssertionError("unreachable")

    async def create(self, index: int) -> InquiryDocument:
        key = f"naive-{index}-{time.time_ns()}"
        return await self._call(
            lambda: self.client.create_inquiry(
                template_id=TEMPLATE_ID, idempotency_key=key, reference_id=f"naive-person-{index}"
            )
        )

    async def status(self, inquiry_id: str) -> InquiryDocument:
        self.status_reads += 1
        return await self._call(lambda: self.client.retrieve_inquiry(inquiry_id))

    async def verification(self, verification_id: str) -> None:
        await self._call(lambda: self.client.retrieve_verification(verification_id))


async def _follow(
    api: _CountingClient, index: int, period_s: float, gate: asyncio.Semaphore, deadline: float
) -> bool:
    async with gate:
        document = await api.create(index)
    inquiry_id = document.data.id
    # Reads on a fixed 10 s grid from the create, as a timer would fire them: a slow answer
    # on a busy machine must not stretch the period and make the baseline look cheaper.
    next_read = time.monotonic() + period_s
    while next_read < deadline:
        await asyncio.sleep(max(0.0, next_read - time.monotonic()))
        document = await api.status(inquiry_id)
        if document.data.attributes.status in DEFAULT_TERMINAL_STATUSES:
            relationship = document.data.relationships.get("verifications")
            for verification_id in relationship.ids() if relationship is not None else []:
                await api.verification(verification_id)
            return True
        # A read that took longer than the period is followed at once, never by a burst.
        next_read = max(next_read + period_s, time.monotonic())
    return False


#: The tutorial's status period in (sandbox) seconds.
STATUS_PERIOD_S: Final = 10.0
#: Creates sent at once: a producer loop, not a thundering herd.
CREATE_CONCURRENCY: Final = 50


async def run_naive(
    api_url: str, *, inquiries: int, time_scale: float, timeout_s: float = 600.0
) -> NaiveResult:
    """Follow `inquiries` people the tutorial's way against the API at `api_url`.

    Args:
        api_url: the sandbox's API base URL.
        inquiries: how many people to verify, all in flight at once.
        time_scale: the sandbox's time scale (the 10 s period is divided by it).
        timeout_s: real seconds after which unfinished people are given up.
    """
    # Idle connections are dropped before the server's 5 s keep-alive timeout closes them, so
    # a status read 10 s later does not race the server's close.
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100, keepalive_expiry=1.0)
    async with httpx.AsyncClient(base_url=api_url, timeout=30.0, limits=limits) as http:
        api = _CountingClient(PersonaClient(http, api_key=SecretStr(API_KEY)))
        gate = asyncio.Semaphore(CREATE_CONCURRENCY)
        started = time.monotonic()
        deadline = started + timeout_s
        period = STATUS_PERIOD_S / time_scale
        outcomes = await asyncio.gather(
            *(_follow(api, index, period, gate, deadline) for index in range(inquiries))
        )
        return NaiveResult(sum(outcomes), api.calls, api.status_reads, time.monotonic() - started)


def main(argv: list[str] | None = None) -> None:
    """Run the baseline against a running sandbox and print its calls per decided inquiry."""
    cli = argparse.ArgumentParser(prog="python -m bench.naive", description=__doc__.split("\n")[0])
    cli.add_argument(
        "--url", required=True, help="the sandbox API, e.g. http://127.0.0.1:8900/api/v1"
    )
    cli.add_argument("--inquiries", type=int, default=100, help="people to verify (default 100)")
    cli.add_argument("--time-scale", type=float, default=1.0, help="the sandbox's --time-scale")
    args = cli.parse_args(argv)
    if not 0 < args.inquiries <= 20_000:
        cli.error("--inquiries must be between 1 and 20000")
    result = asyncio.run(run_naive(args.url, inquiries=args.inquiries, time_scale=args.time_scale))
    per = result.calls / result.decided if result.decided else float("nan")
    print(f"{result.decided} decided, {result.calls} calls ({per:.2f} per decided inquiry)")


if __name__ == "__main__":
    main()

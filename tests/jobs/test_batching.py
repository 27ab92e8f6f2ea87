"""Coalesced status checks against the sandbox: how many calls answer how many checks.

The sandbox is reached in-process (`httpx.ASGITransport`), so nothing here waits on a socket,
and the tests about windows run on a hand-moved loop clock (`tests.loop_clock`): a check
arrives at an exact instant of that clock, and a window closes when the clock passes its end,
not when a loaded machine gets round to it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from jobs.pipeline.batching import MAX_WINDOWS, Checked, StatusBatcher
from pydantic import SecretStr
from starlette.applications import Starlette

from jobs.errors import ServerError
from jobs.persona.client import PersonaClient
from persona_sandbox import Sandbox, SandboxConfig, create_app, sandbox_of
from persona_sandbox.app import API_PREFIX
from persona_sandbox.faults import FaultSettings
from persona_sandbox.state import NewInquiry
from tests.conftest import TEST_API_KEY
from tests.loop_clock import LoopClock, loop_clock


@pytest.fixture
def app() -> Starlette:
    return create_app(SandboxConfig(api_key=TEST_API_KEY, rate_limit_per_minute=0))


@pytest.fixture
def sandbox(app: Starlette) -> Sandbox:
    return sandbox_of(app)


@pytest.fixture
async def persona(app: Starlette) -> AsyncIterator[PersonaClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url=f"http://sandbox.test{API_PREFIX}"
    ) as http:
        yield PersonaClient(http, api_key=SecretStr(TEST_API_KEY))


@pytest.fixture
async def clock() -> AsyncIterator[LoopClock]:
    """The test loop's clock, moved by hand (the sandbox's own clock is another one)."""
    with loop_clock() as clock:
        yield clock


def _inquiries(sandbox: Sandbox, count: int) -> list[str]:
    state = sandbox.state
    return [
        state.create_inquiry(
            NewInquiry(inquiry_template_id="itmpl_Batch00000000000000000", reference_id=f"p-{i}"),
            state.clock.now(),
        ).id
        for i in range(count)
    ]


def _batcher(
    sandbox: Sandbox, persona: PersonaClient, count: int, **options: Any
) -> tuple[list[str], StatusBatcher]:
    """`count` new inquiries, and a batcher over the client with these options."""
    return _inquiries(sandbox, count), StatusBatcher(persona, **options)


async def _check_all(batcher: StatusBatcher, ids: list[str]) -> list[Checked]:
    """Check every id at once, as polls that fall due together do."""
    return await asyncio.gather(*(batcher.check(inquiry_id) for inquiry_id in ids))


def _calls(sandbox: Sandbox, operation: str) -> int:
    return sum(sandbox.counters.to_json()["operations"].get(operation, {}).values())


async def test_concurrent_checks_share_one_list_call(
    sandbox: Sandbox, persona: PersonaClient
) -> None:
    ids, batcher = _batcher(sandbox, persona, 30, window_s=0.05)

    answers = await _check_all(batcher, ids)

    assert [checked.inquiry.id if checked.inquiry else None for checked in answers] == ids
    assert all(checked.document is None for checked in answers)
    assert (_calls(sandbox, "list-all-inquiries"), batcher.calls, batcher.checks) == (1, 1, 30)


async def test_a_lone_check_reads_the_inquiry_with_its_verifications(
    sandbox: Sandbox, persona: PersonaClient
) -> None:
    [inquiry_id] = _inquiries(sandbox, 1)

    checked = await StatusBatcher(persona).check(inquiry_id)

    assert checked.document is not None
    assert checked.document.data.id == inquiry_id
    assert _calls(sandbox, "retrieve-an-inquiry") == 1
    assert _calls(sandbox, "list-all-inquiries") == 0


async def test_a_full_batch_goes_at_once_and_the_rest_waits_for_the_next(
    sandbox: Sandbox, persona: PersonaClient
) -> None:
    ids, batcher = _batcher(sandbox, persona, 7, max_ids=3, window_s=0.05)

    await _check_all(batcher, ids)

    assert _calls(sandbox, "list-all-inquiries") == 2
    assert _calls(sandbox, "retrieve-an-inquiry") == 1


async def _trickle(
    batcher: StatusBatcher, clock: LoopClock, ids: list[str], gap_s: float
) -> list[asyncio.Task[Checked]]:
    """Checks that arrive one after another, `gap_s` apart (as arq starts the due jobs of one
    grid line); the first arrives now, the last when this returns."""
    checks: list[asyncio.Task[Checked]] = []
    for index, inquiry_id in enumerate(ids):
        if index:
            await clock.advance(gap_s)
        checks.append(asyncio.create_task(batcher.check(inquiry_id)))
        await asyncio.sleep(0)  # the check starts at this instant: it joins or opens a window
    return checks


async def test_a_window_stays_open_while_checks_keep_arriving(
    sandbox: Sandbox, persona: PersonaClient, clock: LoopClock
) -> None:
    ids, batcher = _batcher(sandbox, persona, 6, window_s=0.2)

    # 0.25 s from the first check to the last: past one window, each one well within one.
    checks = await _trickle(batcher, clock, ids, gap_s=0.05)
    await clock.advance(0.19)
    assert batcher.calls == 0, "still open: the last check came less than a window ago"
    await clock.advance(0.02)
    await asyncio.gather(*checks)

    assert (batcher.calls, batcher.checks, _calls(sandbox, "list-all-inquiries")) == (1, 6, 1)


async def test_a_window_closes_after_a_quiet_window(
    sandbox: Sandbox, persona: PersonaClient, clock: LoopClock
) -> None:
    ids, batcher = _batcher(sandbox, persona, 2, window_s=0.05)

    checks = await _trickle(batcher, clock, ids[:1], gap_s=0.3)
    await clock.advance(0.06)
    assert batcher.calls == 1, "a window with no second check closed after one window"
    checks += await _trickle(batcher, clock, ids[1:], gap_s=0.3)
    await clock.advance(0.06)
    await asyncio.gather(*checks)

    assert _calls(sandbox, "retrieve-an-inquiry") == 2
    assert _calls(sandbox, "list-all-inquiries") == 0


async def test_a_steady_trickle_is_cut_after_max_windows(
    sandbox: Sandbox, persona: PersonaClient, clock: LoopClock
) -> None:
    window_s, gap_s = 0.1, 0.03
    ids, batcher = _batcher(sandbox, persona, 40, window_s=window_s)
    # Never a quiet window, but the batch's cap (1 s) falls between the 34th and 35th check.
    assert 33 * gap_s < MAX_WINDOWS * window_s < 34 * gap_s

    checks = await _trickle(batcher, clock, ids[:34], gap_s=gap_s)
    assert batcher.calls == 0
    await clock.advance(gap_s)
    assert batcher.calls == 1, "the batch was sent at its cap while checks kept coming"
    checks += await _trickle(batcher, clock, ids[34:], gap_s=gap_s)
    await clock.advance(2 * window_s)
    await asyncio.gather(*checks)

    assert (batcher.calls, batcher.checks, _calls(sandbox, "list-all-inquiries")) == (2, 40, 2)


async def test_an_id_the_list_does_not_know_comes_back_empty(
    sandbox: Sandbox, persona: PersonaClient
) -> None:
    [known] = _inquiries(sandbox, 1)
    batcher = StatusBatcher(persona)

    found, missing = await asyncio.gather(
        batcher.check(known), batcher.check("inq_NotHere000000000000000")
    )

    assert found.inquiry is not None
    assert missing.inquiry is None


async def test_the_same_id_twice_in_a_window_is_asked_once(
    sandbox: Sandbox, persona: PersonaClient
) -> None:
    first, second = _inquiries(sandbox, 2)
    batcher = StatusBatcher(persona)

    await asyncio.gather(batcher.check(first), batcher.check(first), batcher.check(second))

    assert batcher.calls == 1
    assert batcher.checks == 3


async def test_a_failed_list_call_fails_every_check_of_the_batch(
    sandbox: Sandbox, persona: PersonaClient
) -> None:
    ids, batcher = _batcher(sandbox, persona, 3)
    sandbox.faults.configure(
        FaultSettings(error_rate=1.0, operations=frozenset({"list-all-inquiries"}))
    )

    answers = await asyncio.gather(
        *(batcher.check(inquiry_id) for inquiry_id in ids), return_exceptions=True
    )

    assert all(isinstance(answer, ServerError) for answer in answers)
    assert batcher.calls == 1, "one failed list call answered the whole batch"


async def test_closing_answers_the_open_window(sandbox: Sandbox, persona: PersonaClient) -> None:
    [inquiry_id] = _inquiries(sandbox, 1)
    batcher = StatusBatcher(persona, window_s=60)
    waiting = asyncio.create_task(batcher.check(inquiry_id))
    await asyncio.sleep(0)  # let the check join the window

    await batcher.aclose()

    assert (await waiting).inquiry is not None


@pytest.mark.parametrize("max_ids", [0, 101])
def test_batches_stay_within_persona_s_limit(persona: PersonaClient, max_ids: int) -> None:
    with pytest.raises(ValueError, match="between 1 and 100"):
        StatusBatcher(persona, max_ids=max_ids)

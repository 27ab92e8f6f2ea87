"""Coalesced status checks against the sandbox: how many calls answer how many checks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from jobs.errors import ServerError
from jobs.persona.client import PersonaClient
from jobs.pipeline.batching import MAX_WINDOWS, Checked, StatusBatcher
from persona_sandbox import SandboxConfig, run_sandbox
from persona_sandbox.faults import FaultSettings
from persona_sandbox.server import SandboxHandle
from persona_sandbox.state import NewInquiry
from tests.conftest import TEST_API_KEY


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxHandle]:
    async with run_sandbox(SandboxConfig(api_key=TEST_API_KEY, rate_limit_per_minute=0)) as handle:
        yield handle


@pytest.fixture
async def persona(sandbox: SandboxHandle) -> AsyncIterator[PersonaClient]:
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=5) as http:
        yield PersonaClient(http, api_key=SecretStr(TEST_API_KEY))


def _inquiries(sandbox: SandboxHandle, count: int) -> list[str]:
    state = sandbox.state
    return [
        state.create_inquiry(
            NewInquiry(inquiry_template_id="itmpl_Batch00000000000000000", reference_id=f"p-{i}"),
            state.clock.now(),
        ).id
        for i in range(count)
    ]


def _batcher(
    sandbox: SandboxHandle, persona: PersonaClient, count: int, **options: Any
) -> tuple[list[str], StatusBatcher]:
    """`count` new inquiries, and a batcher over the client with these options."""
    return _inquiries(sandbox, count), StatusBatcher(persona, **options)


async def _check_all(batcher: StatusBatcher, ids: list[str]) -> list[Checked]:
    """Check every id at once, as polls that fall due together do."""
    return await asyncio.gather(*(batcher.check(inquiry_id) for inquiry_id in ids))


def _calls(sandbox: SandboxHandle, operation: str) -> int:
    return sum(sandbox.counters_json()["operations"].get(operation, {}).values())


async def test_concurrent_checks_share_one_list_call(
    sandbox: SandboxHandle, persona: PersonaClient
) -> None:
    ids, batcher = _batcher(sandbox, persona, 30, window_s=0.05)

    answers = await _check_all(batcher, ids)

    assert [checked.inquiry.id if checked.inquiry else None for checked in answers] == ids
    assert all(checked.document is None for checked in answers)
    assert (_calls(sandbox, "list-all-inquiries"), batcher.calls, batcher.checks) == (1, 1, 30)


async def test_a_lone_check_reads_the_inquiry_with_its_verifications(
    sandbox: SandboxHandle, persona: PersonaClient
) -> None:
    [inquiry_id] = _inquiries(sandbox, 1)

    checked = await StatusBatcher(persona).check(inquiry_id)

    assert checked.document is not None
    assert checked.document.data.id == inquiry_id
    assert _calls(sandbox, "retrieve-an-inquiry") == 1
    assert _calls(sandbox, "list-all-inquiries") == 0


async def test_a_full_batch_goes_at_once_and_the_rest_waits_for_the_next(
    sandbox: SandboxHandle, persona: PersonaClient
) -> None:
    ids, batcher = _batcher(sandbox, persona, 7, max_ids=3, window_s=0.05)

    await _check_all(batcher, ids)

    assert _calls(sandbox, "list-all-inquiries") == 2
    assert _calls(sandbox, "retrieve-an-inquiry") == 1


async def _trickle(batcher: StatusBatcher, ids: list[str], gap_s: float) -> None:
    """Checks that arrive one after another, `gap_s` apart (as arq starts due jobs)."""

    async def later(index: int, inquiry_id: str) -> None:
        await asyncio.sleep(index * gap_s)
        await batcher.check(inquiry_id)

    await asyncio.gather(*(later(index, inquiry_id) for index, inquiry_id in enumerate(ids)))


async def test_a_window_stays_open_while_checks_keep_arriving(
    sandbox: SandboxHandle, persona: PersonaClient
) -> None:
    ids, batcher = _batcher(sandbox, persona, 6, window_s=0.2)

    # 0.25 s from the first check to the last: past one window, each one well within one.
    await _trickle(batcher, ids, gap_s=0.05)

    assert (batcher.calls, _calls(sandbox, "list-all-inquiries")) == (1, 1)


async def test_a_window_closes_after_a_quiet_window(
    sandbox: SandboxHandle, persona: PersonaClient
) -> None:
    ids, batcher = _batcher(sandbox, persona, 2, window_s=0.05)

    await _trickle(batcher, ids, gap_s=0.3)

    assert _calls(sandbox, "retrieve-an-inquiry") == 2
    assert _calls(sandbox, "list-all-inquiries") == 0


async def test_a_steady_trickle_is_cut_after_max_windows(
    sandbox: SandboxHandle, persona: PersonaClient
) -> None:
    ids, batcher = _batcher(sandbox, persona, 30, window_s=0.1)

    # One check every 0.04 s for 1.16 s: never a quiet window, but longer than the cap.
    await _trickle(batcher, ids, gap_s=0.04)

    assert MAX_WINDOWS * 0.1 < 29 * 0.04
    assert batcher.calls == 2


async def test_an_id_the_list_does_not_know_comes_back_empty(
    sandbox: SandboxHandle, persona: PersonaClient
) -> None:
    [known] = _inquiries(sandbox, 1)
    batcher = StatusBatcher(persona)

    found, missing = await asyncio.gather(
        batcher.check(known), batcher.check("inq_NotHere000000000000000")
    )

    assert found.inquiry is not None
    assert missing.inquiry is None


async def test_the_same_id_twice_in_a_window_is_asked_once(
    sandbox: SandboxHandle, persona: PersonaClient
) -> None:
    first, second = _inquiries(sandbox, 2)
    batcher = StatusBatcher(persona)

    await asyncio.gather(batcher.check(first), batcher.check(first), batcher.check(second))

    assert batcher.calls == 1
    assert batcher.checks == 3


async def test_a_failed_list_call_fails_every_check_of_the_batch(
    sandbox: SandboxHandle, persona: PersonaClient
) -> None:
    ids, batcher = _batcher(sandbox, persona, 3)
    sandbox.sandbox.faults.configure(
        FaultSettings(error_rate=1.0, operations=frozenset({"list-all-inquiries"}))
    )

    answers = await asyncio.gather(
        *(batcher.check(inquiry_id) for inquiry_id in ids), return_exceptions=True
    )

    assert all(isinstance(answer, ServerError) for answer in answers)
    assert batcher.calls == 1, "one failed list call answered the whole batch"


async def test_closing_answers_the_open_window(
    sandbox: SandboxHandle, persona: PersonaClient
) -> None:
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

"""Waiting for rate-limit windows never uses up an action's budget.

Regression: every 429 (and every deferral by the shared limiter) re-ran the job through arq's
`Retry`, which counts a try, so eight 429 windows ended an action with `job.failed` although
Persona never failed it, and arq's `max_tries` would have dropped it without an event. Here
the sandbox refuses the decision for more windows than the failure budget allows, and then
lets it through. The windows pass at once (`tests.waits`), so the test takes no minutes.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.actions.conftest import Actions
from tests.waits import waits_pass_at_once

pytestmark = pytest.mark.redis

#: More refused windows than an action's failure budget (8, `ACTION_MAX_FAILURES`) and arq's
#: `max_tries` for actions before this fix (10).
WINDOWS = 12


async def test_an_action_outlasts_more_429_windows_than_its_failure_budget(
    actions: Actions,
) -> None:
    inquiry = await actions.new_inquiry()
    await actions.simulate(inquiry.id, "complete_inquiry")
    limiter = actions.sandbox.sandbox.limiter
    limiter.limit = 1
    limiter.hit()  # this window's one request is spent: everything else gets 429

    def refused() -> int:
        return int(actions.counters()["operations"].get("approve-an-inquiry", {}).get("429", 0))

    job_id = await actions.enqueue("decide_inquiry", inquiry_id=inquiry.id, decision="approve")
    async with waits_pass_at_once(actions.redis, actions.settings.queue_name):
        worker = asyncio.create_task(actions.run())
        # Until the refusals are many, or the job gave up (the worker then ran out of jobs).
        await actions.wait_until(
            lambda: refused() >= WINDOWS or worker.done(), what=f"{WINDOWS} refusals"
        )
        recovered = refused() >= WINDOWS
        limiter.limit = 0  # Persona lets requests through again
        await worker

    assert recovered, f"the job ended after {refused()} refused windows"
    [event] = await actions.events_for(job_id)
    assert event.event == "inquiry.decision-recorded"
    assert await actions.status(inquiry.id) == "approved"
    result = await actions.job_result(job_id)
    assert result["s"] is True
    assert result["t"] > WINDOWS, "every window re-ran the job through arq"
    assert actions.calls("approve-an-inquiry") == refused() + 1

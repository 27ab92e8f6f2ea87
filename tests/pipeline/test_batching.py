"""Many inquiries in flight: their status checks share list calls, results stay one each."""

from __future__ import annotations

import pytest

from jobs.context import JobContext
from tests.pipeline.conftest import Pipeline


# arq starts the due checks one after another, a few Redis round trips each; on a loaded
# machine the gaps between them stretch to tens of milliseconds. A window ten times the status
# grid keeps the checks of neighbouring grid lines together however the process is scheduled;
# the exact window arithmetic is tested on a hand-moved clock in tests/jobs/test_batching.py.
@pytest.mark.settings(poll_batch_window_s=0.5)
async def test_status_checks_of_many_inquiries_share_list_calls(pipeline: Pipeline) -> None:
    for index in range(40):
        await pipeline.create(f"person-{index}", note="sandbox-outcome=completed sandbox-after=120")

    worker = await pipeline.run()

    batcher = JobContext.from_ctx(worker.ctx).batcher
    events = await pipeline.events()
    assert sorted(event.data["reference_id"] for event in events) == sorted(
        f"person-{index}" for index in range(40)
    )
    assert pipeline.calls("list-all-inquiries") >= 1
    assert batcher.calls < batcher.checks / 2, (batcher.calls, batcher.checks)

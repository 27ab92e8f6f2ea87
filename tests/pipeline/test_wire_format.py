"""A producer in any language: write arq's two keys as documented, get one result event."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import pytest

from tests.pipeline.conftest import Pipeline

# Jobs written here name no scenario, so the sandbox draws one. A drawn `needs_review` passes
# through `completed` for a few real milliseconds and then waits for a reviewer who never
# comes: the request ends only if a status check happens to fall into those milliseconds, and a
# loaded machine mostly misses them. Every drawn person here completes, whatever the timing.
pytestmark = pytest.mark.sandbox(outcome_mix={"completed": 1.0})


async def test_a_create_job_written_by_hand_gets_exactly_one_result(pipeline: Pipeline) -> None:
    # What the README's "Job wire format" section tells other languages to do.
    await pipeline.enqueue(
        "create_inquiry",
        job_id="svc-42",
        reference_id="user-42",
        note="sandbox-outcome=failed sandbox-after=30",
    )

    await pipeline.run()

    [result] = await pipeline.events()
    assert result.event == "inquiry.failed"
    assert result.data["request_id"] == "svc-42"
    assert result.data["reference_id"] == "user-42"
    assert [item["type"] for item in result.data["verifications"]] == [
        "verification/government-id",
        "verification/selfie",
    ]


async def test_a_job_that_is_not_json_is_answered_with_job_failed_and_the_worker_goes_on(
    pipeline: Pipeline,
) -> None:
    now_ms = int(time.time() * 1000)
    await pipeline.redis.set("arq:job:garbage", "\x80not json")
    await pipeline.redis.zadd(pipeline.settings.queue_name, {"garbage": now_ms})
    await pipeline.enqueue("create_inquiry", job_id="svc-1", reference_id="user-1")

    await pipeline.run()

    [garbage] = await pipeline.events_for("garbage")
    assert garbage.event == "job.failed"
    assert garbage.data["error"]["type"] == "JobArgumentsError"
    assert "not JSON" in garbage.data["error"]["message"]
    [result] = await pipeline.events_for("svc-1")
    assert result.event != "job.failed"
    assert await pipeline.redis.zscore(pipeline.settings.queue_name, "garbage") is None


def _readme_shell_example() -> str:
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = text.split("With `redis-cli`:")[1].split("```")[1]
    return block.removeprefix("\n")


@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-cli is not installed")
async def test_the_readme_redis_cli_example_works_as_written(pipeline: Pipeline) -> None:
    port = pipeline.settings.redis_url.port
    script = _readme_shell_example().replace("redis-cli ", f"redis-cli -p {port} ")
    shell = await asyncio.create_subprocess_exec(
        "bash", "-euc", script, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await asyncio.wait_for(shell.communicate(), 60)  # only catches a hang
    assert shell.returncode == 0, stderr.decode()

    await pipeline.run()

    [result] = await pipeline.events()
    assert (result.data["request_id"], result.data["reference_id"]) == ("signup-4711", "user-4711")

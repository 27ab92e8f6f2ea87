"""Idempotency-Keys derive from job ids by one stable rule, and any job id gives a usable key."""

from __future__ import annotations

import hashlib

import pytest

from jobs.idempotency import MAX_PLAIN_JOB_ID, idempotency_key, job_key_part
from jobs.persona.request_builders import check_idempotency_key


@pytest.mark.parametrize(
    ("job", "job_id", "steps", "expected"),
    [
        ("create", "req-1", ("0",), "create:req-1:0"),
        ("create", "req-1", ("link",), "create:req-1:link"),
        ("decide_inquiry", "order 42/7", (), "decide_inquiry:order 42/7"),
        ("refresh_link", "r-7", ("resume",), "refresh_link:r-7:resume"),
        ("create", "x" * MAX_PLAIN_JOB_ID, ("0",), f"create:{'x' * MAX_PLAIN_JOB_ID}:0"),
    ],
)
def test_printable_ascii_ids_keep_the_keys_earlier_versions_sent(
    job: str, job_id: str, steps: tuple[str, ...], expected: str
) -> None:
    assert idempotency_key(job, job_id, *steps) == expected


@pytest.mark.parametrize(
    "job_id",
    [
        "créer-ünïcødé",
        "申请-1",
        "emoji-🙂",
        "line\nbreak",
        "tab\there",
        "x" * (MAX_PLAIN_JOB_ID + 1),
        "",
        # Looks like a hashed id: hashed itself, so it can never equal another id's key.
        "sha256:" + "0" * 64,
    ],
)
def test_any_other_id_is_hashed_into_a_sendable_stable_key(job_id: str) -> None:
    digest = hashlib.sha256(job_id.encode()).hexdigest()

    key = idempotency_key("create", job_id, "0")

    assert key == f"create:sha256:{digest}:0"
    assert check_idempotency_key(key) == key
    assert idempotency_key("create", job_id, "0") == key, "the same id, the same key"


def test_distinct_ids_get_distinct_parts() -> None:
    ids = ["créer-1", "créer-2", "x" * 300, "x" * 301, "sha256:a", "sha256:b"]
    assert len({job_key_part(job_id) for job_id in ids}) == len(ids)

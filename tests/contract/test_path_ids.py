"""Ids with reserved characters stay one path segment of the operation the client called."""

from __future__ import annotations

import pytest

from jobs.errors import NotFoundError
from tests.contract.harness import Rig


@pytest.mark.parametrize("inquiry_id", ["inq 1", "inq?x=1", "inq#x", "inq%41", "inq/with/slash"])
async def test_id_with_reserved_characters_gets_a_declared_404(rig: Rig, inquiry_id: str) -> None:
    with pytest.raises(NotFoundError):
        await rig.client.retrieve_inquiry(inquiry_id)
    assert rig.contract.operations() == ["retrieve-an-inquiry"]


@pytest.mark.parametrize("inquiry_id", [".", ".."])
async def test_dot_segment_id_never_reaches_another_operation(rig: Rig, inquiry_id: str) -> None:
    with pytest.raises((ValueError, NotFoundError)):
        await rig.client.retrieve_inquiry(inquiry_id)
    assert set(rig.contract.operations()) <= {"retrieve-an-inquiry"}

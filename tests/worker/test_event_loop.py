"""The worker's event loop: uvloop when it can, the standard loop when asked or missing."""

from __future__ import annotations

import asyncio
import sys

import pytest

from jobs.errors import ConfigError
from worker.event_loop import loop_factory, loop_name, run


async def _running_loop_name() -> str:
    return loop_name(asyncio.get_running_loop())


@pytest.fixture
def without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    """`import uvloop` raises ImportError (what a None entry in sys.modules does)."""
    monkeypatch.setitem(sys.modules, "uvloop", None)


def test_auto_runs_on_uvloop_when_it_is_installed() -> None:
    assert run(_running_loop_name(), "auto") == "uvloop"


def test_asyncio_keeps_the_standard_loop_even_with_uvloop_installed() -> None:
    assert loop_factory("asyncio") is None
    assert run(_running_loop_name(), "asyncio") == "asyncio"


@pytest.mark.usefixtures("without_uvloop")
def test_auto_falls_back_to_the_standard_loop_without_uvloop() -> None:
    assert loop_factory("auto") is None
    assert run(_running_loop_name(), "auto") == "asyncio"


@pytest.mark.usefixtures("without_uvloop")
def test_insisting_on_a_missing_uvloop_is_a_config_error_naming_the_setting() -> None:
    with pytest.raises(ConfigError, match="WORKER_EVENT_LOOP: uvloop is not installed"):
        loop_factory("uvloop")

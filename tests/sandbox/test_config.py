from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import pytest

from persona_sandbox import FaultSettings, ManualClock, SandboxConfig, ScaledClock, WebhookSettings
from persona_sandbox.__main__ import build_config, parser
from persona_sandbox.config import parse_delay_range, parse_outcome_mix


def test_scaled_clock_runs_faster_than_real_time(monkeypatch: pytest.MonkeyPatch) -> None:
    readings = iter([100.0, 100.5])
    monkeypatch.setattr(time, "monotonic", lambda: next(readings))
    clock = ScaledClock(60, start=datetime(2025, 1, 1, tzinfo=UTC))

    later = clock.now()

    assert later == datetime(2025, 1, 1, 0, 0, 30, tzinfo=UTC)


def test_scaled_clock_fast_forwards() -> None:
    clock = ScaledClock(1, start=datetime(2025, 1, 1, tzinfo=UTC))

    clock.advance(3_600)

    assert clock.now() >= datetime(2025, 1, 1, 1, tzinfo=UTC)


def test_manual_clock_moves_sandbox_and_real_time_together() -> None:
    clock = ManualClock()
    now, real = clock.now(), clock.real()

    clock.advance(30)

    assert (clock.now() - now).total_seconds() == 30
    assert clock.real() - real == 30


def test_clocks_refuse_to_go_backwards() -> None:
    with pytest.raises(ValueError, match="backwards"):
        ManualClock().advance(-1)


def test_outcome_mix_is_parsed() -> None:
    assert parse_outcome_mix("approved=0.7, declined=0.3") == {"approved": 0.7, "declined": 0.3}


@pytest.mark.parametrize("text", ["approved", "teleported=1", "approved=lots", "approved=0"])
def test_bad_outcome_mix_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"outcome|weight|expected"):
        parse_outcome_mix(text)


def test_delay_range_is_parsed() -> None:
    assert parse_delay_range("5,120") == (5.0, 120.0)
    assert parse_delay_range("30") == (30.0, 30.0)


@pytest.mark.parametrize(
    "overrides",
    [
        {"rate_limit_per_minute": -1},
        {"rate_limit_window_s": 0},
        {"rate_limit_window_s": 61},
        {"time_scale": 0},
        {"delay_range_s": (10.0, 5.0)},
        {"expiry_s": 0},
        {"outcome_mix": {"sideways": 1.0}},
        {"api_key": ""},
    ],
)
def test_invalid_config_is_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"must|unknown|weights"):
        SandboxConfig(**overrides)  # type: ignore[arg-type]


def test_config_mix_cannot_be_changed_afterwards() -> None:
    config = SandboxConfig(outcome_mix={"approved": 1.0})

    with pytest.raises(TypeError):
        config.outcome_mix["failed"] = 1.0  # type: ignore[index]


@pytest.mark.parametrize(
    "overrides", [{"error_rate": 1.5}, {"latency_ms": -1}, {"error_statuses": (404,)}]
)
def test_invalid_fault_settings_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must"):
        FaultSettings(**overrides)  # type: ignore[arg-type]


def test_config_repr_hides_the_api_key() -> None:
    config = SandboxConfig(api_key="persona_sandbox_secret0value")

    assert "secret0value" not in repr(config)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"faults": {"error_rate": 2}}, "faults.error_rate must be at most 1"),
        (
            {"faults": {"error_statuses": (500, 404)}},
            "faults.error_statuses[1] must be at least 500",
        ),
        ({"time_scale": "fast"}, "time_scale must be a number"),
        ({"colour": "blue", "expiry_s": -1}, "unknown sandbox settings: colour; expiry_s must be"),
    ],
)
def test_errors_name_the_field_in_a_sentence(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=r"^" + re.escape(message)):
        SandboxConfig(**overrides)  # type: ignore[arg-type]


def test_errors_never_repeat_a_value() -> None:
    with pytest.raises(ValueError, match=r"secrets\[0\] must look like wbhsec_") as refused:
        WebhookSettings(url="http://127.0.0.1:8000/hooks", secrets=("whsec_leaked0value",))

    assert "leaked0value" not in str(refused.value)


def test_cli_defaults_are_the_config_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PERSONA_SANDBOX_API_KEY", raising=False)
    monkeypatch.delenv("PERSONA_SANDBOX_WEBHOOK_SECRETS", raising=False)

    assert build_config(parser().parse_args([])) == SandboxConfig()
    assert f"(default {SandboxConfig().rate_limit_per_minute})" in parser().format_help()

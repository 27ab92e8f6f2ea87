from __future__ import annotations

from typing import Any

import pytest

from jobs.errors import ConfigError
from jobs.persona.templates import TEMPLATE_PREFIXES, is_template_id
from settings import load_settings
from tests.conftest import TEST_API_KEY


def _load(**overrides: Any) -> Any:
    values: dict[str, Any] = {"persona_api_key": TEST_API_KEY, "_env_file": None}
    values.update(overrides)
    return load_settings(**values)


def test_defaults_pin_the_api_version_and_the_real_host() -> None:
    settings = _load()
    assert settings.persona_version == "2025-12-08"
    assert settings.api_base_url == "https://api.withpersona.com/api/v1"
    assert settings.terminal_statuses == {"completed", "failed", "expired", "approved", "declined"}


def test_reads_variables_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSONA_API_KEY", TEST_API_KEY)
    monkeypatch.setenv("PERSONA_WEBHOOK_SECRETS", "wbhsec_new, wbhsec_old")
    monkeypatch.setenv("PUBLISH_FIELDS", "name-first,birthdate")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6390/2")
    settings = load_settings(_env_file=None)
    secrets = [secret.get_secret_value() for secret in settings.persona_webhook_secrets]
    assert secrets == ["wbhsec_new", "wbhsec_old"]
    assert settings.publish_fields == ("name-first", "birthdate")
    assert str(settings.redis_url) == "redis://127.0.0.1:6390/2"


def test_missing_api_key_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="PERSONA_API_KEY: Field required"):
        load_settings(_env_file=None)


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"persona_api_key": "sk_live_abcdef"}, "PERSONA_API_KEY"),
        ({"persona_template_id": "tpl_123"}, "PERSONA_TEMPLATE_ID"),
        ({"persona_api_url": "not a url"}, "PERSONA_API_URL"),
        ({"persona_api_url": "ftp://example.test"}, "PERSONA_API_URL"),
        ({"redis_url": "http://localhost:6379"}, "REDIS_URL"),
        ({"persona_version": "2024-01-01"}, "PERSONA_VERSION"),
        ({"poll_min_interval_s": 0}, "POLL_MIN_INTERVAL_S"),
        ({"poll_max_interval_s": -5}, "POLL_MAX_INTERVAL_S"),
        ({"http_timeout_s": 0}, "HTTP_TIMEOUT_S"),
        ({"rate_limit_per_minute": 0}, "RATE_LIMIT_PER_MINUTE"),
        ({"rate_limit_per_minute": "fast"}, "RATE_LIMIT_PER_MINUTE"),
        ({"rate_limit_per_minute": "-5"}, "RATE_LIMIT_PER_MINUTE"),
        ({"poll_batch_size": 101}, "POLL_BATCH_SIZE"),
        ({"poll_terminal_statuses": "completed,finished"}, "POLL_TERMINAL_STATUSES"),
        ({"results_stream": "bad stream name"}, "RESULTS_STREAM"),
        ({"log_format": "xml"}, "LOG_FORMAT"),
        ({"worker_event_loop": "trio"}, "WORKER_EVENT_LOOP"),
    ],
)
def test_bad_value_fails_naming_the_variable(overrides: dict[str, Any], variable: str) -> None:
    with pytest.raises(ConfigError, match=f"{variable}: "):
        _load(**overrides)


@pytest.mark.parametrize(("raw", "read"), [("auto", "auto"), (" AUTO ", "auto"), ("120", 120)])
def test_rate_limit_is_a_number_or_auto(
    monkeypatch: pytest.MonkeyPatch, raw: str, read: object
) -> None:
    monkeypatch.setenv("RATE_LIMIT_PER_MINUTE", raw)
    assert _load().rate_limit_per_minute == read


def test_min_interval_above_max_is_refused() -> None:
    with pytest.raises(ConfigError, match="POLL_MIN_INTERVAL_S must not exceed"):
        _load(poll_min_interval_s=100, poll_max_interval_s=10)


def test_secret_values_never_appear_in_errors_or_repr() -> None:
    secret = "persona_production_s3cr3tvalue"
    with pytest.raises(ConfigError) as caught:
        _load(persona_api_key=secret, persona_template_id="bogus_1")
    assert secret not in str(caught.value)
    settings = _load(persona_api_key=secret, persona_webhook_secrets="wbhsec_hidden")
    assert secret not in repr(settings)
    assert "wbhsec_hidden" not in repr(settings)


def test_wrong_key_prefix_error_does_not_echo_the_key() -> None:
    with pytest.raises(ConfigError) as caught:
        _load(persona_api_key="sk_live_verysecret")
    assert "verysecret" not in str(caught.value)


def test_simulate_actions_refused_for_production_keys() -> None:
    assert _load().simulate_allowed
    production = _load(persona_api_key="persona_production_abc", persona_allow_simulate=True)
    assert production.is_production_key
    assert not production.simulate_allowed


def test_wait_for_decision_ends_polling_only_on_decisions() -> None:
    settings = _load(poll_wait_for_decision=True)
    assert settings.terminal_statuses == {"approved", "declined"}


@pytest.mark.parametrize(
    "template_id",
    [
        *(f"{prefix}Template01" for prefix in TEMPLATE_PREFIXES),
        *TEMPLATE_PREFIXES,
        "tpl_123",
        "ITMPL_abc",
        "vtmpl_abc",
        "itmplabc",
    ],
)
def test_template_ids_are_judged_as_the_jobs_judge_them(template_id: str) -> None:
    # The settings cannot import the jobs' rule, so this keeps their copy of it in step.
    try:
        _load(persona_template_id=template_id)
    except ConfigError:
        accepted = False
    else:
        accepted = True
    assert accepted is is_template_id(template_id)

"""`persona-sandbox`: run the local Persona emulator as its own process.

    persona-sandbox --host 127.0.0.1 --port 8900 --rate-limit 300 --time-scale 60 \\
        --outcome-mix approved=0.7,declined=0.3 --delay-range 5,120 --error-rate 0.05 \\
        --webhook-url http://127.0.0.1:8000/webhooks/persona --webhook-retry-compression 3600

The first line on stdout names the URL it serves (useful with `--port 0`). The API key can also
come from `PERSONA_SANDBOX_API_KEY`, and the webhook secrets from
`PERSONA_SANDBOX_WEBHOOK_SECRETS` (comma-separated, newest first), which keeps them out of
process listings. Each option sets one field of the settings models (`SandboxConfig`,
`FaultSettings`, `WebhookSettings`); an option left out leaves the model's default, which is
also what `--help` shows, so the defaults live in one place.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import uvicorn

from persona_sandbox.app import API_PREFIX, create_app
from persona_sandbox.config import SandboxConfig, parse_delay_range, parse_outcome_mix
from persona_sandbox.faults import FaultSettings
from persona_sandbox.server import bind_socket, uvicorn_config
from persona_sandbox.settings_model import SettingsModel
from persona_sandbox.webhook_settings import WebhookSettings

__all__ = ["build_config", "main", "parser"]

_KEY_ENV = "PERSONA_SANDBOX_API_KEY"
_SECRETS_ENV = "PERSONA_SANDBOX_WEBHOOK_SECRETS"


def _csv(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _csv_ints(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in _csv(text))


@dataclass(frozen=True, slots=True)
class _Flag:
    """One option that sets one settings field; its default is the field's, shown in --help."""

    flag: str
    field: str
    help: str
    type: Callable[[str], Any] | None = float
    """How the argument is read (None for a switch)."""
    action: str = "store"
    """`store`, `store_true` (a switch that turns the field on) or `append` (repeatable)."""


def _switch(flag: str, field: str, help: str) -> _Flag:
    """An option without argument that turns a boolean field on."""
    return _Flag(flag, field, help, None, "store_true")


_KEY_HELP: Final = f"the only accepted key (or ${_KEY_ENV}); none accepts persona_sandbox_..."
_SECRET_HELP: Final = f"a wbhsec_... secret, newest first; repeatable (or ${_SECRETS_ENV})"
_RETRY_HELP: Final = "divide Persona's retry intervals (up to ~51 h) by this"

#: The options of each settings model, by the group they are listed under.
_FLAGS: Final[Mapping[str, tuple[type[SettingsModel], tuple[_Flag, ...]]]] = {
    "sandbox": (
        SandboxConfig,
        (
            _Flag("--api-key", "api_key", _KEY_HELP, str),
            _Flag("--rate-limit", "rate_limit_per_minute", "requests per minute; 0 is off", int),
            _Flag("--rate-limit-window", "rate_limit_window_s", "real seconds per window"),
            _Flag("--time-scale", "time_scale", "sandbox seconds per real second"),
            _Flag("--outcome-mix", "outcome_mix", "outcome=weight,...", parse_outcome_mix),
            _Flag("--delay-range", "delay_range_s", "seconds the person takes", parse_delay_range),
            _Flag("--decision-after", "decision_after_s", "seconds from completion to decision"),
            _Flag("--review-after", "review_after_s", "seconds in needs_review before decision"),
            _Flag(
                "--report-after", "report_after_s", "seconds from a report's creation to its end"
            ),
            _Flag("--expiry", "expiry_s", "inquiry lifetime in seconds"),
            _Flag("--advance-interval", "advance_interval_s", "real seconds between advances"),
        ),
    ),
    "faults": (
        FaultSettings,
        (
            _Flag("--error-rate", "error_rate", "share answered 5xx before anything"),
            _Flag("--error-statuses", "error_statuses", "the 5xx statuses drawn", _csv_ints),
            _Flag("--error-after-rate", "error_after_rate", "share carried out, then a 500"),
            _Flag("--latency-ms", "latency_ms", "latency added to each request"),
            _Flag("--hang-rate", "hang_rate", "share carried out, then held for --hang-s"),
            _Flag("--hang-s", "hang_s", "how long a held answer waits"),
            _Flag("--fault-operations", "operations", "operationIds hit; none: all", _csv),
            _switch("--cache-errors", "cache_errors", "store injected 5xx under their keys"),
            _Flag("--seed", "seed", "seed of the fault draws", int),
        ),
    ),
    "webhooks": (
        WebhookSettings,
        (
            _Flag("--webhook-url", "url", "where to POST events; none: no delivery", str),
            _Flag("--webhook-secret", "secrets", _SECRET_HELP, str, "append"),
            _switch("--webhook-rotation", "rotation", "sign with every secret (a rotation)"),
            _Flag("--webhook-events", "events", "event names or patterns to deliver", _csv),
            _Flag("--webhook-duplicate-rate", "duplicate_rate", "share delivered twice"),
            _Flag("--webhook-reorder-rate", "reorder_rate", "share sent after a later one"),
            _Flag("--webhook-reorder-hold", "reorder_hold_s", "longest hold-back in seconds"),
            _Flag("--webhook-retry-compression", "retry_compression", _RETRY_HELP),
            _Flag("--webhook-timeout", "timeout_s", "seconds per attempt"),
            _Flag("--webhook-seed", "seed", "seed of the duplicate/reorder draws", int),
        ),
    ),
}


def _shown(value: Any) -> str:
    """A default as it would be typed on the command line."""
    if value is None:
        return "none"
    if isinstance(value, Mapping):
        return ",".join(f"{key}={weight:g}" for key, weight in value.items())
    if isinstance(value, tuple | frozenset):
        return ",".join(_shown(item) for item in value) or "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _add_flags(
    group: argparse._ArgumentGroup, model: type[SettingsModel], prefix: str, flags: Sequence[_Flag]
) -> None:
    """Add each flag; an absent one leaves its field to the model's default."""
    for flag in flags:
        options: dict[str, Any] = {"dest": f"{prefix}.{flag.field}", "action": flag.action}
        if flag.type is not None:
            options["type"] = flag.type
            options["metavar"] = flag.flag.removeprefix("--").replace("-", "_").upper()
        shown = ""
        if flag.action == "store":
            default = model.model_fields[flag.field].get_default(call_default_factory=True)
            shown = f" (default {_shown(default)})"
        group.add_argument(flag.flag, default=argparse.SUPPRESS, help=flag.help + shown, **options)


def parser() -> argparse.ArgumentParser:
    """The command-line interface; the settings' defaults are the models' own."""
    cli = argparse.ArgumentParser(prog="persona-sandbox", description=__doc__.split("\n")[0])
    add = cli.add_argument
    add("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    add("--port", type=int, default=8900, help="port to bind; 0 picks a free one (default 8900)")
    add("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    for prefix, (model, flags) in _FLAGS.items():
        group = cli.add_argument_group(prefix, model.__doc__)
        _add_flags(group, model, prefix, flags)
    return cli


def _given(args: argparse.Namespace, prefix: str) -> dict[str, Any]:
    """The fields of one settings model that the command line set."""
    return {
        name.removeprefix(f"{prefix}."): value
        for name, value in vars(args).items()
        if name.startswith(f"{prefix}.")
    }


def build_config(args: argparse.Namespace) -> SandboxConfig:
    """The sandbox configuration the parsed arguments describe (the rest at its defaults).

    Raises:
        ValueError: an invalid combination or value.
    """
    values = _given(args, "sandbox")
    if "api_key" not in values and (key := os.environ.get(_KEY_ENV)) is not None:
        values["api_key"] = key
    hooks = _given(args, "webhooks")
    if "secrets" not in hooks and (secrets := _csv(os.environ.get(_SECRETS_ENV, ""))):
        hooks["secrets"] = secrets
    return SandboxConfig(
        **values, faults=FaultSettings(**_given(args, "faults")), webhooks=WebhookSettings(**hooks)
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the arguments and serve until interrupted."""
    cli = parser()
    args = cli.parse_args(argv)
    try:
        config = build_config(args)
    except ValueError as exc:
        cli.error(str(exc))
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s %(message)s")
    sock = bind_socket(args.host, args.port)
    port = sock.getsockname()[1]
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"persona-sandbox serving http://{host}:{port}{API_PREFIX}", flush=True)
    server = uvicorn.Server(uvicorn_config(create_app(config), log_level=args.log_level))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


if __name__ == "__main__":
    main()

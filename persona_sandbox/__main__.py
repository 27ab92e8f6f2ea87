"""`persona-sandbox`: run the local Persona emulator as its own process.

    persona-sandbox --host 127.0.0.1 --port 8900 --rate-limit 300 --time-scale 60 \\
        --outcome-mix approved=0.7,declined=0.3 --delay-range 5,120 --error-rate 0.05 \\
        --webhook-url http://127.0.0.1:8000/webhooks/persona --webhook-retry-compression 3600

The first line on stdout names the URL it serves (useful with `--port 0`). The API key can also
come from `PERSONA_SANDBOX_API_KEY`, and the webhook secrets from
`PERSONA_SANDBOX_WEBHOOK_SECRETS` (comma-separated, newest first), which keeps them out of
process listings.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence

import uvicorn

from persona_sandbox.app import API_PREFIX, create_app
from persona_sandbox.config import SandboxConfig, parse_delay_range, parse_outcome_mix
from persona_sandbox.faults import FaultSettings
from persona_sandbox.server import bind_socket, uvicorn_config
from persona_sandbox.webhook_settings import DEFAULT_EVENTS, PERSONA_TIMEOUT_S, WebhookSettings

__all__ = ["build_config", "main", "parser"]


_SECRETS_ENV = "PERSONA_SANDBOX_WEBHOOK_SECRETS"


def _csv_ints(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())


def _csv(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _add_webhook_arguments(cli: argparse.ArgumentParser) -> None:
    group = cli.add_argument_group("webhooks", "signed webhook delivery (off without a URL)")
    add = group.add_argument
    add("--webhook-url", default=None, help="where to POST events (default: no delivery)")
    add(
        "--webhook-secret",
        action="append",
        dest="webhook_secrets",
        default=None,
        help=f"a wbhsec_... secret, newest first; repeatable (default: ${_SECRETS_ENV})",
    )
    add("--webhook-rotation", action="store_true", help="sign with every secret (a rotation)")
    add(
        "--webhook-events",
        type=_csv,
        default=DEFAULT_EVENTS,
        help="event names or patterns to deliver (default inquiry.*,verification.*)",
    )
    add("--webhook-duplicate-rate", type=float, default=0.0, help="share delivered twice")
    add("--webhook-reorder-rate", type=float, default=0.0, help="share sent after a later one")
    add("--webhook-reorder-hold", type=float, default=1.0, help="longest hold-back in seconds")
    add(
        "--webhook-retry-compression",
        type=float,
        default=1.0,
        help="divide Persona's retry intervals (up to ~51 h) by this (default 1)",
    )
    add("--webhook-timeout", type=float, default=PERSONA_TIMEOUT_S, help="seconds per attempt")
    add("--webhook-seed", type=int, default=None, help="seed of the duplicate/reorder draws")


def parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    cli = argparse.ArgumentParser(prog="persona-sandbox", description=__doc__.split("\n")[0])
    add = cli.add_argument
    add("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    add("--port", type=int, default=8900, help="port to bind; 0 picks a free one (default 8900)")
    add(
        "--api-key",
        default=os.environ.get("PERSONA_SANDBOX_API_KEY"),
        help="the only accepted key (default: any persona_sandbox_... key)",
    )
    add("--rate-limit", type=int, default=300, help="requests per minute; 0 is off (default 300)")
    add(
        "--rate-limit-window",
        type=float,
        default=60.0,
        help="real seconds per rate-limit window (default 60, as at Persona)",
    )
    add("--time-scale", type=float, default=1.0, help="sandbox seconds per real second")
    add("--outcome-mix", type=parse_outcome_mix, help="e.g. approved=0.6,declined=0.2,failed=0.2")
    add(
        "--delay-range",
        type=parse_delay_range,
        default=(5.0, 120.0),
        help="seconds the person takes, low,high (default 5,120)",
    )
    add("--decision-after", type=float, default=30.0, help="seconds from completion to decision")
    add("--review-after", type=float, default=300.0, help="seconds in needs_review before decision")
    add("--expiry", type=float, default=86_400.0, help="inquiry lifetime in seconds")
    add(
        "--advance-interval",
        type=float,
        default=0.0,
        help="real seconds between background advances; 0 is off (default)",
    )
    add("--error-rate", type=float, default=0.0, help="share answered 5xx before anything")
    add("--error-statuses", type=_csv_ints, default=(500, 502, 503), help="default 500,502,503")
    add("--error-after-rate", type=float, default=0.0, help="share carried out, then answered 500")
    add("--latency-ms", type=float, default=0.0, help="latency added to each request")
    add("--hang-rate", type=float, default=0.0, help="share carried out, then held for --hang-s")
    add("--hang-s", type=float, default=30.0, help="how long a held answer waits (default 30)")
    add("--fault-operations", default="", help="operationIds the faults apply to (default all)")
    add("--cache-errors", action="store_true", help="store injected 5xx under Idempotency-Keys")
    add("--seed", type=int, default=None, help="seed of the fault draws")
    add("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    _add_webhook_arguments(cli)
    return cli


def build_config(args: argparse.Namespace) -> SandboxConfig:
    """The sandbox configuration the parsed arguments describe.

    Raises:
        ValueError: an invalid combination or value.
    """
    faults = FaultSettings(
        error_rate=args.error_rate,
        error_statuses=args.error_statuses,
        error_after_rate=args.error_after_rate,
        latency_ms=args.latency_ms,
        hang_rate=args.hang_rate,
        hang_s=args.hang_s,
        operations=frozenset(op.strip() for op in args.fault_operations.split(",") if op.strip()),
        cache_errors=args.cache_errors,
        seed=args.seed,
    )
    secrets = args.webhook_secrets or _csv(os.environ.get(_SECRETS_ENV, ""))
    webhooks = WebhookSettings(
        url=args.webhook_url,
        secrets=tuple(secrets),
        rotation=args.webhook_rotation,
        events=tuple(args.webhook_events),
        duplicate_rate=args.webhook_duplicate_rate,
        reorder_rate=args.webhook_reorder_rate,
        reorder_hold_s=args.webhook_reorder_hold,
        retry_compression=args.webhook_retry_compression,
        timeout_s=args.webhook_timeout,
        seed=args.webhook_seed,
    )
    extra = {"outcome_mix": args.outcome_mix} if args.outcome_mix else {}
    return SandboxConfig(
        api_key=args.api_key,
        rate_limit_per_minute=args.rate_limit,
        rate_limit_window_s=args.rate_limit_window,
        time_scale=args.time_scale,
        delay_range_s=args.delay_range,
        decision_after_s=args.decision_after,
        review_after_s=args.review_after,
        expiry_s=args.expiry,
        advance_interval_s=args.advance_interval,
        faults=faults,
        webhooks=webhooks,
        **extra,
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

"""`persona-worker webhooks ...`: set up and look after the Persona webhook subscription.

    persona-worker webhooks create --url https://HOST/webhooks/persona
    persona-worker webhooks rotate-secret WBH_ID [--expires-in SECONDS]
    persona-worker webhooks list

`create` subscribes the receiver (`web` process, `POST /webhooks/persona`) to the inquiry
status events it handles (`INQUIRY_EVENTS`), asks for the inquiry's verifications in each
payload's `included` (an `included-allowlist` of `{inquiry: [verifications]}`), enables it if
Persona created it disabled, and prints its signing secret once, with the setting it belongs
in (`PERSONA_WEBHOOK_SECRETS`). `rotate-secret` gives the subscription a new secret and says
how long the old one keeps signing; `list` shows every subscription of the environment.

A URL that is not `https` is refused before any request, except `http` to a loopback host (a
receiver on this machine, the sandbox's deliveries). These commands make a handful of
requests, so they do not go through the workers' shared rate limiter.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
import uuid
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlsplit

from jobs.context import persona_client, persona_http
from jobs.errors import ApiError, NotFoundError, ServerError
from jobs.persona.client import PersonaClient
from jobs.persona.models import Webhook
from jobs.policy.status import INQUIRY_EVENT_NAMES
from settings import Settings

__all__ = [
    "INCLUDE",
    "INQUIRY_EVENTS",
    "CommandError",
    "add_webhooks_parser",
    "check_receiver_url",
    "print_error",
    "run_webhooks",
]

#: The events the receiver acts on: every inquiry status event (`docs/webhooks.md`).
INQUIRY_EVENTS: Final = INQUIRY_EVENT_NAMES
#: What each payload includes: the inquiry's verifications, so results need no extra read.
INCLUDE: Final = {"inquiry": ["verifications"]}
#: The setting the receiver reads its secrets from.
SECRETS_SETTING: Final = "PERSONA_WEBHOOK_SECRETS"
#: Longest run of pages `list` follows (100 webhooks each).
_MAX_PAGES: Final = 50
_LOOPBACK_NAMES: Final = frozenset({"localhost"})


class CommandError(Exception):
    """A command that cannot do what was asked; the message says why, `code` is the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_receiver_url(url: str) -> str:
    """The URL, if Persona may be pointed at it: `https`, or `http` to a loopback host.

    Raises:
        CommandError: (status 2) anything else; the message names the scheme and host only.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - reading it validates the port
    except ValueError:
        raise CommandError("--url is not a valid URL", 2) from None
    if not host or parts.scheme not in ("https", "http"):
        raise CommandError("--url must be an https URL with a host", 2)
    if parts.scheme == "http" and not _loopback(host):
        raise CommandError(
            f"--url must use https (http only to a loopback host such as 127.0.0.1), "
            f"not http to {host}",
            2,
        )
    return url


def _key(command: str) -> str:
    """A fresh Idempotency-Key: a rerun of the command is a new request on purpose."""
    return f"webhooks-{command}:{uuid.uuid4().hex}"


def _summary(webhook: Webhook) -> dict[str, Any]:
    attributes = webhook.attributes
    return {
        "id": webhook.id,
        "url": attributes.url,
        "status": attributes.status,
        "events": list(attributes.enabled_events),
        "includes_verifications": webhook.includes("inquiry", "verifications"),
    }


def _secrets(webhook: Webhook, what: str) -> list[tuple[str, datetime | None]]:
    """The webhook's secrets (newest first), which the answer to `what` must carry."""
    secrets = [(s.value.get_secret_value(), s.expires_at) for s in webhook.attributes.secrets]
    if not secrets:
        raise CommandError(f"Persona's answer to {what} carries no secret; nothing to configure")
    return secrets


def _when(moment: datetime) -> str:
    stamp = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    left = int((moment - datetime.now(UTC)).total_seconds())
    if left <= 0:
        return f"{stamp} (passed)"
    return f"{stamp} (in {left // 3600}h{left % 3600 // 60:02d}m)"


async def _create(client: PersonaClient, options: argparse.Namespace) -> int:
    url = check_receiver_url(options.url)
    webhook = await client.create_webhook(
        name=options.name,
        url=url,
        enabled_events=INQUIRY_EVENTS,
        include=INCLUDE,
        idempotency_key=_key("create"),
    )
    ((secret, _), *_) = _secrets(webhook, "create-a-webhook")
    if webhook.attributes.status != "enabled":
        webhook = await client.enable_webhook(webhook.id, idempotency_key=_key("enable"))
    summary = _summary(webhook)
    if options.json:
        print(json.dumps({**summary, "secret": secret, "setting": SECRETS_SETTING}))
        return 0
    included = "the inquiry's verifications" if summary["includes_verifications"] else "nothing"
    print(
        f"Created webhook {webhook.id} ({summary['status']}), sending to {url}\n"
        f"  events    {', '.join(summary['events'])}\n"
        f"  included  {included}\n\n"
        "Its signing secret (this command shows it once; keep it out of logs and code):\n\n"
        f"  {secret}\n\n"
        "Give it to the web process and restart it:\n\n"
        f"  {SECRETS_SETTING}={secret}\n\n"
        f"To replace it later: persona-worker webhooks rotate-secret {webhook.id}"
    )
    if not summary["includes_verifications"]:
        print("warning: Persona saved no verifications in the payloads", file=sys.stderr)
    return 0


async def _rotate(client: PersonaClient, options: argparse.Namespace) -> int:
    webhook = await client.rotate_webhook_secret(
        options.webhook_id, idempotency_key=_key("rotate"), expires_in_s=options.expires_in
    )
    secrets = _secrets(webhook, "rotate-a-webhook-secret")
    newest = secrets[0][0]
    expiries = [expires for _, expires in secrets[1:] if expires is not None]
    ends = max(expiries) if expiries else None
    during = ",".join(value for value, _ in secrets)
    if options.json:
        listed = [{"value": v, "expires_at": e and e.isoformat()} for v, e in secrets]
        print(
            json.dumps(
                {
                    "id": webhook.id,
                    "secrets": listed,
                    "old_secrets_expire_at": ends and ends.isoformat(),
                    "setting": SECRETS_SETTING,
                    "during_rotation": during,
                    "after_rotation": newest,
                }
            )
        )
        return 0
    window = (
        f"until the old one expires at {_when(ends)}"
        if ends is not None
        else "until the old one expires (Persona's answer names no time)"
    )
    print(
        f"Rotated the secret of webhook {webhook.id}. The new secret:\n\n  {newest}\n\n"
        f"Deliveries are signed with every listed secret {window}.\n"
        "Meanwhile give the web process all of them, newest first, and restart it:\n\n"
        f"  {SECRETS_SETTING}={during}\n\n"
        "Once the old one has expired, keep only the new one:\n\n"
        f"  {SECRETS_SETTING}={newest}"
    )
    return 0


async def _list(client: PersonaClient, options: argparse.Namespace) -> int:
    found: list[Webhook] = []
    after: str | None = None
    for _ in range(_MAX_PAGES):
        page = await client.list_webhooks(page_size=100, after=after)
        found += page.data
        if not page.links.next or not page.data:
            break
        after = page.data[-1].id
    rows = [_summary(webhook) for webhook in found]
    if options.json:
        print(json.dumps(rows))
        return 0
    if not rows:
        print("no webhooks in this Persona environment")
        return 0
    width = max(len("id"), *(len(row["id"]) for row in rows)) + 2
    print(f"{'id':<{width}}{'status':<11}{'verifications':<15}url / events")
    for row in rows:
        included = "included" if row["includes_verifications"] else "not included"
        print(f"{row['id']:<{width}}{row['status'] or '-':<11}{included:<15}{row['url'] or '-'}")
        print(f"{'':<{width + 26}}{', '.join(row['events']) or '-'}")
    return 0


_COMMANDS: Final = {"create": _create, "rotate-secret": _rotate, "list": _list}


def _explain(error: ApiError, options: argparse.Namespace) -> CommandError:
    """A failed request as one sentence an operator can act on."""
    if isinstance(error, NotFoundError):
        target = getattr(options, "webhook_id", None)
        what = f"no webhook {target}" if target else "nothing there"
        return CommandError(f"Persona has {what} in this environment (404)")
    if isinstance(error, ServerError) and error.status_code and error.status_code < 300:
        return CommandError(f"Persona's answer could not be read: {error}")
    return CommandError(f"Persona refused: {error}")


async def run_webhooks(settings: Settings, options: argparse.Namespace) -> int:
    """Run one `webhooks` command against the Persona environment of the settings.

    Raises:
        CommandError: bad input (status 2, before any request) or a failed request (status 1).
    """
    command = _COMMANDS[options.webhooks_command]
    if options.webhooks_command == "create":
        check_receiver_url(options.url)
    async with persona_http(settings) as http:
        try:
            return await command(persona_client(settings, http), options)
        except ApiError as exc:
            raise _explain(exc, options) from None


def add_webhooks_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    """Add `webhooks create|rotate-secret|list` to the CLI's subcommands."""
    webhooks = commands.add_parser("webhooks", help="set up Persona's webhook subscription")
    actions = webhooks.add_subparsers(dest="webhooks_command", required=True)
    create = actions.add_parser(
        "create",
        parents=[common],
        help="subscribe the receiver to the inquiry events, verifications included",
    )
    create.add_argument("--url", required=True, help="https://HOST/webhooks/persona")
    create.add_argument("--name", default="persona-worker", help="how Persona lists it")
    rotate = actions.add_parser(
        "rotate-secret", parents=[common], help="give a webhook a new signing secret"
    )
    rotate.add_argument("webhook_id", help="wbh_... (see `webhooks list`)")
    rotate.add_argument(
        "--expires-in",
        type=_non_negative,
        metavar="SECONDS",
        help="how long the old secret keeps signing (default: Persona's)",
    )
    actions.add_parser("list", parents=[common], help="every webhook of the environment")


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a whole number of seconds") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def print_error(error: CommandError) -> int:
    """Report a failed command on stderr; its exit status."""
    print(f"persona-worker: webhooks: {error}", file=sys.stderr)
    return error.code

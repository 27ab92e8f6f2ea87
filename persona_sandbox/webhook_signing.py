"""The `Persona-Signature` header the sandbox puts on each webhook delivery.

Persona signs `"{t}.{raw body}"` with HMAC-SHA256, keyed with the webhook secret string exactly as
shown (`wbhsec_...`, not decoded), and sends `t=<unix seconds>,v1=<hex digest>`; during a secret
rotation the header holds one such set per secret, separated by a space, newest first (Persona's
webhooks documentation, https://docs.withpersona.com/webhooks). `t` is the time the attempt is
sent, so every retry is signed afresh.

This is written independently of the worker's verifier (`jobs.webhooks.signature`) on purpose:
tests check one against the other, which only proves something if they share no code.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

__all__ = ["signature", "signature_header"]


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex `v1` value for `body` sent at unix time `timestamp`."""
    signed = b"%d." % timestamp + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secrets: Sequence[str], timestamp: int, body: bytes) -> str:
    """The full header value: one `t=...,v1=...` set per secret, space-separated.

    Raises:
        ValueError: no secret to sign with.
    """
    if not secrets:
        raise ValueError("a webhook delivery needs a secret to sign with")
    return " ".join(f"t={timestamp},v1={signature(secret, timestamp, body)}" for secret in secrets)

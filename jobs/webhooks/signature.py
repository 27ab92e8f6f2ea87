"""Persona webhook signatures: `Persona-Signature: t=<unix>,v1=<hex>`.

`v1` is the hex HMAC-SHA256, keyed with the webhook secret exactly as Persona shows it
(`wbhsec_...`, not decoded), of `"{t}.{raw body}"`. During a secret rotation the header holds
several space-separated `t=...,v1=...` sets; each is checked against its own `t`, and the
request is genuine if any set matches any configured secret. Comparisons are constant-time and
run only on well-formed hex of the right length. Persona documents no timestamp tolerance, so
the check is optional (`WEBHOOK_TOLERANCE_S`, 0 = off).

The header comes from anyone who can reach the receiver, so the work it can cause is bounded
before any HMAC runs: at most `MAX_PAIRS` sets (a rotation has one per live secret, all with
the same `t`), `t` of ASCII digits only, and one HMAC over the body per distinct `t` per
secret, however many sets repeat a timestamp. Anything malformed is a `SignatureHeaderError`
(400), never another exception.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from jobs.errors import SignatureError, SignatureHeaderError

__all__ = ["MAX_PAIRS", "SignedPair", "parse_header", "sign", "signature_header", "verify"]

_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")
#: `t`: ASCII digits only (`str.isdigit` also takes "²", which `int` refuses).
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_MAX_HEADER = 4_096
#: Most `t=...,v1=...` sets a header may hold; a rotation has one per live secret.
MAX_PAIRS: Final = 4


@dataclass(frozen=True, slots=True)
class SignedPair:
    """One `t=...,v1=...` set of the header."""

    timestamp: int
    signature: str


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The hex `v1` signature of `body` sent at `timestamp`."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secrets: Iterable[str], timestamp: int, body: bytes) -> str:
    """A `Persona-Signature` value signed with each secret (newest first during a rotation)."""
    return " ".join(f"t={timestamp},v1={sign(secret, timestamp, body)}" for secret in secrets)


def parse_header(header: str) -> list[SignedPair]:
    """Split the header into its sets, refusing anything malformed (or too many sets)."""
    if not header or len(header) > _MAX_HEADER:
        raise SignatureHeaderError("malformed Persona-Signature header")
    chunks = header.split()
    if len(chunks) > MAX_PAIRS:
        raise SignatureHeaderError(
            f"malformed Persona-Signature header: more than {MAX_PAIRS} signatures"
        )
    return [_parse_pair(chunk) for chunk in chunks]


def _parse_pair(chunk: str) -> SignedPair:
    values: dict[str, str] = {}
    for item in chunk.split(","):
        name, sep, value = item.partition("=")
        if not sep or not value or name in values:
            raise SignatureHeaderError("malformed Persona-Signature header")
        values[name] = value
    timestamp, signature = values.get("t"), values.get("v1")
    if timestamp is None or not _TIMESTAMP.fullmatch(timestamp):
        raise SignatureHeaderError("malformed Persona-Signature header: bad or missing t")
    if signature is None:
        raise SignatureHeaderError("malformed Persona-Signature header: missing v1")
    return SignedPair(int(timestamp), signature.lower())


def verify(
    header: str | None,
    body: bytes,
    secrets: Iterable[str],
    *,
    now: float,
    tolerance_s: int = 0,
) -> SignedPair:
    """Check a webhook request; return the matching set or raise `SignatureError`.

    Args:
        header: the `Persona-Signature` value (None when absent).
        body: the raw request body, exactly as received.
        secrets: every currently valid webhook secret.
        now: the current unix time.
        tolerance_s: the largest accepted age of `t`; 0 accepts any age.
    """
    if header is None:
        raise SignatureHeaderError("missing Persona-Signature header")
    pairs = parse_header(header)
    keys = [secret for secret in secrets if secret]
    if not keys:
        raise SignatureError("no webhook secret is configured")
    # One HMAC per distinct timestamp and secret, computed only for a well-formed signature.
    expected: dict[int, list[str]] = {}
    matched: SignedPair | None = None
    for pair in pairs:
        if not _HEX_DIGEST.fullmatch(pair.signature):
            continue
        if pair.timestamp not in expected:
            expected[pair.timestamp] = [sign(secret, pair.timestamp, body) for secret in keys]
        for digest in expected[pair.timestamp]:
            if hmac.compare_digest(digest, pair.signature):
                matched = pair
    if matched is None:
        raise SignatureError("Persona-Signature does not match")
    if tolerance_s and abs(now - matched.timestamp) > tolerance_s:
        raise SignatureError("Persona-Signature timestamp is outside the tolerance")
    return matched

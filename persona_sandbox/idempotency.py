"""Idempotency-Key replay, as Persona documents it.

The first request with a key stores its status and body, whatever they are (2xx, 4xx, 5xx);
a later request with the same key and the same method, path and body gets that answer again
without side effects; the same key with different parameters is a 400. 401 and 429 answers are
never stored because authentication and the rate limiter run before this layer. Keys are kept
`ttl_s` sandbox seconds.

Concurrent requests with one key cannot both create: the pipeline looks the key up, runs the
handler and stores the answer without awaiting in between, so on one event loop a second
request always sees the first one's stored answer.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from persona_sandbox.errors import bad_request

__all__ = ["IdempotencyStore", "StoredAnswer", "fingerprint"]


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """The answer first given for a key."""

    fingerprint: str
    status: int
    body: bytes
    stored_at: datetime


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What "the same parameters" means: method, path (with query) and the JSON body's content.

    JSON bodies are compared by content, so key order and whitespace do not matter.
    """
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = body
    digest = hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + canonical)
    return digest.hexdigest()


class IdempotencyStore:
    """Answers stored by Idempotency-Key.

    Args:
        ttl_s: how long (sandbox seconds) a key is remembered.
    """

    def __init__(self, ttl_s: float) -> None:
        self._ttl = timedelta(seconds=ttl_s)
        self._answers: OrderedDict[str, StoredAnswer] = OrderedDict()

    def _prune(self, now: datetime) -> None:
        while self._answers:
            key, answer = next(iter(self._answers.items()))
            if now - answer.stored_at < self._ttl:
                return
            del self._answers[key]

    def lookup(self, key: str, print_: str, now: datetime) -> StoredAnswer | None:
        """The stored answer for a repeated request, or None for a new key.

        Raises:
            RefusalError: 400 "Idempotency error" when the key was used with other parameters.
        """
        self._prune(now)
        answer = self._answers.get(key)
        if answer is None:
            return None
        if answer.fingerprint != print_:
            problem = bad_request(
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. Try using a key other than '{key}' if you meant to "
                "execute a different request."
            )
            problem.title = "Idempotency error"
            raise problem
        return answer

    def store(self, key: str, print_: str, status: int, body: bytes, now: datetime) -> None:
        """Remember the first answer for a key."""
        self._answers[key] = StoredAnswer(print_, status, body, now)

    def clear(self) -> None:
        """Forget every key."""
        self._answers.clear()

    def __len__(self) -> int:
        return len(self._answers)

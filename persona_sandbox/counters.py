"""Call counters, the evidence tests and benchmarks use against the worker.

They answer: how often was each operation called and with what status; how often was each
inquiry touched (single-inquiry operations and its creation, not list filters); how many
inquiries did each Idempotency-Key create (more than one would be a duplicate); how many 429s
and injected faults were served; how webhook deliveries went (attempts, answers, retries);
and the most requests answered within any 60 real seconds (`peak_requests_per_60s`), which
proves a client stayed under Persona's per-minute budget whatever the phase of the limit's own
window: the timestamps of the last minute are kept, never more.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from typing import Any, Final

__all__ = ["PEAK_WINDOW_S", "WEBHOOK_COUNTERS", "Counters"]

#: Persona counts requests per minute: the peak is the most answered within this many seconds.
PEAK_WINDOW_S: Final = 60.0

#: Webhook tallies, always shown (zero included) so tests can compare whole dictionaries.
WEBHOOK_COUNTERS: Final = (
    "enqueued",  # events accepted for delivery
    "attempted",  # HTTP attempts made, first attempts, retries and duplicates alike
    "succeeded",  # attempts answered with one of Persona's success codes
    "failed",  # attempts answered otherwise, timed out or not connected
    "retries",  # attempts after a delivery's first
    "exhausted",  # deliveries that failed every attempt Persona makes
    "duplicates",  # extra deliveries made by `duplicate_rate`
    "reordered",  # events sent after a later event by `reorder_rate`
    "dropped",  # events refused because the delivery queue was full
    "cancelled",  # deliveries abandoned by disabling webhooks, a reset or shutdown
)


class Counters:
    """Mutable tallies of one sandbox.

    Args:
        real_time: monotonic real seconds (the sandbox clock's `real`), for the peak.
    """

    def __init__(self, real_time: Callable[[], float] = time.monotonic) -> None:
        self._real_time = real_time
        self.reset()

    def reset(self) -> None:
        """Zero every counter."""
        self.requests = 0
        self.rate_limited = 0
        self.operations: defaultdict[str, Counter[int]] = defaultdict(Counter)
        self.inquiries: Counter[str] = Counter()
        self.creates_by_key: Counter[str] = Counter()
        self.creates_without_key = 0
        self.faults: Counter[str] = Counter()
        self.webhooks: Counter[str] = Counter()
        self.webhook_answers: Counter[str] = Counter()
        self.peak_per_window = 0
        self._recent: deque[float] = deque()

    def call(self, operation: str, status: int, inquiry_id: str | None) -> None:
        """Count one answered API request."""
        self.requests += 1
        now = self._real_time()
        recent = self._recent
        recent.append(now)
        while recent[0] <= now - PEAK_WINDOW_S:
            recent.popleft()
        self.peak_per_window = max(self.peak_per_window, len(recent))
        self.operations[operation][status] += 1
        if status == 429:
            self.rate_limited += 1
        if inquiry_id is not None:
            self.inquiries[inquiry_id] += 1

    def created(self, idempotency_key: str | None) -> None:
        """Count one inquiry actually created (not a replay)."""
        if idempotency_key is None:
            self.creates_without_key += 1
        else:
            self.creates_by_key[idempotency_key] += 1

    def webhook(self, tally: str, count: int = 1) -> None:
        """Add to one of `WEBHOOK_COUNTERS`."""
        if tally not in WEBHOOK_COUNTERS:
            raise KeyError(tally)
        self.webhooks[tally] += count

    def webhook_answer(self, answer: str) -> None:
        """Count one attempt's answer: its status code, `timeout` or `connection_error`."""
        self.webhook_answers[answer] += 1

    def to_json(self) -> dict[str, Any]:
        """JSON-ready tallies (what `GET /_sandbox/counters` shows)."""
        return {
            "requests": self.requests,
            "rate_limited": self.rate_limited,
            "peak_requests_per_60s": self.peak_per_window,
            "operations": {
                operation: {str(status): count for status, count in sorted(statuses.items())}
                for operation, statuses in sorted(self.operations.items())
            },
            "inquiries": dict(self.inquiries),
            "creates_by_idempotency_key": dict(self.creates_by_key),
            "creates_without_key": self.creates_without_key,
            "faults": dict(self.faults),
            "webhooks": {
                **{tally: self.webhooks[tally] for tally in WEBHOOK_COUNTERS},
                "answers": dict(sorted(self.webhook_answers.items())),
            },
        }

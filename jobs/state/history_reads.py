"""Reading the console's history (`jobs.state.history`): series over minutes, stories, workers.

Every read here is bounded by the history's own ceilings, never by the number in flight: a
series reads one small hash per minute of its window (60 for an hour, 1,440 for a day) in one
pipelined round trip, a story scans the capped stream of steps (`STORY_ENTRIES`) in
pages, and the worker count reads a sorted set of a few members.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from redis.asyncio import Redis

from jobs.state.history import LAG_BOUNDS_S, WORKER_BEAT_S, minute_of
from jobs.state.keys import KeySpace

__all__ = [
    "Bin",
    "Step",
    "known_limit",
    "quantile",
    "read_bins",
    "read_steps",
    "story_of",
    "workers_alive",
]

#: Story steps read per round trip.
_PAGE: Final = 2_000
#: How far a story follows ids: request, inquiry, the inquiry's other requests, theirs.
_HOPS: Final = 3


@dataclass(frozen=True, slots=True)
class Bin:
    """The counters of `minutes` consecutive minutes from `start` (unix seconds), summed."""

    start: int
    minutes: int
    counts: dict[str, int] = field(default_factory=dict)

    def kind(self, kind: str) -> dict[str, int]:
        """The counters of one kind (`ev`, `err`, `api`, `wh`, `lag`) by value."""
        prefix = f"{kind}:"
        return {
            name[len(prefix) :]: value
            for name, value in self.counts.items()
            if name.startswith(prefix)
        }

    def per_minute(self, name: str) -> float:
        """One counter as a rate per minute over the bin."""
        return self.counts.get(name, 0) / self.minutes

    def lag(self, q: float) -> float | None:
        """The decision-to-event latency's `q` quantile (a bucket's upper bound), if any."""
        return quantile({int(k): v for k, v in self.kind("lag").items() if k.isdigit()}, q)


def quantile(buckets: Mapping[int, int], q: float) -> float | None:
    """The upper bound of the latency bucket holding the `q` quantile; None with no samples.

    The last bucket (longer than every bound) reads as twice the largest bound.
    """
    total = sum(buckets.values())
    if total <= 0:
        return None
    rank = q * total
    seen = 0
    for index in sorted(buckets):
        seen += buckets[index]
        if seen >= rank:
            break
    return float(LAG_BOUNDS_S[index]) if index < len(LAG_BOUNDS_S) else LAG_BOUNDS_S[-1] * 2.0


async def read_bins(
    redis: Redis, keys: KeySpace, *, now: float, minutes: int, per_bin: int = 1
) -> list[Bin]:
    """The last `minutes` minutes up to `now` (this minute included), oldest first, summed
    into bins of `per_bin` minutes; one pipelined round trip."""
    last = minute_of(now)
    first = last - minutes + 1
    async with redis.pipeline(transaction=False) as pipe:
        for minute in range(first, last + 1):
            pipe.hgetall(keys.history_minute(minute))
        raws: list[dict[Any, Any]] = await pipe.execute()
    bins: list[Bin] = []
    for offset in range(0, minutes, per_bin):
        summed: dict[str, int] = {}
        for raw in raws[offset : offset + per_bin]:
            for name, value in raw.items():
                text = _text(name)
                summed[text] = summed.get(text, 0) + int(value)
        bins.append(Bin(start=(first + offset) * 60, minutes=per_bin, counts=summed))
    return bins


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a story: when (unix ms), what kind, about whom, and its detail."""

    at_ms: int
    kind: str
    inquiry_id: str
    request_id: str
    detail: str
    code: int | None

    @classmethod
    def decode(cls, entry_id: Any, fields: Mapping[Any, Any]) -> Step:
        """A stream entry (decoded or not) as a step; its id's first part is its time."""
        text = {_text(name): _text(value) for name, value in fields.items()}
        code = text.get("c", "")
        return cls(
            at_ms=int(_text(entry_id).split("-", 1)[0]),
            kind=text.get("k", ""),
            inquiry_id=text.get("i", ""),
            request_id=text.get("r", ""),
            detail=text.get("d", ""),
            code=int(code) if code.isdigit() else None,
        )


async def read_steps(redis: Redis, keys: KeySpace) -> list[Step]:
    """Every step the capped stream holds, oldest first (a bounded read, in pages)."""
    steps: list[Step] = []
    lower = "-"
    last: Any = None
    while True:
        page = await redis.xrange(keys.history_stories, min=lower, max="+", count=_PAGE)
        for entry_id, fields in page:
            steps.append(Step.decode(entry_id, fields))
            last = entry_id
        if len(page) < _PAGE:
            return steps
        lower = "(" + _text(last)


def story_of(
    steps: Iterable[Step],
    *,
    ids: Sequence[str],
) -> list[Step]:
    """The steps about any of `ids` (job or inquiry ids), and every step about the requests and
    inquiries those steps name (a request leads to its inquiry, the inquiry to the other
    requests following it, and so on), oldest first."""
    listed = list(steps)
    wanted = set(ids) - {""}
    for _ in range(_HOPS):
        grown = set(wanted)
        for step in listed:
            if wanted & {step.inquiry_id, step.request_id}:
                grown |= {step.inquiry_id, step.request_id}
        grown.discard("")
        if grown == wanted:
            break
        wanted = grown
    return [s for s in listed if wanted & {s.inquiry_id, s.request_id}]


async def known_limit(redis: Redis, keys: KeySpace) -> int | None:
    """The limiter's requests per minute as the workers last reported it (None: no worker)."""
    value = await redis.get(keys.history_limit)
    text = value.decode() if isinstance(value, bytes) else value
    return int(text) if isinstance(text, str) and text.isdigit() else None


async def workers_alive(redis: Redis, keys: KeySpace, *, now: float) -> int:
    """Worker processes that beat within the last three beats."""
    since = int((now - 3 * WORKER_BEAT_S) * 1000)
    return int(await redis.zcount(keys.history_workers, since, "+inf"))

"""The console's history: per-minute counters and request stories, bounded, written in batches.

The request ledger keeps what is in flight; this keeps what happened, for the operator console
(`worker.console`): how many results per minute and with which outcome, how long after
Persona's decision each one came, how many Persona requests and 429s, failures by error type,
webhook deliveries, and for each request the steps it went through.

Two shapes, both with a fixed ceiling whatever the number in flight:

- one hash per minute (`KeySpace.history_minute`) of counters, expiring `BUCKET_TTL_S` after
  its minute: at most 1,500 hashes, each with a few dozen fields from fixed sets (event names,
  error type names, webhook outcomes, status classes, lag buckets);
- one stream of story steps (`KeySpace.history_stories`), trimmed to about `stories` entries
  (`STORY_ENTRIES`): a request's or inquiry's story is what this window still holds.

Writes cost the pipeline next to nothing: each `History` call adds to an in-process buffer (a
counter, or one small dict) and a flush, scheduled at most `flush_after_s` later, sends the
whole buffer in one pipelined round trip. A crash loses at most that last second; a Redis
error drops the batch with a warning (the console is best-effort, the ledger is not).

Only values an event would show are stored: job and inquiry ids, job names,
inquiry statuses, Persona operation ids, HTTP status codes, event names and error type names;
never an error's message, a field of the inquiry, a link or a header.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final

from redis.asyncio import Redis
from redis.exceptions import RedisError

from jobs import log_context
from jobs.state.keys import KeySpace, is_cron_job_id

if TYPE_CHECKING:
    from jobs.persona.client import ApiCall

__all__ = [
    "BUCKET_TTL_S",
    "LAG_BOUNDS_S",
    "STORY_ENTRIES",
    "STORY_FIELDS",
    "WORKER_BEAT_S",
    "History",
    "beat",
    "lag_bucket",
    "minute_of",
]

logger = logging.getLogger(__name__)

#: How long a minute's counters live: a day, and an hour of slack for the day chart's edge.
BUCKET_TTL_S: Final = 25 * 3_600
#: Upper bounds (seconds) of the decision-to-event latency buckets; one more catches the rest.
LAG_BOUNDS_S: Final = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1_800, 3_600, 14_400)
#: A story step's fields: kind, inquiry, request (job id), detail, HTTP status code; its time is
#: the stream entry's id (when it was flushed, at most `flush_after_s` late). No reference id:
#: those are the caller's ids for a person, which redacting an inquiry must be able to erase
#: (`jobs.state.forget`); the results stream and the ledger lead to them.
STORY_FIELDS: Final = ("k", "i", "r", "d", "c")
#: Story steps the stream keeps (about 50 bytes each in Redis); older ones are trimmed.
STORY_ENTRIES: Final = 10_000
#: Story steps kept in memory while Redis is away (the oldest go first).
_MAX_PENDING: Final = 10_000
#: How often a worker process records that it is alive, and how long a beat counts.
WORKER_BEAT_S: Final = 10.0
_WORKER_FORGET_S: Final = 3_600
#: A counter name is made of these, and no longer than this (anything else counts as other).
_NAME: Final = re.compile(r"^[A-Za-z0-9_.:\-]{1,80}$")


def minute_of(now: float) -> int:
    """The minute (unix seconds // 60) a moment falls in: the counters' bucket."""
    return int(now // 60)


def lag_bucket(seconds: float) -> int:
    """The index of the latency bucket holding `seconds` (len(LAG_BOUNDS_S) for longer)."""
    for index, bound in enumerate(LAG_BOUNDS_S):
        if seconds <= bound:
            return index
    return len(LAG_BOUNDS_S)


def _name(kind: str, value: str) -> str:
    field = f"{kind}:{value}"
    return field if _NAME.match(field) else f"{kind}:other"


class History:
    """One process's writer of the history: buffered, flushed in one round trip per second."""

    def __init__(
        self,
        redis: Redis,
        keys: KeySpace,
        *,
        stories: int = STORY_ENTRIES,
        clock: Callable[[], float] = time.time,
        flush_after_s: float = 1.0,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.stories = stories
        self.clock = clock
        self.flush_after_s = flush_after_s
        self._counts: Counter[tuple[int, str]] = Counter()
        self._steps: deque[dict[str, str]] = deque(maxlen=_MAX_PENDING)
        self._task: asyncio.Task[None] | None = None

    # --- what happened --------------------------------------------------------------------------

    def count(self, field: str, amount: int = 1, *, at: float | None = None) -> None:
        """Add to one of this minute's counters (`field` is `kind:value`, from a fixed set)."""
        kind, _, value = field.partition(":")
        self._counts[(minute_of(self.clock() if at is None else at), _name(kind, value))] += amount
        self._soon()

    def step(
        self,
        kind: str,
        detail: str,
        *,
        inquiry_id: str | None = None,
        request_id: str | None = None,
        code: int | None = None,
    ) -> None:
        """Add one step to the stories of a request and its inquiry."""
        if not (inquiry_id or request_id):
            return
        values = {
            "k": kind,
            "i": inquiry_id or "",
            "r": request_id or "",
            "d": detail,
            "c": "" if code is None else str(code),
        }
        self._steps.append({name: value for name, value in values.items() if value})
        self._soon()

    def result(
        self,
        event: str,
        answered: int,
        *,
        error_type: str | None = None,
        lag_s: float | None = None,
        inquiry_id: str | None = None,
        request_ids: Iterable[str] = (),
    ) -> None:
        """Requests answered with `event` (`request_ids`: those answered, for their stories)."""
        if answered <= 0:
            return
        self.count(f"ev:{event}", answered)
        if error_type is not None:
            self.count(f"err:{error_type}", answered)
        if lag_s is not None:
            self.count(f"lag:{lag_bucket(max(lag_s, 0.0))}")
        detail = event if error_type is None else f"{event} ({error_type})"
        for request_id in request_ids:
            self.step("event", detail, inquiry_id=inquiry_id, request_id=request_id)

    def api_call(self, call: ApiCall) -> None:
        """A `PersonaClient` observer: count the call, and add it to the story it belongs to
        (the job's log context names the request and inquiry it works for)."""
        self.count("api:all")
        status = "none" if call.status_code is None else f"{call.status_code // 100}xx"
        self.count(f"api:{status}")
        if call.status_code == 429:
            self.count("api:429")
        scope = log_context.current()
        job_id = scope.get("job_id")
        if job_id and is_cron_job_id(str(job_id)):
            return  # the tick's list calls: each inquiry's check is its own step
        inquiry_id = scope.get("inquiry_id")
        self.step(
            "api",
            call.operation,
            inquiry_id=str(inquiry_id) if inquiry_id else None,
            request_id=str(job_id) if job_id else None,
            code=call.status_code,
        )

    # --- writing ---------------------------------------------------------------------------------

    def _soon(self) -> None:
        if self._task is not None and not self._task.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a synchronous caller): the next call in one flushes
            return
        self._task = loop.create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(self.flush_after_s)
        await self.flush()

    async def flush(self) -> None:
        """Send everything buffered in one pipelined round trip (dropped on a Redis error)."""
        counts, self._counts = self._counts, Counter()
        steps = list(self._steps)
        self._steps.clear()
        if not counts and not steps:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for minute in {minute for minute, _ in counts}:
                    key = self.keys.history_minute(minute)
                    for (at, field), amount in counts.items():
                        if at == minute:
                            pipe.hincrby(key, field, amount)
                    pipe.expireat(key, minute * 60 + 60 + BUCKET_TTL_S)
                for step in steps:
                    fields: dict[Any, Any] = dict(step)
                    pipe.xadd(
                        self.keys.history_stories,
                        fields,
                        maxlen=self.stories,
                        approximate=True,
                    )
                await pipe.execute()
        except asyncio.CancelledError:
            # Stopped mid-send (shutdown): keep the batch for `close` to send.
            self._counts.update(counts)
            self._steps.extendleft(reversed(steps))
            raise
        except (RedisError, OSError) as exc:
            logger.warning("history not written (%s); the console misses a second", exc)

    async def close(self) -> None:
        """Flush what is buffered now and stop the scheduled flush (process shutdown)."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.flush()


async def beat(
    redis: Redis, keys: KeySpace, worker: str, now: float, *, per_minute: int | None = None
) -> None:
    """Record that a worker process is alive (a sorted set of a few members, pruned here), and
    the limiter's budget it runs with (`RATE_LIMIT_PER_MINUTE=auto` is only known there)."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zadd(keys.history_workers, {worker: int(now * 1000)})
        pipe.zremrangebyscore(keys.history_workers, "-inf", int((now - _WORKER_FORGET_S) * 1000))
        if per_minute is not None:
            pipe.set(keys.history_limit, per_minute, ex=_WORKER_FORGET_S)
        await pipe.execute()

"""The process context every job runs with: one typed object instead of loose `ctx` keys.

`worker.lifecycle` builds it at start-up (one HTTP client, one Redis pool, one Persona client)
and closes it at shutdown; jobs narrow arq's `ctx` dict to it with `JobContext.from_ctx`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Self

import httpx
from arq.connections import ArqRedis
from redis.asyncio import Redis

from jobs.persona.client import PersonaClient, RequestGate
from jobs.policy.backoff import PollPolicy
from jobs.state.attempts import AttemptLedger
from jobs.state.history import History
from jobs.state.keys import KeySpace
from jobs.state.ledger import Ledger
from jobs.state.payloads import PayloadStore
from jobs.state.report_waits import ReportWaits
from jobs.state.webhook_flow import WebhookFlow
from settings import Settings

__all__ = ["CTX_KEY", "JobContext", "persona_client", "persona_http"]

#: Where the context lives in arq's ctx dict.
CTX_KEY = "persona"


def persona_http(
    settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """The process's one HTTP client for Persona, sized and timed by the settings."""
    return PersonaClient.build_http(
        base_url=settings.api_base_url,
        timeout_s=settings.http_timeout_s,
        max_connections=settings.http_max_connections,
        transport=transport,
    )


def persona_client(
    settings: Settings, http: httpx.AsyncClient, gate: RequestGate | None = None
) -> PersonaClient:
    """A Persona client with the key, version and simulate switch of the settings."""
    return PersonaClient(
        http,
        api_key=settings.persona_api_key,
        version=settings.persona_version,
        gate=gate,
        allow_simulate=settings.persona_allow_simulate,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class JobContext:
    """Process-wide singletons shared by every job of one worker process."""

    settings: Settings
    persona: PersonaClient
    redis: Redis
    """Our own state (decoded responses)."""
    queue: ArqRedis
    """arq's pool, for enqueueing follow-up jobs with the JSON serializer."""
    keys: KeySpace
    """The deployment's Redis keys (`KEY_PREFIX`)."""
    ledger: Ledger
    """The one writer of request and follow state."""
    attempts: AttemptLedger
    """Failed attempts of the jobs that retry (waits for a rate limit do not count)."""
    payloads: PayloadStore
    """Result payloads webhooks brought, for the fetch to publish without a read."""
    flow: WebhookFlow
    """Whether signed webhooks flow, and the polling mode all workers share."""
    policy: PollPolicy
    history: History
    """What happened, for the operator console (buffered; `History.close` flushes it)."""
    rng: random.Random = field(default_factory=random.Random)
    clock: Callable[[], float] = time.time

    @property
    def report_waits(self) -> ReportWaits:
        """The requests waiting for reports (`jobs.reports`), on the same Redis and keys."""
        return ReportWaits(self.redis, self.keys, ttl_s=self.settings.record_ttl_s)

    @classmethod
    def from_ctx(cls, ctx: Mapping[str, Any]) -> Self:
        """The context arq's on_startup stored in `ctx`."""
        found = ctx.get(CTX_KEY)
        if not isinstance(found, cls):
            raise TypeError("worker ctx has no JobContext; did on_startup run?")
        return found

    @classmethod
    def build(
        cls, settings: Settings, *, persona: PersonaClient, redis: Redis, queue: ArqRedis
    ) -> Self:
        """Wire the stores and policies from settings around the given connections."""
        keys = KeySpace(settings.key_prefix)
        return cls(
            settings=settings,
            persona=persona,
            redis=redis,
            queue=queue,
            keys=keys,
            ledger=Ledger(
                redis,
                keys,
                stream=settings.results_stream,
                maxlen=settings.results_stream_maxlen,
                answered_ttl_s=settings.record_ttl_s,
            ),
            attempts=AttemptLedger(redis, keys),
            payloads=PayloadStore(redis, keys),
            flow=WebhookFlow(redis, keys),
            history=History(redis, keys),
            policy=PollPolicy(
                min_interval_s=settings.poll_min_interval_s,
                max_interval_s=settings.poll_max_interval_s,
                review_interval_s=settings.poll_review_interval_s,
                deadline_grace_s=settings.poll_deadline_grace_s,
            ),
        )

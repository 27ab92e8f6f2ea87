"""The shared limiter's budget: `RATE_LIMIT_PER_MINUTE`, a number or `auto`.

A number is taken as it is, with the limiter's usual burst (`DEFAULT_BURST` reads ahead).

`auto` asks Persona at start (`list-all-rate-limits`, one request, before the limiter exists)
and keeps `AUTO_HEADROOM` of the environment's API limit free: 240 of Persona's default 300,
the same margin as the default setting. The headroom is for everyone else on the same
environment (the Dashboard, other services, `persona-worker webhooks`); the limiter's burst
comes out of the budget too, so steady rate plus burst never exceed the limit, however small
it is. The limit is taken as per minute, Persona's window. The worker reads it once per
process (a worker restarted after a Redis outage keeps the figure it started with).

When Persona cannot answer now (no connection, a timeout, a 5xx or a 429), the worker starts
anyway with the budget of the default setting (`FALLBACK_PER_MINUTE`, 240: Persona's default
limit less the same headroom) and says so in a warning: a worker restarted during a Persona
outage keeps taking requests, which wait out the outage as every job does. The next start asks
again. When Persona answers but the answer cannot be used (a refusal such as a wrong key or one
without the permission, or an answer outside the spec), that is configuration: the worker does
not start, the `ConfigError` names the setting and the cause, and a number in its place always
works.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from jobs.errors import ApiError, ConfigError, TransientApiError
from jobs.persona.client import PersonaClient
from jobs.persona.models import RateLimit
from jobs.persona.ratelimit import DEFAULT_BURST
from settings import Settings

__all__ = [
    "AUTO_HEADROOM",
    "FALLBACK_PER_MINUTE",
    "RateBudget",
    "budget_from_limits",
    "rate_budget",
]

logger = logging.getLogger(__name__)

#: Share of the environment's limit `auto` leaves to other clients.
AUTO_HEADROOM: Final = 0.2
#: The budget `auto` uses while Persona cannot answer: the default of `RATE_LIMIT_PER_MINUTE`.
FALLBACK_PER_MINUTE: Final = 240
#: The type of the API request limit in `list-all-rate-limits`.
API_LIMIT: Final = "rate-limit/api"


@dataclass(frozen=True, slots=True)
class RateBudget:
    """What the shared limiter admits: a steady rate and a burst of reads ahead of it."""

    per_minute: int
    burst: int = DEFAULT_BURST
    fallback: bool = False
    """`auto` could not read the limit and took `FALLBACK_PER_MINUTE`: ask again next start."""


def budget_from_limits(limits: Sequence[RateLimit]) -> tuple[int, RateBudget]:
    """The environment's API limit per minute and the budget `auto` makes of it.

    Raises:
        ValueError: the answer names no positive API limit.
    """
    found = [
        item.attributes.limit
        for item in limits
        if item.type == API_LIMIT and item.attributes.limit is not None
    ]
    if not found or min(found) <= 0:
        raise ValueError("Persona's answer names no API rate limit")
    limit = min(found)
    per_minute = max(1, math.floor(limit * (1 - AUTO_HEADROOM)))
    return limit, RateBudget(per_minute, burst=max(0, min(DEFAULT_BURST, limit - per_minute)))


def _cannot_answer_now(exc: TransientApiError) -> bool:
    """Persona is out of reach or overloaded (no answer, a 429, a 5xx), as opposed to an
    answer it gave that cannot be used (a 2xx outside the spec)."""
    return exc.status_code is None or exc.status_code >= 429


async def rate_budget(settings: Settings, persona: PersonaClient) -> RateBudget:
    """The budget of `RATE_LIMIT_PER_MINUTE`, asking Persona when it is `auto`.

    Raises:
        ConfigError: `auto`, and Persona refused the read or answered outside the spec.
    """
    setting = settings.rate_limit_per_minute
    if setting != "auto":
        return RateBudget(setting)
    problem = "could not read the environment's rate limits"
    try:
        limit, budget = budget_from_limits(await persona.list_rate_limits())
    except TransientApiError as exc:
        if _cannot_answer_now(exc):
            logger.warning(
                "RATE_LIMIT_PER_MINUTE=auto: %s (%s); the shared limiter admits %d per minute "
                "until the next start",
                problem,
                exc,
                FALLBACK_PER_MINUTE,
            )
            return RateBudget(FALLBACK_PER_MINUTE, fallback=True)
        refusal: Exception = exc
    except (ApiError, ValueError) as exc:
        refusal = exc
    else:
        logger.info(
            "RATE_LIMIT_PER_MINUTE=auto: Persona allows %d requests per minute; "
            "the shared limiter admits %d (burst %d)",
            limit,
            budget.per_minute,
            budget.burst,
        )
        return budget
    raise ConfigError(f"RATE_LIMIT_PER_MINUTE=auto: {problem} ({refusal}); set a number instead")

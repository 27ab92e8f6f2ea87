"""A typing bridge for redis-py's asyncio client.

redis-py 5 annotates hash and other commands as returning `Awaitable[T] | T` (one signature for
its sync and async clients), which strict mypy refuses to await. `resolved` awaits the value
when it is awaitable, so call sites stay typed without casts.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable
from typing import TypeVar

__all__ = ["resolved"]

T = TypeVar("T")


async def resolved(value: Awaitable[T] | T) -> T:
    """Await a redis-py command result typed as `Awaitable[T] | T`."""
    if inspect.isawaitable(value):
        return await value
    return value

"""Every Redis client the product opens, made in one place, with bounded waits.

redis-py waits for an answer forever by default, and arq's `RedisSettings` cannot ask for a
socket timeout at all: a Redis that accepts connections and then stops answering (a network
partition, a stuck or paused server) hung jobs until arq's job timeout failed them without an
event, and hung the web process, the CLI and a starting worker for good. So every client is
made here, from three settings:

- `REDIS_SOCKET_TIMEOUT_S`: the longest wait for one answer. Past it redis-py raises
  `TimeoutError`, which a job turns into a re-run (`worker.redis_retry`). It must stay above
  the longest blocking read (`persona-worker results --follow` blocks for 1 s).
- `REDIS_CONNECT_TIMEOUT_S`: the longest wait for a new connection.
- `REDIS_HEALTH_CHECK_INTERVAL_S`: a connection idle this long is checked with `PING` before it
  is used again, so one that a failover or a NAT dropped is replaced before a command fails on
  it (0 turns the check off).

Commands are not retried by the client on a timeout (`retry_on_timeout` stays off): a write
that timed out may have been applied, and a blind retry would apply it twice (a counter would
count twice); the re-run of the whole job is idempotent instead.

A connection whose socket closed under a write (a Redis restart) must fail like one:
redis-py turns the `OSError` the standard event loop raises into its `ConnectionError`, but
uvloop raises `RuntimeError` ("unable to perform operation on <TCPTransport closed=True>; the
handler is closed"), which redis-py lets through. Escaping arq's poll loop it ended the worker
process; inside a job it would have answered a good request with `job.failed`. Every
connection made here raises `ConnectionResetError` instead (`_SafeOnClose`), which redis-py
converts, so the job runs again and the worker reconnects, on either loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Self, TypeVar

from arq.connections import ArqRedis, RedisSettings
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection

from jobs.contract import json_deserializer, json_serializer
from settings import Settings

__all__ = ["RedisTimeouts", "arq_pool", "arq_redis_settings", "redis_client"]

RedisT = TypeVar("RedisT", bound=Redis)


@dataclass(frozen=True, slots=True)
class RedisTimeouts:
    """How long a Redis client waits, and how often it checks an idle connection."""

    socket_timeout_s: float
    """Longest wait for one answer."""
    connect_timeout_s: float
    """Longest wait for a new connection."""
    health_check_interval_s: int
    """Seconds of idleness after which a connection is pinged before use; 0: never."""

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """The timeouts the settings name."""
        return cls(
            socket_timeout_s=settings.redis_socket_timeout_s,
            connect_timeout_s=settings.redis_connect_timeout_s,
            health_check_interval_s=settings.redis_health_check_interval_s,
        )

    @classmethod
    def defaults(cls) -> Self:
        """The settings' defaults, for callers without settings (Python producers)."""
        fields = Settings.model_fields
        return cls(
            socket_timeout_s=fields["redis_socket_timeout_s"].default,
            connect_timeout_s=fields["redis_connect_timeout_s"].default,
            health_check_interval_s=fields["redis_health_check_interval_s"].default,
        )

    def client_options(self) -> dict[str, Any]:
        """redis-py's keyword arguments for these timeouts."""
        return {
            "socket_timeout": self.socket_timeout_s,
            "socket_connect_timeout": self.connect_timeout_s,
            "health_check_interval": self.health_check_interval_s,
        }


class _SafeOnClose:
    """Mixin of a redis-py connection: a write on a transport that closed raises
    `ConnectionResetError` (an `OSError`, which redis-py turns into `ConnectionError`)."""

    _writer: asyncio.StreamWriter | None

    async def _send_packed_command(self, command: Iterable[bytes]) -> None:
        try:
            await super()._send_packed_command(command)  # type: ignore[misc]
        except RuntimeError as exc:
            writer = self._writer
            if writer is None or not writer.transport.is_closing():
                raise
            raise ConnectionResetError(f"the connection to Redis closed: {exc}") from exc


#: One subclass per connection class, so every pool of a kind shares it.
_SAFE_CLASSES: dict[type[AbstractConnection], type[AbstractConnection]] = {}


def _safe_on_close(base: type[AbstractConnection]) -> type[AbstractConnection]:
    """`base` (plain, TLS or unix socket, as the URL chose) with `_SafeOnClose` first."""
    if issubclass(base, _SafeOnClose):
        return base
    if base not in _SAFE_CLASSES:
        _SAFE_CLASSES[base] = type(f"SafeOnClose{base.__name__}", (_SafeOnClose, base), {})
    return _SAFE_CLASSES[base]


def _closing_safely(client: RedisT) -> RedisT:
    """`client`, whose pool makes its connections with `_SafeOnClose` (none is made yet)."""
    pool = client.connection_pool
    pool.connection_class = _safe_on_close(pool.connection_class)
    return client


def redis_client(url: str, timeouts: RedisTimeouts, *, decode_responses: bool = True) -> Redis:
    """A client for our own keys (answers decoded to `str` unless asked otherwise)."""
    client: Redis = Redis.from_url(
        url, decode_responses=decode_responses, **timeouts.client_options()
    )
    return _closing_safely(client)


def arq_pool(url: str, timeouts: RedisTimeouts, *, queue_name: str) -> ArqRedis:
    """An arq pool that speaks the worker's JSON wire format on `queue_name`.

    Built here rather than by arq's `create_pool`, which has no way to set a socket timeout;
    nothing connects until the first command.
    """
    pool: ArqRedis = _closing_safely(ArqRedis.from_url(url, **timeouts.client_options()))
    pool.job_serializer = json_serializer
    pool.job_deserializer = json_deserializer
    pool.default_queue_name = queue_name
    return pool


def arq_redis_settings(url: str, timeouts: RedisTimeouts) -> RedisSettings:
    """arq's own connection settings for `url`: what `arq --check` connects with.

    They carry the connect timeout (in whole seconds, as arq types it); arq has no field for
    the socket timeout, which is why the worker gets its pool from `arq_pool` instead.
    """
    parsed = RedisSettings.from_dsn(url)
    return dataclasses.replace(parsed, conn_timeout=math.ceil(timeouts.connect_timeout_s))

"""Every Redis client we make fails a write on a closed connection as redis-py's
`ConnectionError`, on uvloop too, where redis-py alone lets a `RuntimeError` through."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
import uvloop
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from jobs.state.connections import RedisTimeouts, arq_pool, redis_client
from worker.embedded_redis import RedisServer

pytestmark = pytest.mark.redis

TIMEOUTS = RedisTimeouts(socket_timeout_s=5.0, connect_timeout_s=2.0, health_check_interval_s=0)
PING = b"*1\r\n$4\r\nPING\r\n"


async def _write_after_the_socket_closed(client: Redis) -> BaseException:
    """What one write raises on a connection whose transport closed under it."""
    try:
        await client.ping()
        connection = await client.connection_pool.get_connection()
        writer = connection._writer
        writer.transport.close()
        try:
            await connection.send_packed_command(PING, check_health=False)
        except Exception as exc:  # what was raised is the finding
            return exc
        raise AssertionError("the write on a closed connection raised nothing")
    finally:
        await client.aclose()


def _on(
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None,
    coroutine: Coroutine[Any, Any, BaseException],
) -> BaseException:
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(coroutine)


LOOPS = pytest.mark.parametrize(
    "loop_factory", [uvloop.new_event_loop, None], ids=["uvloop", "asyncio"]
)


@LOOPS
def test_a_write_on_a_closed_connection_is_a_connection_error(
    redis_server: RedisServer, loop_factory: Callable[[], asyncio.AbstractEventLoop] | None
) -> None:
    raised = _on(
        loop_factory, _write_after_the_socket_closed(redis_client(redis_server.url, TIMEOUTS))
    )

    assert isinstance(raised, RedisConnectionError)


@LOOPS
def test_the_arq_pool_fails_a_closed_connection_the_same_way(
    redis_server: RedisServer, loop_factory: Callable[[], asyncio.AbstractEventLoop] | None
) -> None:
    pool = arq_pool(redis_server.url, TIMEOUTS, queue_name="q")

    assert isinstance(_on(loop_factory, _write_after_the_socket_closed(pool)), RedisConnectionError)


def test_redis_py_alone_lets_uvloops_runtime_error_through(redis_server: RedisServer) -> None:
    plain = Redis.from_url(redis_server.url, socket_timeout=5.0)

    raised = _on(uvloop.new_event_loop, _write_after_the_socket_closed(plain))

    assert isinstance(raised, RuntimeError), "the case the connections guard against"

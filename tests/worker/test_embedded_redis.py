"""The private redis-server: ready only when the server on its port is the one it started."""

from __future__ import annotations

import pytest

from worker.embedded_redis import RedisServer

pytestmark = pytest.mark.redis


def test_a_port_another_server_holds_is_refused_not_shared(redis_server: RedisServer) -> None:
    # Two runs side by side can pick the same free port; the second server cannot bind and
    # exits, but the first answers PING meanwhile. Starting must fail, not hand out the URL of
    # someone else's Redis.
    late = RedisServer(port=redis_server.port)
    try:
        with pytest.raises(RuntimeError, match="redis-server"):
            late.start()
    finally:
        late.cleanup()


def test_a_restart_answers_as_the_new_process() -> None:
    server = RedisServer(aof=True)
    try:
        server.start()
        first = server.process
        server.stop(kill=True)
        server.start()

        assert server.process is not first
        assert server.process is not None
        assert server.process.poll() is None
    finally:
        server.cleanup()

"""A loopback TCP server with a test's own behaviour, for failures no real server shows on cue.

The tests of bounded waits need servers that misbehave in one precise way: an HTTP server that
trickles its answer, a Redis that takes commands and never answers. `loopback_server` serves a
handler on a free loopback port and, on the way out, ends every handler still running, so no
task outlives the test's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

__all__ = ["Handler", "loopback_server"]

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def loopback_server(handler: Handler) -> AsyncIterator[int]:
    """Serve `handler` on 127.0.0.1 for the body; yield the port."""
    running: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        running.add(task)
        try:
            await handler(reader, writer)
        except ConnectionError:
            pass  # the client gave up: what these tests expect
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        await server.wait_closed()

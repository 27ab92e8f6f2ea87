"""Throughput of `persona-sandbox` on one core: how many simple requests per second it serves.

Starts `persona-sandbox` as a subprocess on a free loopback port (uvicorn with httptools and
uvloop, one process, rate limit off) through the benchmark's process harness, creates some
inquiries, then fires a bounded number of `GET /inquiries/{id}` at a fixed concurrency from this
one process over keep-alive connections (a minimal HTTP/1.1 client on asyncio streams, so the
client costs as little CPU as possible), prints the rates and stops the subprocess by its pid.

    python -m bench.sandbox_load [--requests 5000] [--creates 200] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from collections.abc import Iterator
from typing import Final
from urllib.parse import urlsplit

from bench.stack import Stack

__all__ = ["main"]

API_KEY: Final = "persona_sandbox_bench0key"
MAX_REQUESTS: Final = 100_000
CREATE_BODY: Final = json.dumps(
    {"data": {"attributes": {"inquiry-template-id": "itmpl_BenchTemplate0000000000"}}}
).encode()


class Connection:
    """One keep-alive HTTP/1.1 connection, just enough for the sandbox's answers."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str):
        self._reader, self._writer, self._host = reader, writer, host

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        """Connect to `host:port`."""
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, f"{host}:{port}")

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        """Send one request and read the whole answer (status, body)."""
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self._host}\r\n"
            f"Authorization: Bearer {API_KEY}\r\nPersona-Version: 2025-12-08\r\n"
            f"Accept: application/json\r\nContent-Length: {len(body)}\r\n"
        )
        if body:
            head += "Content-Type: application/json\r\n"
        self._writer.write(head.encode() + b"\r\n" + body)
        raw = await self._reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return status, await self._reader.readexactly(length)

    async def close(self) -> None:
        """Close the connection."""
        self._writer.close()
        await self._writer.wait_closed()


async def _run(
    host: str, port: int, jobs: Iterator[tuple[str, str, bytes]], concurrency: int
) -> tuple[float, Counter[int], list[bytes]]:
    statuses: Counter[int] = Counter()
    bodies: list[bytes] = []

    async def worker() -> None:
        connection = await Connection.open(host, port)
        try:
            for method, path, body in jobs:
                status, answer = await connection.request(method, path, body)
                statuses[status] += 1
                if method == "POST":
                    bodies.append(answer)
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, statuses, bodies


async def _bench(host: str, port: int, args: argparse.Namespace) -> None:
    creates = iter([("POST", "/api/v1/inquiries", CREATE_BODY)] * args.creates)
    elapsed, statuses, bodies = await _run(host, port, creates, args.concurrency)
    ids = [json.loads(body)["data"]["id"] for body in bodies]
    print(f"creates: {args.creates} in {elapsed:.2f} s = {args.creates / elapsed:,.0f} req/s")
    gets = iter(
        [("GET", f"/api/v1/inquiries/{ids[i % len(ids)]}", b"") for i in range(args.requests)]
    )
    elapsed, get_statuses, _ = await _run(host, port, gets, args.concurrency)
    statuses.update(get_statuses)
    print(
        f"GET /inquiries/{{id}}: {args.requests} in {elapsed:.2f} s = "
        f"{args.requests / elapsed:,.0f} req/s (concurrency {args.concurrency})"
    )
    print(f"statuses: {dict(sorted(statuses.items()))}")
    if set(statuses) != {200, 201}:
        raise SystemExit("unexpected statuses")


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print requests per second."""
    cli = argparse.ArgumentParser(prog="python -m bench.sandbox_load")
    cli.add_argument("--requests", type=int, default=5_000, help="GETs to send (default 5000)")
    cli.add_argument("--creates", type=int, default=200, help="inquiries to create first")
    cli.add_argument("--concurrency", type=int, default=32, help="connections (default 32)")
    args = cli.parse_args(argv)
    if not 0 < args.requests <= MAX_REQUESTS or not 0 < args.creates <= MAX_REQUESTS:
        cli.error(f"--requests and --creates must be between 1 and {MAX_REQUESTS}")
    asyncio.run(_serve_and_bench(args))


async def _serve_and_bench(args: argparse.Namespace) -> None:
    async with Stack.open(base={}) as stack:
        sandbox = await stack.start_sandbox("sandbox", "--rate-limit", "0", time_scale=1.0)
        served = urlsplit(sandbox.root_url)
        if served.hostname is None or served.port is None:
            raise SystemExit(f"persona-sandbox did not report its URL: {sandbox.root_url!r}")
        print(f"sandbox pid {sandbox.child.pid}: serving {sandbox.api_url}")
        await _bench(served.hostname, served.port, args)


if __name__ == "__main__":
    main()

"""`python -m bench.abuse`: the web process under slow and hostile clients, and /metrics at scale.

    python -m bench.abuse                       # 200 stalled bodies for 60 s, 20,000 in flight
    python -m bench.abuse --stallers 50 --seconds 20 --in-flight 2000     # a quick look

Everything runs on loopback: a private `redis-server` on a free port (never the Redis at
`REDIS_URL`) and the web process started with the Procfile's own `web` command (uvicorn and
its flags), stopped by its pid when the run ends. Two parts:

1. `/metrics` with `--in-flight` inquiries followed: the request ledger is filled through its
   own scripts, then `--scrapes` scrapes are timed and the Redis commands they cost are read
   from the server's `INFO commandstats` (nothing else talks to that Redis meanwhile).
2. The abuse: `--stallers` connections each declare a body of `WEBHOOK_MAX_BODY_BYTES` (or
   of `--partial-bytes` plus one), send all of it but the last byte and stall; when the server
   answers or hangs up, the connection comes back a second later, for `--seconds`. Meanwhile
   signed deliveries (terminal events of followed inquiries, each enqueueing a fetch) arrive at
   `--rate` a second. The web process's RSS is sampled every 0.25 s.

It prints a table with the targets (RSS under 150 MiB, every delivery answered 2xx, p99 under
1 s; at most 5 Redis commands and 10 ms per scrape) and writes the details to
`bench/results/<UTC timestamp>.json`; the exit status is 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shlex
import sys
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import httpx
from redis.asyncio import Redis

from bench.arguments import bounded
from bench.processes import ROOT, ChildProcess, console_script, ready
from bench.report import ScenarioResult, percentile, render_table, write_json
from bench.stack import Stack
from jobs.state.keys import KeySpace
from jobs.state.ledger import Ledger
from jobs.webhooks.signature import signature_header
from settings import Settings
from worker.embedded_redis import free_port

__all__ = ["AbuseOptions", "commands_served", "main", "procfile_web_argv", "run_abuse"]

SECRET: Final = "wbhsec_bench_abuse"
BASE: Final[Mapping[str, Any]] = {
    "persona_api_key": "persona_sandbox_bench0abuse",
    "persona_api_url": "http://127.0.0.1:9/api/v1",  # the web process never calls Persona
    "persona_webhook_secrets": SECRET,
}
RESULTS_DIR: Final = ROOT / "bench" / "results"
MIB: Final = 1024 * 1024
#: The targets.
MAX_RSS_MB: Final = 150.0
MAX_P99_S: Final = 1.0
MAX_SCRAPE_COMMANDS: Final = 5.0
MAX_SCRAPE_MS: Final = 10.0
#: Seeded inquiries per Redis round trip.
_SEED_CHUNK: Final = 500


@dataclass(frozen=True, slots=True)
class AbuseOptions:
    """The size of a run."""

    stallers: int = 200
    seconds: float = 60.0
    rate: float = 20.0
    """Signed deliveries a second during the abuse."""
    in_flight: int = 20_000
    scrapes: int = 20
    reconnect_s: float = 1.0
    """How long a staller waits before it comes back once the server let it go."""
    partial_bytes: int | None = None
    """What each staller sends of a body declared one byte longer; None: all but the last byte
    of the largest accepted body."""


def procfile_web_argv(procfile: Path, *, host: str, port: int) -> list[str]:
    """The Procfile's `web:` command, with this virtualenv's uvicorn, on `host:port`."""
    commands = dict(
        line.split(":", 1) for line in procfile.read_text().splitlines() if line.strip()
    )
    tokens = shlex.split(commands["web"])
    if tokens[0] != "uvicorn":
        raise ValueError(f"the Procfile's web command does not start uvicorn: {tokens[0]}")
    argv = [*console_script("uvicorn"), *tokens[1:]]
    for flag, value in (("--host", host), ("--port", str(port))):
        argv[argv.index(flag) + 1] = value
    return argv


async def commands_served(redis: Redis) -> int:
    """Commands the server has run so far, from `INFO commandstats`, without its `INFO`s."""
    stats = await redis.info("commandstats")
    return sum(int(entry["calls"]) for name, entry in stats.items() if name != "cmdstat_info")


async def _start_web(stack: Stack, settings: Settings) -> tuple[str, ChildProcess]:
    port = free_port()
    argv = procfile_web_argv(ROOT / "Procfile", host="127.0.0.1", port=port)
    child = stack.spawn("web", argv, stack.env(settings))
    root = f"http://127.0.0.1:{port}"

    async def answers() -> bool:
        try:
            async with httpx.AsyncClient(base_url=root, timeout=5.0) as client:
                return (await client.get("/readyz")).status_code == 200
        except httpx.HTTPError:
            return False

    await ready(child, answers, "/readyz")
    return root, child


async def _seed(settings: Settings, count: int) -> list[str]:
    """`count` inquiries followed through the ledger's scripts, as create jobs leave them."""
    redis: Redis = Redis.from_url(str(settings.redis_url), decode_responses=True)
    ledger = Ledger(
        redis,
        KeySpace(settings.key_prefix),
        stream=settings.results_stream,
        maxlen=settings.results_stream_maxlen,
        answered_ttl_s=settings.record_ttl_s,
    )
    now = time.time()

    async def one(index: int) -> str:
        request_id, inquiry_id = f"bench-{index}", f"inq_bench{index:08d}"
        await ledger.open(request_id, "create_inquiry", now, reference_id=f"person-{index}")
        await ledger.follow(
            inquiry_id,
            request_id,
            reference_id=f"person-{index}",
            status=("pending", "created", "needs_review")[index % 3],
            now=now,
            first_due=now + 36_000,
            creator=True,
        )
        return inquiry_id

    try:
        inquiries: list[str] = []
        for start in range(0, count, _SEED_CHUNK):
            chunk = range(start, min(start + _SEED_CHUNK, count))
            inquiries += await asyncio.gather(*(one(index) for index in chunk))
        return inquiries
    finally:
        await redis.aclose()


async def _measure_scrapes(root: str, redis_url: str, scrapes: int) -> dict[str, Any]:
    async with (
        Redis.from_url(redis_url) as admin,
        httpx.AsyncClient(base_url=root, timeout=30.0) as client,
    ):
        await client.get("/metrics")  # warm: connections, the scripts' first load
        before = await commands_served(admin)
        took: list[float] = []
        for _ in range(scrapes):
            started = time.perf_counter()
            response = await client.get("/metrics")
            took.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
        after = await commands_served(admin)
    return {"commands_per_scrape": (after - before) / scrapes, "ms": took}


def _event(event_id: str, inquiry_id: str) -> bytes:
    document = {
        "data": {
            "type": "event",
            "id": event_id,
            "attributes": {
                "name": "inquiry.approved",
                "created-at": "2025-12-02T14:47:06.000Z",
                "payload": {
                    "data": {
                        "type": "inquiry",
                        "id": inquiry_id,
                        "attributes": {"status": "approved"},
                    },
                    "included": [],
                },
            },
        }
    }
    return json.dumps(document).encode()


async def _stall(
    port: int, settings: Settings, options: AbuseOptions, until: float, outcomes: Counter[str]
) -> None:
    """Hold a connection with a body that never ends, again and again, until `until`."""
    largest = settings.webhook_max_body_bytes - 1
    sent = largest if options.partial_bytes is None else min(options.partial_bytes, largest)
    size = sent + 1  # declared: one byte more than is ever sent
    head = (
        "POST /webhooks/persona HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {size}\r\nPersona-Signature: t=1,v1={'0' * 64}\r\n\r\n"
    ).encode()
    partial = b"x" * sent
    while time.monotonic() < until:
        writer: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(max(until - time.monotonic(), 0.01)):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                outcomes["connections"] += 1
                writer.write(head)
                writer.write(partial)
                await writer.drain()
                line = await reader.readline()
            status = line.split(b" ")[1].decode() if line.startswith(b"HTTP/") else "closed"
            outcomes[f"answered {status}" if status != "closed" else "closed"] += 1
        except TimeoutError:
            outcomes["still held at the end"] += 1
        except OSError:
            outcomes["reset"] += 1
        finally:
            if writer is not None:
                writer.close()
        await asyncio.sleep(options.reconnect_s)


async def _deliver(
    client: httpx.AsyncClient, body: bytes, latencies: list[float], statuses: Counter[str]
) -> None:
    headers = {
        "content-type": "application/json",
        "persona-signature": signature_header([SECRET], int(time.time()), body),
    }
    started = time.perf_counter()
    try:
        response = await client.post("/webhooks/persona", content=body, headers=headers)
    except httpx.HTTPError as exc:
        statuses[type(exc).__name__] += 1
        return
    latencies.append(time.perf_counter() - started)
    statuses[str(response.status_code)] += 1


async def _sample_rss(child: ChildProcess, samples: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        samples.append(child.rss_bytes() / MIB)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.25)


async def _abuse(
    root: str, child: ChildProcess, settings: Settings, inquiries: list[str], options: AbuseOptions
) -> dict[str, Any]:
    port = int(root.rsplit(":", 1)[1])
    rss: list[float] = []
    stop = asyncio.Event()
    sampler = asyncio.create_task(_sample_rss(child, rss, stop))
    outcomes: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    rss_before = child.rss_bytes() / MIB
    started = time.monotonic()
    until = started + options.seconds
    stallers = [
        asyncio.create_task(_stall(port, settings, options, until, outcomes))
        for _ in range(options.stallers)
    ]
    deliveries: list[asyncio.Task[None]] = []
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=root, timeout=30.0, limits=limits) as client:
        index = 0
        while (due := started + index / options.rate) < until:
            await asyncio.sleep(max(due - time.monotonic(), 0))
            body = _event(f"evt_bench{index:08d}", inquiries[index % len(inquiries)])
            deliveries.append(asyncio.create_task(_deliver(client, body, latencies, statuses)))
            index += 1
        await asyncio.gather(*deliveries)
    await asyncio.gather(*stallers)
    stop.set()
    await sampler
    return {
        "rss_before_mb": rss_before,
        "rss_peak_mb": max(rss, default=rss_before),
        "rss_end_mb": child.rss_bytes() / MIB,
        "rss_mb": [round(sample, 1) for sample in rss],
        "deliveries": len(deliveries),
        "statuses": dict(statuses),
        "latencies_s": latencies,
        "stallers": dict(outcomes),
    }


async def run_abuse(options: AbuseOptions) -> ScenarioResult:
    """Run both parts; the figures, judged against their targets."""
    result = ScenarioResult("abuse", "web process under abuse")
    begun = time.monotonic()
    async with Stack.open(base=BASE) as stack:
        server = await stack.start_redis()
        settings = stack.settings(server.url)
        root, child = await _start_web(stack, settings)
        inquiries = await _seed(settings, options.in_flight)
        scraped = await _measure_scrapes(root, server.url, options.scrapes)
        abused = await _abuse(root, child, settings, inquiries, options)
    answered = sum(count for status, count in abused["statuses"].items() if status[0] == "2")
    share = answered / abused["deliveries"] if abused["deliveries"] else float("nan")
    result.add("web RSS before", abused["rss_before_mb"], "MiB")
    result.add("web RSS peak", abused["rss_peak_mb"], "MiB", at_most=MAX_RSS_MB)
    result.add("deliveries sent", abused["deliveries"], digits=0)
    result.add("deliveries answered 2xx", share * 100, "%", at_least=100.0)
    result.add("delivery p50", percentile(abused["latencies_s"], 0.5), "s", digits=3)
    p99 = percentile(abused["latencies_s"], 0.99)
    result.add("delivery p99", p99, "s", at_most=MAX_P99_S, digits=3)
    result.add("staller connections", abused["stallers"].get("connections", 0), digits=0)
    commands = scraped["commands_per_scrape"]
    result.add(
        f"Redis commands per scrape ({options.in_flight:,} in flight)",
        commands,
        at_most=MAX_SCRAPE_COMMANDS,
        digits=1,
    )
    result.add("ms per scrape (p50)", percentile(scraped["ms"], 0.5), "ms", at_most=MAX_SCRAPE_MS)
    result.add("ms per scrape (max)", max(scraped["ms"]), "ms")
    result.details = {
        "options": asdict(options),
        "statuses": abused["statuses"],
        "stallers": abused["stallers"],
        "rss_end_mb": abused["rss_end_mb"],
        "rss_mb_every_quarter_second": abused["rss_mb"],
        "scrape_ms": scraped["ms"],
    }
    result.wall_s = time.monotonic() - begun
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.abuse", description="The web process under slow and hostile clients."
    )
    add = parser.add_argument
    add("--stallers", type=bounded(1, 2_000, int), default=200, help="stalled connections")
    add("--seconds", type=bounded(1, 600, float), default=60.0, help="length of the abuse")
    add("--rate", type=bounded(0.1, 500, float), default=20.0, help="deliveries a second")
    add("--in-flight", type=bounded(1, 200_000, int), default=20_000, help="followed inquiries")
    add("--scrapes", type=bounded(1, 1_000, int), default=20, help="timed /metrics scrapes")
    add(
        "--partial-bytes",
        type=bounded(1, 1 << 30, int),
        default=None,
        help="what each staller sends of a body declared one byte longer (default: the largest)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when every target is met."""
    arguments = _parser().parse_args(argv)
    options = AbuseOptions(
        stallers=arguments.stallers,
        seconds=arguments.seconds,
        rate=arguments.rate,
        in_flight=arguments.in_flight,
        scrapes=arguments.scrapes,
        partial_bytes=arguments.partial_bytes,
    )
    started = time.monotonic()
    result = asyncio.run(run_abuse(options))
    print(render_table([result]))
    command = shlex.join(
        ["python", "-m", "bench.abuse", *(argv if argv is not None else sys.argv[1:])]
    )
    path = write_json([result], RESULTS_DIR, command=command, wall_s=time.monotonic() - started)
    print(f"details: {path}")
    return 0 if all(figure.met is not False for figure in result.figures) else 1


if __name__ == "__main__":
    raise SystemExit(main())

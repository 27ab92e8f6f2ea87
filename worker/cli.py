"""`persona-worker`: enqueue jobs, see what is in flight, read results, run the demo.

Every command reads the same settings as the worker (environment and `.env`), so it talks to
the same Redis, queue and results stream. `--json` prints machine-readable output.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis

from jobs.errors import ConfigError, JobArgumentsError
from jobs.producer import connect, enqueue_create, enqueue_poll
from settings import Settings, load_settings
from worker.inspect import inquiry_record, overview, read_results

__all__ = ["main"]


def _parse_fields(pairs: Sequence[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise JobArgumentsError(f"--field expects NAME=VALUE, got {pair.split('=')[0]!r}")
        fields[name] = value
    return fields


async def _enqueue(settings: Settings, options: argparse.Namespace) -> int:
    pool = await connect(str(settings.redis_url), queue_name=settings.queue_name)
    try:
        if options.kind == "create":
            job = await enqueue_create(
                pool,
                reference_id=options.reference_id,
                template_id=options.template_id,
                fields=_parse_fields(options.field) or None,
                note=options.note,
                job_id=options.job_id,
            )
        else:
            job = await enqueue_poll(pool, options.inquiry_id, job_id=options.job_id)
    finally:
        await pool.aclose()
    if job is None:
        print(f"job {options.job_id} already exists; nothing enqueued", file=sys.stderr)
        return 1
    print(json.dumps({"job_id": job.job_id}) if options.json else f"enqueued {job.job_id}")
    return 0


def _age(since: float | None) -> str:
    if since is None:
        return "-"
    seconds = int(time.time() - since)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds}s"


async def _status(settings: Settings, options: argparse.Namespace) -> int:
    redis: Redis = Redis.from_url(str(settings.redis_url), decode_responses=True)
    try:
        if options.inquiry_id:
            record = await inquiry_record(
                redis, options.inquiry_id, record_ttl_s=settings.record_ttl_s
            )
            if record is None:
                print(f"{options.inquiry_id} is not followed", file=sys.stderr)
                return 1
            fields = {name: getattr(record, name) for name in record.__slots__}
            if options.json:
                print(json.dumps(fields))
            else:
                for name, value in fields.items():
                    print(f"{name:>15}  {value}")
            return 0
        view = await overview(redis, queue_name=settings.queue_name, stream=settings.results_stream)
    finally:
        await redis.aclose()
    if options.json:
        print(json.dumps(view.to_json()))
        return 0
    print(f"in flight      {view.in_flight}  (oldest {_age(view.oldest_followed_since)})")
    for status, count in view.by_status.items():
        print(f"  {status:<13}{count}")
    print(f"creating       {view.creating}")
    print(f"queued jobs    {view.queued_jobs}")
    print(f"results        {view.results}")
    return 0


async def _results(settings: Settings, options: argparse.Namespace) -> int:
    redis: Redis = Redis.from_url(str(settings.redis_url), decode_responses=True)
    shown = 0
    try:
        async for event in read_results(
            redis, settings.results_stream, after=options.after, follow=options.follow
        ):
            if options.event and event.event != options.event:
                continue
            if options.inquiry and event.inquiry_id != options.inquiry:
                continue
            if options.json:
                print(json.dumps(event.to_json()), flush=True)
            else:
                data = event.data
                print(
                    f"{event.entry_id:<17} {event.event:<26} {event.inquiry_id or '-':<34} "
                    f"{data.get('status') or data.get('error', {}).get('type', '')}",
                    flush=True,
                )
            shown += 1
            if options.count and shown >= options.count:
                break
    finally:
        await redis.aclose()
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="persona-worker", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    enqueue = commands.add_parser("enqueue", help="enqueue a job")
    kinds = enqueue.add_subparsers(dest="kind", required=True)
    create = kinds.add_parser("create", help="create an inquiry for a person")
    create.add_argument("--reference-id", required=True, help="your id for the person")
    create.add_argument("--template-id", help="itmpl_/itmplv_/tmpl_ id (default: the setting)")
    create.add_argument("--field", action="append", default=[], metavar="NAME=VALUE")
    create.add_argument("--note")
    create.add_argument("--job-id", help="dedupe key: a second enqueue with it does nothing")
    create.add_argument("--json", action="store_true")
    poll = kinds.add_parser("poll", help="follow an inquiry created elsewhere")
    poll.add_argument("inquiry_id")
    poll.add_argument("--job-id")
    poll.add_argument("--json", action="store_true")

    status = commands.add_parser("status", help="in-flight counts, or one inquiry's record")
    status.add_argument("inquiry_id", nargs="?")
    status.add_argument("--json", action="store_true")

    results = commands.add_parser("results", help="read the results stream")
    results.add_argument("--follow", action="store_true", help="wait for new results")
    results.add_argument("--after", default="0-0", help="stream id to start after")
    results.add_argument("--event", help="only this event name, e.g. inquiry.approved")
    results.add_argument("--inquiry", help="only this inquiry id")
    results.add_argument("--count", type=int, default=0, help="stop after N results")
    results.add_argument("--json", action="store_true")

    demo = commands.add_parser("demo", help="run the whole pipeline locally, no account needed")
    demo.add_argument("--count", type=int, default=20, help="inquiries to create")
    demo.add_argument("--seed", type=int, default=7, help="seed of the outcome mix")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `persona-worker`."""
    options = _parser().parse_args(argv)
    try:
        if options.command == "demo":
            from worker.demo import run_demo

            return asyncio.run(run_demo(count=options.count, seed=options.seed))
        settings = load_settings()
        runner: dict[str, Any] = {"enqueue": _enqueue, "status": _status, "results": _results}
        return int(asyncio.run(runner[options.command](settings, options)))
    except (ConfigError, JobArgumentsError) as exc:
        print(f"persona-worker: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())

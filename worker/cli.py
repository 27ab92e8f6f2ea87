"""`persona-worker`: enqueue jobs, see what is in flight, inspect one inquiry, read results.

Every command reads the same settings as the worker (environment and `.env`), so it talks to
the same Redis, queue and results stream. Every command takes `--json` and then prints only
machine-readable JSON on stdout (one document, or one line per result); tables, progress and
logs go elsewhere (progress and logs to stderr), so scripts can pipe stdout safely.

    persona-worker status                  counts per status, oldest in flight, open requests,
                                           queue, errors
    persona-worker inquiry show INQ_ID     one inquiry's record, waiting requests and events
    persona-worker results --follow        print results as they are published (with filters)
    persona-worker enqueue create ...      enqueue a job (also `enqueue poll INQ_ID`,
                                           `enqueue report TYPE`)
    persona-worker webhooks create ...     subscribe the receiver to Persona's inquiry events
                                           (also `webhooks rotate-secret ID`, `webhooks list`)
    persona-worker demo                    the whole pipeline locally, no account needed
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from jobs.errors import ConfigError, JobArgumentsError
from jobs.producer import connect, enqueue_create, enqueue_poll, enqueue_report
from jobs.reports.queries import REPORT_TYPES
from jobs.state.connections import RedisTimeouts, redis_client
from jobs.state.keys import KeySpace
from jobs.state.ledger import InquiryRecord
from jobs.state.results import ResultEvent, follow
from settings import Settings, load_settings
from worker.cli_webhooks import CommandError, add_webhooks_parser, print_error, run_webhooks
from worker.logs import configure_logging
from worker.state_views import InquiryView, Overview, inquiry_view, overview

__all__ = ["main"]

#: Below this many items a read is quick enough to need no progress line.
_PROGRESS_FROM: Final = 2_000


class _Progress:
    """A one-line `label done/total` on stderr while a long read runs, when stderr is a TTY.

    Redirected or captured stderr (scripts, CI) gets nothing, so machine consumers never have
    to strip carriage returns out of it.
    """

    def __init__(self, label: str) -> None:
        self._label = label
        self._enabled = sys.stderr.isatty()
        self._width = 0

    def __call__(self, done: int, total: int) -> None:
        if not self._enabled or total < _PROGRESS_FROM:
            return
        line = f"{self._label} {done}/{total}"
        self._width = max(self._width, len(line))
        sys.stderr.write(f"\r{line}")
        sys.stderr.flush()

    def finish(self) -> None:
        """Erase the progress line, if one was shown."""
        if self._width:
            sys.stderr.write("\r" + " " * self._width + "\r")
            sys.stderr.flush()
            self._width = 0


def _parse_pairs(option: str, pairs: Sequence[str]) -> dict[str, str]:
    """`NAME=VALUE` options as a mapping; a malformed one names the option, never its value."""
    parsed: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise JobArgumentsError(f"{option} expects NAME=VALUE, got {pair.split('=')[0]!r}")
        parsed[name] = value
    return parsed


def _redis(settings: Settings) -> Redis:
    return redis_client(str(settings.redis_url), RedisTimeouts.from_settings(settings))


@contextlib.asynccontextmanager
async def _reading(settings: Settings, label: str) -> AsyncIterator[tuple[Redis, _Progress]]:
    """A client for one long read and its progress line; both are cleaned up afterwards."""
    redis = _redis(settings)
    progress = _Progress(label)
    try:
        yield redis, progress
    finally:
        progress.finish()
        await redis.aclose()


async def _enqueue(settings: Settings, options: argparse.Namespace) -> int:
    pool = await connect(
        str(settings.redis_url),
        queue_name=settings.queue_name,
        timeouts=RedisTimeouts.from_settings(settings),
    )
    try:
        if options.kind == "create":
            job = await enqueue_create(
                pool,
                reference_id=options.reference_id,
                template_id=options.template_id,
                fields=_parse_pairs("--field", options.field) or None,
                account_id=options.account_id,
                note=options.note,
                tags=options.tag or None,
                redirect_uri=options.redirect_uri,
                reports=options.report or None,
                job_id=options.job_id,
            )
        elif options.kind == "report":
            job = await enqueue_report(
                pool,
                report_type=options.report_type,
                query=_parse_pairs("--query", options.query),
                reference_id=options.reference_id,
                account_id=options.account_id,
                report_template_id=options.report_template_id,
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


def _age(since: float | None, now: float | None = None) -> str:
    if since is None:
        return "-"
    seconds = max(int((now or time.time()) - since), 0)
    if seconds >= 86_400:
        return f"{seconds // 86_400}d{seconds % 86_400 // 3600:02d}h"
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


def _when(at: float | None) -> str:
    if at is None:
        return "-"
    moment = datetime.fromtimestamp(at, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    now = time.time()
    if at > now:
        return f"{moment} (in {_age(now, at)})"
    return f"{moment} ({_age(at, now)} ago)"


def _mode_line(view: Overview) -> str:
    polling = view.polling
    since = f" for {_age(polling.since)}" if polling.since is not None else ""
    reason = f" ({polling.reason})" if polling.reason else ""
    return f"{'polling':<16}{polling.mode.value:>8}{since}{reason}"


def _overview_table(view: Overview) -> str:
    oldest = (
        f"   oldest {_age(view.oldest_followed_since)} ({view.oldest_inquiry_id})"
        if view.oldest_inquiry_id
        else ""
    )
    scheduled = view.queued_jobs - view.queued_ready
    lines = [
        f"{'in flight':<16}{view.in_flight:>8}{oldest}",
        f"{'open requests':<16}{view.open_requests:>8}   waiting for their answer",
        f"{'queue':<16}{view.queued_jobs:>8}   ({view.queued_ready} ready, {scheduled} scheduled)",
        f"{'results':<16}{view.results:>8}   events on the stream",
        _mode_line(view),
        "",
        f"{'status':<16}{'count':>8}",
    ]
    lines += [f"{status:<16}{count:>8}" for status, count in view.by_status.items()]
    if not view.by_status:
        lines.append(f"{'(none)':<16}{0:>8}")
    lines.append("")
    if not view.last_errors:
        lines.append("last errors     none")
        return "\n".join(lines)
    width = max(len("inquiry"), *(len(row.inquiry_id) for row in view.last_errors)) + 2
    lines.append("last errors")
    lines.append(f"{'inquiry':<{width}}{'status':<14}{'error':<24}when")
    lines += [
        f"{row.inquiry_id:<{width}}{row.status:<14}{row.error:<24}{_age(row.at)} ago"
        for row in view.last_errors
    ]
    return "\n".join(lines)


def _record_lines(view: InquiryView, record: InquiryRecord) -> list[str]:
    next_check = _when(view.next_check) if view.next_check is not None else "- (not followed)"
    lines = [
        f"{'status':<14}{record.status or '-'}",
        f"{'reference':<14}{record.reference_id or '-'}",
        f"{'creator':<14}{record.creator or '-'}",
        f"{'checks':<14}{record.polls} (round {record.round})",
        f"{'followed':<14}{_when(record.followed_since)}",
        f"{'updated':<14}{_when(record.updated_at)}",
        f"{'next check':<14}{next_check}",
        f"{'deadline':<14}{_when(record.deadline)}",
        f"{'last error':<14}{record.last_error or '-'}",
        f"{'done':<14}{'yes' if record.done else 'no'}",
        f"{'last event':<14}{record.event or '-'}",
        "",
        f"waiting ({len(record.followers)})",
    ]
    width = max((len(request_id) for request_id in record.followers), default=0) + 2
    lines += [
        f"  {request_id:<{width}}{reference or '-'}"
        for request_id, reference in sorted(record.followers.items())
    ]
    return lines


def _inquiry_table(view: InquiryView) -> str:
    lines = [f"{'inquiry':<14}{view.inquiry_id}"]
    if view.record is None:
        lines.append(f"{'record':<14}none (never followed here, or expired)")
    else:
        lines += _record_lines(view, view.record)
    lines += ["", f"events ({len(view.events)})"]
    lines += [f"  {_result_line(event)}" for event in view.events]
    return "\n".join(lines)


def _result_line(event: ResultEvent) -> str:
    data = event.data
    detail = data.get("status") or data.get("error", {}).get("type", "")
    return f"{event.entry_id:<17} {event.event:<26} {event.inquiry_id or '-':<34} {detail}"


async def _show_inquiry(settings: Settings, inquiry_id: str, as_json: bool) -> int:
    async with _reading(settings, "reading results stream") as (redis, progress):
        view = await inquiry_view(
            redis,
            KeySpace(settings.key_prefix),
            inquiry_id,
            stream=settings.results_stream,
            progress=progress,
        )
    if view.record is None and not view.events:
        print(f"{inquiry_id} is not followed and has no events", file=sys.stderr)
        return 1
    print(json.dumps(view.to_json()) if as_json else _inquiry_table(view))
    return 0


async def _status(settings: Settings, options: argparse.Namespace) -> int:
    if options.inquiry_id:
        # The older spelling of `inquiry show`, kept for scripts that use it.
        return await _show_inquiry(settings, options.inquiry_id, options.json)
    async with _reading(settings, "reading in-flight records") as (redis, progress):
        view = await overview(
            redis,
            KeySpace(settings.key_prefix),
            queue_name=settings.queue_name,
            stream=settings.results_stream,
            progress=progress,
        )
    print(json.dumps(view.to_json()) if options.json else _overview_table(view))
    return 0


async def _inquiry(settings: Settings, options: argparse.Namespace) -> int:
    return await _show_inquiry(settings, options.inquiry_id, options.json)


def _wanted(event: ResultEvent, options: argparse.Namespace) -> bool:
    if options.event and event.event not in options.event:
        return False
    if options.inquiry and event.inquiry_id != options.inquiry:
        return False
    return not (options.reference and event.data.get("reference_id") != options.reference)


async def _results(settings: Settings, options: argparse.Namespace) -> int:
    redis = _redis(settings)
    shown = 0
    try:
        async for event in follow(
            redis, settings.results_stream, after=options.after, wait=options.follow
        ):
            if not _wanted(event, options):
                continue
            print(json.dumps(event.to_json()) if options.json else _result_line(event), flush=True)
            shown += 1
            if options.count and shown >= options.count:
                break
    finally:
        await redis.aclose()
    return 0


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")
    parser = argparse.ArgumentParser(
        prog="persona-worker",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    enqueue = commands.add_parser("enqueue", help="enqueue a job")
    kinds = enqueue.add_subparsers(dest="kind", required=True)
    create = kinds.add_parser("create", parents=[common], help="create an inquiry for a person")
    create.add_argument("--reference-id", required=True, help="your id for the person")
    create.add_argument("--template-id", help="itmpl_/itmplv_/tmpl_ id (default: the setting)")
    create.add_argument("--field", action="append", default=[], metavar="NAME=VALUE")
    create.add_argument("--account-id", help="act_ id of the person's account at Persona")
    create.add_argument("--note")
    create.add_argument("--tag", action="append", default=[], help="a tag (repeat for more)")
    create.add_argument("--redirect-uri", help="where Persona sends the person afterwards")
    create.add_argument(
        "--report",
        action="append",
        default=[],
        choices=REPORT_TYPES,
        help="screen the person once approved (repeat for more)",
    )
    create.add_argument("--job-id", help="dedupe key: a second enqueue with it does nothing")
    report = kinds.add_parser("report", parents=[common], help="run one report about a person")
    report.add_argument("report_type", choices=REPORT_TYPES)
    report.add_argument(
        "--query",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a query key of the report type, e.g. name-last=Doe (repeat for more)",
    )
    person = report.add_mutually_exclusive_group(required=True)
    person.add_argument("--reference-id", help="your id for the person (their account)")
    person.add_argument("--account-id", help="act_ id of the person's account at Persona")
    report.add_argument("--report-template-id", help="rptp_ id (default: Persona's)")
    report.add_argument("--job-id", help="dedupe key: a second enqueue with it does nothing")
    poll = kinds.add_parser("poll", parents=[common], help="follow an inquiry created elsewhere")
    poll.add_argument("inquiry_id")
    poll.add_argument("--job-id")

    status = commands.add_parser(
        "status",
        parents=[common],
        help="counts per status, oldest in flight, open requests, queue depth, last errors",
    )
    status.add_argument(
        "inquiry_id", nargs="?", help="show one inquiry instead (same as `inquiry show`)"
    )

    inquiry = commands.add_parser("inquiry", help="look at one inquiry")
    inquiry_commands = inquiry.add_subparsers(dest="inquiry_command", required=True)
    show = inquiry_commands.add_parser(
        "show", parents=[common], help="one inquiry's record, waiting requests and events"
    )
    show.add_argument("inquiry_id")

    results = commands.add_parser("results", parents=[common], help="read the results stream")
    results.add_argument("--follow", action="store_true", help="wait for new results")
    results.add_argument("--after", default="0-0", help="stream id to start after ($: only new)")
    results.add_argument(
        "--event", action="append", help="only this event name (repeatable), e.g. inquiry.approved"
    )
    results.add_argument("--inquiry", help="only this inquiry id")
    results.add_argument("--reference", help="only this reference id")
    results.add_argument("--count", type=int, default=0, help="stop after N results")

    add_webhooks_parser(commands, common)

    demo = commands.add_parser(
        "demo", parents=[common], help="run the whole pipeline locally, no account needed"
    )
    demo.add_argument("--count", type=int, default=20, help="inquiries to create")
    demo.add_argument("--seed", type=int, default=7, help="seed of the outcome mix")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `persona-worker`."""
    options = _parser().parse_args(argv)
    try:
        if options.command == "demo":
            from worker.demo import run_demo

            return asyncio.run(
                run_demo(count=options.count, seed=options.seed, json_output=options.json)
            )
        settings = load_settings()
        configure_logging(settings)
        runner: dict[str, Any] = {
            "enqueue": _enqueue,
            "status": _status,
            "inquiry": _inquiry,
            "results": _results,
            "webhooks": run_webhooks,
        }
        return int(asyncio.run(runner[options.command](settings, options)))
    except CommandError as exc:
        return print_error(exc)
    except (ConfigError, JobArgumentsError) as exc:
        print(f"persona-worker: {exc}", file=sys.stderr)
        return 2
    except (RedisConnectionError, RedisTimeoutError) as exc:
        # Name the variable to fix, never the URL (it may carry a password).
        from worker.run import redis_location

        where = redis_location(load_settings())
        print(f"persona-worker: REDIS_URL: cannot reach Redis at {where} ({exc})", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())

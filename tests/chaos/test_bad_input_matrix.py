"""Bad input, as a matrix: job arguments, raw queue payloads, webhook requests, configuration.

Each row gets a clear error and costs nothing else: a request ends in one `job.failed` naming
what is wrong (never echoing the value), also one whose payload is not a JSON job; a job arq
cannot run at all (an unknown function, a job key that vanished, arguments that are not an
object) fails in arq with the reason in its result, since it never became a request; the worker
process stays up and the well-formed requests enqueued beside the bad ones all end normally;
bad configuration stops the process at start with a non-zero status and a message naming the
variable. The production-key worker beside the test's is a deployment of its own
(`KEY_PREFIX`), answering to the same results stream.

What is already covered elsewhere is not repeated here:

- job arguments: tests/pipeline/test_failures.py (missing or non-string `reference_id`, an
  unknown key, a bad template id, a huge field value, `tags` not a list, positional
  arguments, a wrong API key, a refused template);
- webhook requests: the 25-row table of tests/worker/test_web.py
  (`test_bad_requests_are_refused_and_change_nothing`: missing, empty, malformed and wrong
  signatures, tampered bodies, content types, oversized and non-JSON bodies, non-events,
  hostile ids), plus its event for an inquiry nobody follows; slow, stalled and disconnecting
  senders and floods of requests: tests/worker/test_web_abuse.py;
- configuration values, in-process: tests/test_settings.py (each variable's validation).

This file adds the rows below, against real processes where a process is what fails.
"""

from __future__ import annotations

import asyncio
import json
import pickle
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from bench.processes import RUN_WORKER, child_environment, console_script
from bench.stack import Stack
from jobs.context import persona_client
from jobs.persona.errors import ClientSetupError
from jobs.producer import connect, enqueue_create
from jobs.state.keys import (
    ARQ_IN_PROGRESS_PREFIX,
    ARQ_JOB_PREFIX,
    ARQ_RESULT_PREFIX,
    KeySpace,
    is_cron_job_id,
)
from jobs.state.results import ResultEvent
from jobs.webhooks.signature import signature_header
from persona_sandbox import SandboxConfig, run_sandbox
from settings import Settings, load_settings
from tests.chaos.conftest import QUEUE, STREAM, results, wait_for
from tests.conftest import PROCESS_SETTINGS, TEST_API_KEY, TEST_WEBHOOK_SECRET
from tests.harness import wire_job
from worker.embedded_redis import RedisServer, free_port
from worker.web import create_app

pytestmark = [pytest.mark.slow, pytest.mark.redis]

PROD_QUEUE = "persona:prod-queue"
#: The keys of the test's deployment, and of the production-key one beside it on the same Redis:
#: a deployment of its own (its ledger, due set and polling tick), answering to the same stream.
KEYS = KeySpace()
PROD_KEYS = KeySpace("persona-prod:")
PRODUCTION_KEY = "persona_production_matrix0key0never0shown"
GOOD = [f"good-{index}" for index in range(3)]
#: A marker that must never come back in an error message.
SECRET_VALUE = "s3cr3t-pii-value"
UNKNOWN = ("inq_NoSuchInquiry0000000000", "inq_NoSuchInquiry0000000001")


# --- part 1: job arguments and raw queue payloads, one worker process for every row ---------


@dataclass(frozen=True)
class JobRow:
    """One bad job and what must come of it."""

    job_id: str
    payload: bytes | None
    """The raw `arq:job:` value; None writes only the queue entry (a job key that vanished)."""
    error: str
    """`job.failed` error type, or the arq failure (`arq:...`) when no request exists."""
    complaint: str
    """A substring of the error message."""
    inquiry: str | None = None
    """An inquiry id the row names, whose Persona calls are counted."""
    calls: int = 0
    """Persona calls made for `inquiry` (an unknown one costs the one read that says so)."""


class _Canary:
    """Unpickling this creates a file: proof the worker never unpickles what it reads."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (str(self.path), "w"))


def _wire(function: str, kwargs: Any) -> bytes:
    """A job in the documented JSON wire format, as a foreign producer writes it."""
    return wire_job(function, kwargs).encode()


def _create(**kwargs: Any) -> bytes:
    return _wire("create_inquiry", {"reference_id": "person-x", **kwargs})


def _job_rows(canary: Path) -> list[JobRow]:
    nan_fields = _wire(
        "create_inquiry", {"reference_id": "person-x", "fields": {"x": float("nan")}}
    )
    pickled = pickle.dumps(
        {"t": 1, "f": "create_inquiry", "a": [], "k": {"reference_id": _Canary(canary)}, "et": 0}
    )
    arguments = "JobArgumentsError"
    return [
        JobRow(
            "reference-empty",
            _wire("create_inquiry", {"reference_id": ""}),
            arguments,
            "reference_id",
        ),
        JobRow(
            "reference-too-long",
            _wire("create_inquiry", {"reference_id": "r" * 300}),
            arguments,
            "reference_id",
        ),
        JobRow(
            "reference-one-megabyte",
            _wire("create_inquiry", {"reference_id": "r" * 1_000_000}),
            arguments,
            "reference_id",
        ),
        JobRow(
            "reference-control-chars",
            _wire("create_inquiry", {"reference_id": "a\nb"}),
            arguments,
            "reference_id",
        ),
        JobRow(
            "reference-padded",
            _wire("create_inquiry", {"reference_id": " a "}),
            arguments,
            "reference_id",
        ),
        JobRow(
            "reference-null",
            _wire("create_inquiry", {"reference_id": None}),
            arguments,
            "reference_id",
        ),
        JobRow("template-number", _create(template_id=123), arguments, "template_id"),
        JobRow("fields-list", _create(fields=[SECRET_VALUE]), arguments, "fields"),
        JobRow(
            "fields-too-many",
            _create(fields={f"f{i}": "x" for i in range(51)}),
            arguments,
            "fields",
        ),
        JobRow("fields-bad-name", _create(fields={"a/b": SECRET_VALUE}), arguments, "fields"),
        JobRow("fields-nested", _create(fields={"x": {"y": SECRET_VALUE}}), arguments, "fields"),
        JobRow("fields-nan", nan_fields, arguments, "fields"),
        JobRow("tags-too-many", _create(tags=[f"t{i}" for i in range(21)]), arguments, "tags"),
        JobRow("tags-numbers", _create(tags=[1, 2]), arguments, "tags"),
        JobRow(
            "redirect-javascript",
            _create(redirect_uri="javascript:alert(1)"),
            arguments,
            "redirect_uri",
        ),
        JobRow("note-too-long", _create(note="n" * 2_001), arguments, "note"),
        JobRow("account-path", _create(account_id="../acct"), arguments, "account_id"),
        JobRow("poll-missing", _wire("poll_inquiry", {}), arguments, "inquiry_id"),
        JobRow("poll-number", _wire("poll_inquiry", {"inquiry_id": 42}), arguments, "inquiry_id"),
        JobRow(
            "poll-path",
            _wire("poll_inquiry", {"inquiry_id": "inq_1/../../x"}),
            arguments,
            "inquiry_id",
        ),
        JobRow(
            "poll-huge",
            _wire("poll_inquiry", {"inquiry_id": "i" * 100_000}),
            arguments,
            "inquiry_id",
        ),
        JobRow(
            "poll-unknown",
            _wire("poll_inquiry", {"inquiry_id": UNKNOWN[0]}),
            "NotFoundError",
            "",
            UNKNOWN[0],
            1,
        ),
        JobRow("fetch-missing", _wire("fetch_verification", {}), arguments, "inquiry_id"),
        JobRow(
            "fetch-extra",
            _wire("fetch_verification", {"inquiry_id": "inq_1", "force": True}),
            arguments,
            "force",
        ),
        JobRow(
            "fetch-unknown",
            _wire("fetch_verification", {"inquiry_id": UNKNOWN[1]}),
            "NotFoundError",
            "",
            UNKNOWN[1],
            1,
        ),
        JobRow(
            "unknown-job-name",
            _wire("create_inquiries", {"reference_id": "p"}),
            "arq:JobExecutionFailed",
            "not found",
        ),
        JobRow(
            "kwargs-not-object", _wire("create_inquiry", ["person-x"]), "arq:AttributeError", ""
        ),
        # Not a JSON job: read as one that answers its request (`jobs.pipeline.unreadable`).
        JobRow("payload-not-json", b"\x00\xffnot json at all", arguments, "is not JSON"),
        JobRow("payload-pickle", pickled, arguments, "is not JSON"),
        JobRow("payload-json-array", b"[1, 2, 3]", arguments, "naming its function"),
        JobRow("payload-missing-fields", b'{"t": 1}', arguments, "naming its function"),
        JobRow("job-key-vanished", None, "arq:JobExecutionFailed", "job expired"),
    ]


#: Stands in for the well-formed requests when looking rows up.
GOOD_ROW = JobRow("good", None, "", "")


@dataclass
class MatrixRun:
    """What one worker process made of every row (collected once, checked per row)."""

    rows: dict[str, JobRow]
    events: list[ResultEvent]
    arq_results: dict[str, Any]
    leftovers: dict[str, bool]
    inquiry_calls: dict[str, int]
    creates: int
    created: list[str]
    worker_alive: bool
    production_worker_alive: bool
    canary: Path
    logs: str = field(repr=False, default="")


def _events_for(run: MatrixRun, job_id: str) -> list[ResultEvent]:
    return [event for event in run.events if event.answers(job_id)]


async def _write(client: Redis, row: JobRow) -> None:
    now_ms = int(time.time() * 1000)
    if row.payload is not None:
        await client.set(ARQ_JOB_PREFIX + row.job_id, row.payload, px=86_400_000)
    await client.zadd(QUEUE, {row.job_id: now_ms})


async def _idle(client: Redis, queue: str) -> bool:
    """Whether no job but the workers' crons is queued on `queue` or running anywhere."""
    if any(not is_cron_job_id(job) for job in await client.zrange(queue, 0, -1)):
        return False
    async for key in client.scan_iter(match=ARQ_IN_PROGRESS_PREFIX + "*", count=1_000):
        if not is_cron_job_id(key.removeprefix(ARQ_IN_PROGRESS_PREFIX)):
            return False
    return True


async def _matrix(workdir: Path) -> MatrixRun:
    canary = workdir / "unpickled"
    rows = {row.job_id: row for row in _job_rows(canary)}
    async with Stack.open(base=PROCESS_SETTINGS, workdir=workdir) as stack:
        server = await stack.start_redis()
        client: Redis = Redis.from_url(server.url, decode_responses=True)
        try:
            return await _run_matrix(stack, server, client, rows, canary)
        finally:
            await client.aclose()


async def _run_matrix(
    stack: Stack, server: RedisServer, client: Redis, rows: dict[str, JobRow], canary: Path
) -> MatrixRun:
    """Every row and the good requests through a worker, and a production-key worker beside."""
    config = SandboxConfig(api_key=TEST_API_KEY, rate_limit_per_minute=0, time_scale=600)
    async with run_sandbox(config) as sandbox:
        worker = stack.spawn_worker(stack.settings(server.url, persona_api_url=sandbox.url))
        production = stack.spawn_worker(
            stack.settings(
                server.url,
                persona_api_url=sandbox.url,
                persona_api_key=PRODUCTION_KEY,
                queue_name=PROD_QUEUE,
                key_prefix=PROD_KEYS.prefix,
                results_stream=STREAM,
            )
        )
        for row in rows.values():
            await _write(client, row)
        for queue, job_ids in ((QUEUE, GOOD), (PROD_QUEUE, ["production-1"])):
            pool = await connect(server.url, queue_name=queue)
            try:
                for job_id in job_ids:
                    await enqueue_create(
                        pool,
                        reference_id=f"{job_id}-person",
                        note="sandbox-outcome=completed sandbox-after=30",
                        job_id=job_id,
                    )
            finally:
                await pool.aclose()

        missing: list[str] = []

        async def settled() -> bool:
            events = await results(client)
            missing[:] = [
                f"no event for {job}"
                for job in [*GOOD, "production-1", *rows]
                if not any(event.answers(job) for event in events)
                and not rows.get(job, GOOD_ROW).error.startswith("arq:")
            ]
            for job, row in rows.items():
                stored = await client.exists(ARQ_RESULT_PREFIX + job)
                if row.error.startswith("arq:") and not stored:
                    missing.append(f"no arq result for {job}")
            if not await _idle(client, QUEUE) or not await _idle(client, PROD_QUEUE):
                missing.append("jobs still queued or running")
            return not missing

        try:
            await wait_for(settled, 60, "every row's outcome", every_s=0.2)
        except TimeoutError as exc:
            raise AssertionError(f"{exc}: {missing}\n{worker.log_tail(3_000)}") from None
        arq_results = {
            job_id: json.loads(raw) if raw else None
            for job_id in rows
            if (raw := await client.get(ARQ_RESULT_PREFIX + job_id)) is not None
        }
        leftovers = {
            job_id: bool(
                await client.exists(ARQ_JOB_PREFIX + job_id)
                or await client.zscore(QUEUE, job_id) is not None
            )
            for job_id in rows
        }
        counters = sandbox.counters_json()
        return MatrixRun(
            rows=rows,
            events=await results(client),
            arq_results=arq_results,
            leftovers=leftovers,
            inquiry_calls=counters["inquiries"],
            creates=sum(counters["creates_by_idempotency_key"].values()),
            created=[inquiry.id for inquiry in sandbox.state.order],
            worker_alive=worker.alive(),
            production_worker_alive=production.alive(),
            canary=canary,
            logs=worker.output(),
        )


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> MatrixRun:
    """Every row through one worker process (and a production-key worker beside it)."""
    return asyncio.run(_matrix(tmp_path_factory.mktemp("matrix")))


def _row_ids() -> list[str]:
    return [row.job_id for row in _job_rows(Path("unused"))]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("job_id", _row_ids())
def test_each_bad_job_gets_a_clear_error_and_nothing_else(matrix: MatrixRun, job_id: str) -> None:
    row = matrix.rows[job_id]
    events = _events_for(matrix, job_id)
    result = matrix.arq_results.get(job_id)
    assert not matrix.leftovers[job_id], "the job left the queue: it is not retried"
    if result is not None:  # jobs that keep their result (creates, arq's own failures)
        assert (result["s"], result["t"]) == (False, 1), "one try, recorded as failed"
    if row.error.startswith("arq:"):
        # Never a request (nothing to answer): arq's result says why; no event.
        assert events == []
        assert result is not None
        error = result["r"]["error"]
        assert error["type"] == row.error.removeprefix("arq:")
        assert row.complaint in error["message"]
        return
    [event] = events
    assert event.event == "job.failed"
    assert event.data["job_id"] == job_id
    error = event.data["error"]
    assert error["type"] == row.error
    assert row.complaint in error["message"]
    published = json.dumps(event.to_json())
    assert SECRET_VALUE not in published, "values are never echoed"
    assert len(published) < 5_000, "a huge value does not make a huge event"
    if row.inquiry is not None:
        assert matrix.inquiry_calls.get(row.inquiry, 0) == row.calls


@pytest.mark.timeout(120)
def test_the_worker_stays_up_and_the_good_requests_beside_the_bad_ones_end_normally(
    matrix: MatrixRun,
) -> None:
    assert matrix.worker_alive, matrix.logs[-3_000:]
    for job_id in GOOD:
        [event] = [e for e in matrix.events if e.data.get("request_id") == job_id]
        assert event.event == "inquiry.completed"
    assert matrix.creates == len(GOOD), "only the good requests created inquiries"
    touched = set(matrix.inquiry_calls) - set(UNKNOWN)
    assert touched <= set(matrix.created), "no bad row made a Persona call but the unknown ids"
    assert not matrix.canary.exists(), "the pickled payload was never unpickled"


@pytest.mark.timeout(120)
def test_a_production_key_against_the_sandbox_fails_the_request_once(matrix: MatrixRun) -> None:
    [event] = [e for e in matrix.events if e.data.get("job_id") == "production-1"]
    assert event.event == "job.failed"
    assert event.data["error"]["type"] == "AuthenticationError"
    assert event.data["error"]["status_code"] == 401
    assert PRODUCTION_KEY not in json.dumps(event.to_json())
    assert matrix.production_worker_alive


# --- part 2: webhook requests the 25-row table cannot show ------------------------------------


async def _nothing_enqueued(redis: Redis) -> None:
    assert await redis.zcard(QUEUE) == 0
    assert await redis.keys(KEYS.webhook_event("*")) == []


@pytest.fixture
async def web_client(make_settings: Any, own_redis: RedisServer, own_client: Redis) -> Any:
    settings = make_settings(redis_url=own_redis.url, webhook_max_body_bytes=4_096)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://web.test") as client:
            yield client


def _signed(body: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "persona-signature": signature_header([TEST_WEBHOOK_SECRET], int(time.time()), body),
    }


async def test_a_chunked_body_over_the_limit_is_refused_without_a_length(
    web_client: httpx.AsyncClient, own_client: Redis
) -> None:
    body = b'{"data": "' + b"x" * 8_000 + b'"}'

    async def chunks() -> Any:
        for start in range(0, len(body), 1_000):
            yield body[start : start + 1_000]

    response = await web_client.post("/webhooks/persona", content=chunks(), headers=_signed(body))
    assert response.status_code == 413
    await _nothing_enqueued(own_client)


async def test_a_signed_body_nested_too_deeply_is_refused_not_crashed_on(
    web_client: httpx.AsyncClient, own_client: Redis
) -> None:
    # Regression: json.loads raised RecursionError and the receiver answered 500.
    body = b"[" * 2_000 + b"]" * 2_000
    response = await web_client.post("/webhooks/persona", content=body, headers=_signed(body))
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["error"]
    await _nothing_enqueued(own_client)


async def test_a_webhook_while_redis_is_down_is_answered_503_for_a_redelivery(
    web_client: httpx.AsyncClient, own_redis: RedisServer
) -> None:
    own_redis.stop(kill=True)
    event = {
        "data": {
            "type": "event",
            "id": "evt_redis_down",
            "attributes": {
                "name": "inquiry.approved",
                "payload": {"data": {"type": "inquiry", "id": "inq_1"}},
            },
        }
    }
    body = json.dumps(event).encode()
    response = await web_client.post("/webhooks/persona", content=body, headers=_signed(body))
    assert response.status_code == 503, "Persona delivers it again later"
    assert (await web_client.get("/readyz")).status_code == 503


# --- part 3: configuration, as the processes an operator starts see it ------------------------


@dataclass(frozen=True)
class ConfigRow:
    """One bad configuration: the command, the environment, and what it must say."""

    argv: tuple[str, ...]
    env: dict[str, str]
    exit_code: int
    variable: str
    hidden: str | None = None
    """A value from the environment that must not appear in the output."""


ARQ = (*console_script("arq"), "worker.WorkerSettings")
CLI_STATUS = (*console_script("persona-worker"), "status")
WEB = (sys.executable, "-m", "uvicorn", "--factory", "worker.web:create_app")
RUN = (*RUN_WORKER.argv, "--startup-wait", "1")


def _config_rows() -> list[Any]:
    dead = f"127.0.0.1:{free_port()}"
    base = {"PERSONA_API_KEY": TEST_API_KEY}
    secrets = {"PERSONA_WEBHOOK_SECRETS": TEST_WEBHOOK_SECRET}
    rows = {
        "arq-missing-key": ConfigRow(ARQ, {}, 2, "PERSONA_API_KEY"),
        "run-wrong-key-prefix": ConfigRow(
            RUN, {"PERSONA_API_KEY": "sk_live_n0tp3rs0na"}, 2, "PERSONA_API_KEY", "n0tp3rs0na"
        ),
        "run-redis-unreachable": ConfigRow(
            RUN,
            {**base, "REDIS_URL": f"redis://:hunter2pw@{dead}/0"},
            3,
            "REDIS_URL",
            "hunter2pw",
        ),
        "status-redis-unreachable": ConfigRow(
            CLI_STATUS,
            {**base, "REDIS_URL": f"redis://:hunter2pw@{dead}/0"},
            3,
            "REDIS_URL",
            "hunter2pw",
        ),
        "status-redis-bad-scheme": ConfigRow(
            CLI_STATUS, {**base, "REDIS_URL": "http://localhost:6379"}, 2, "REDIS_URL"
        ),
        "web-redis-bad-scheme": ConfigRow(
            (*WEB, "--port", "0"),
            {**base, **secrets, "REDIS_URL": "http://localhost:6379"},
            2,
            "REDIS_URL",
        ),
        "web-no-webhook-secret": ConfigRow(
            (*WEB, "--port", "0"),
            {**base, "PERSONA_WEBHOOK_SECRETS": " , "},
            2,
            "PERSONA_WEBHOOK_SECRETS",
        ),
        "run-api-url-not-a-url": ConfigRow(
            RUN, {**base, "PERSONA_API_URL": "not a url"}, 2, "PERSONA_API_URL"
        ),
        "arq-bad-template": ConfigRow(
            ARQ, {**base, "PERSONA_TEMPLATE_ID": "tpl_123"}, 2, "PERSONA_TEMPLATE_ID"
        ),
        "run-zero-job-timeout": ConfigRow(RUN, {**base, "JOB_TIMEOUT_S": "0"}, 2, "JOB_TIMEOUT_S"),
        "run-unknown-event-loop": ConfigRow(
            RUN, {**base, "WORKER_EVENT_LOOP": "trio"}, 2, "WORKER_EVENT_LOOP"
        ),
        "arq-simulate-not-a-bool": ConfigRow(
            ARQ, {**base, "PERSONA_ALLOW_SIMULATE": "maybe"}, 2, "PERSONA_ALLOW_SIMULATE"
        ),
    }
    return [pytest.param(row, id=name) for name, row in rows.items()]


def _start(
    argv: tuple[str, ...], values: dict[str, str], workdir: Path
) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run a process that should refuse to start; its result and its stdout + stderr."""
    # An empty working directory: no developer's `.env` can fill in what the caller leaves out.
    finished = subprocess.run(
        argv,
        cwd=workdir,
        env=child_environment(values),
        capture_output=True,
        text=True,
        timeout=45,
        check=False,
    )
    return finished, finished.stdout + finished.stderr


@pytest.mark.timeout(60)
@pytest.mark.parametrize("row", _config_rows())
def test_bad_configuration_stops_the_process_naming_the_variable(
    row: ConfigRow, tmp_path: Path
) -> None:
    finished, output = _start(row.argv, row.env, tmp_path)
    assert finished.returncode == row.exit_code, output[-2_000:]
    assert f"{row.variable}:" in output, output[-2_000:]
    assert "Traceback" not in output, "a message, not a crash"
    if row.hidden is not None:
        assert row.hidden not in output


@pytest.mark.timeout(90)
@pytest.mark.parametrize(
    ("argv", "exit_code"),
    [
        pytest.param(RUN, 2, id="run"),
        pytest.param(ARQ, None, id="arq"),
        pytest.param((*WEB, "--port", "0"), None, id="web"),
    ],
)
async def test_a_redis_that_may_evict_keys_stops_each_process_naming_the_fix(
    stack: Stack, tmp_path: Path, argv: tuple[str, ...], exit_code: int | None
) -> None:
    """`python -m worker.run` exits 2 with the message alone; under `arq` and uvicorn the message
    ends their start-up traceback and the exit status is theirs."""
    server = await stack.start_redis()
    async with Redis.from_url(server.url) as admin:
        await admin.config_set("maxmemory-policy", "volatile-lru")
    values = {
        "PERSONA_API_KEY": TEST_API_KEY,
        "PERSONA_WEBHOOK_SECRETS": TEST_WEBHOOK_SECRET,
        "REDIS_URL": server.url,
    }

    finished, output = await asyncio.to_thread(_start, argv, values, tmp_path)

    assert finished.returncode != 0, output[-2_000:]
    fix = "maxmemory-policy is volatile-lru; set it to noeviction (CONFIG SET maxmemory-policy"
    assert fix in finished.stderr, output[-2_000:]
    assert "REDIS_ALLOW_EVICTION=true" in finished.stderr
    if exit_code is not None:
        assert finished.returncode == exit_code
        assert "Traceback" not in output, "a message, not a crash"


async def test_a_production_key_never_sends_simulate_actions_whatever_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PERSONA_API_KEY", PRODUCTION_KEY)
    monkeypatch.setenv("PERSONA_ALLOW_SIMULATE", "true")
    settings: Settings = load_settings(_env_file=None)
    assert not settings.simulate_allowed
    sent: list[httpx.Request] = []

    def persona(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500)

    http = httpx.AsyncClient(
        base_url="http://persona.test/api/v1", transport=httpx.MockTransport(persona)
    )
    client = persona_client(settings, http)

    try:
        with pytest.raises(ClientSetupError, match="refused with a production API key"):
            await client.simulate_actions(
                "inq_1", [{"type": "complete_inquiry"}], idempotency_key="sim-1"
            )
    finally:
        await http.aclose()
    assert sent == []
    assert isinstance(settings.persona_api_key, SecretStr)
    assert PRODUCTION_KEY not in repr(settings)

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from jobs import errors
from jobs.persona.client import PersonaClient
from tests.client.fakes import API_KEY, PREFIX, FakePersona, error_response
from tests.client.operations import INQUIRY_ID, TEMPLATE_ID, seed

KEY = "job-9:attempt-2"
REQUEST_ID = "req_err0001"


@pytest.mark.parametrize(
    ("status", "title", "expected"),
    [
        (400, "Bad Request", errors.BadRequestError),
        (401, "Must be authenticated to access this endpoint", errors.AuthenticationError),
        (403, "Forbidden", errors.PermissionDeniedError),
        (404, "Record not found", errors.NotFoundError),
        (409, "Record not unique", errors.ConflictError),
        (422, "Unprocessable entity", errors.UnprocessableError),
        (429, "Rate limit exceeded", errors.RateLimitedError),
        (500, "Internal server error", errors.ServerError),
        (503, "Service unavailable", errors.ServerError),
    ],
)
async def test_error_status_maps_to_its_class_with_persona_context(
    client: PersonaClient,
    fake: FakePersona,
    status: int,
    title: str,
    expected: type[errors.ApiError],
) -> None:
    fake.script(error_response(status, title, "why it failed", headers={"Request-Id": REQUEST_ID}))
    with pytest.raises(errors.ApiError) as caught:
        await client.approve_inquiry(INQUIRY_ID, idempotency_key=KEY)
    exc = caught.value
    assert type(exc) is expected
    assert (exc.status_code, exc.title, exc.details) == (status, title, "why it failed")
    assert (exc.request_id, exc.method) == (REQUEST_ID, "POST")
    assert exc.path == f"{PREFIX}/inquiries/{INQUIRY_ID}/approve"
    assert str(status) in str(exc)
    assert title in str(exc)


async def test_the_api_key_never_appears_in_an_error(
    client: PersonaClient, fake: FakePersona
) -> None:
    echo = f"Token is invalid: Bearer {API_KEY}"
    fake.script(error_response(403, echo, f"key {API_KEY} lacks inquiry.write"))
    with pytest.raises(errors.PermissionDeniedError) as caught:
        await client.create_inquiry(template_id=TEMPLATE_ID, idempotency_key=KEY)
    exc = caught.value
    for text in (str(exc), repr(exc), repr(exc.to_dict()), repr(pickle.loads(pickle.dumps(exc)))):
        assert API_KEY not in text
    assert exc.title == "Token is invalid: Bearer [redacted]"


async def test_a_401_body_with_only_a_title_is_read(
    client: PersonaClient, fake: FakePersona
) -> None:
    fake.script(httpx.Response(401, json={"errors": [{"title": "Token is invalid"}]}))
    with pytest.raises(errors.AuthenticationError) as caught:
        await client.retrieve_inquiry(INQUIRY_ID)
    assert (caught.value.title, caught.value.details) == ("Token is invalid", None)
    assert caught.value.request_id is None


async def test_reused_idempotency_key_is_an_idempotency_error(
    client: PersonaClient, fake: FakePersona
) -> None:
    details = (
        "Keys for idempotent requests can only be used with the same parameters they were "
        f"first used with. Try using a key other than '{KEY}' if you meant to execute a "
        "different request."
    )
    fake.script(error_response(400, "Idempotency error", details))
    with pytest.raises(errors.IdempotencyError) as caught:
        await client.create_inquiry(template_id=TEMPLATE_ID, idempotency_key=KEY)
    assert caught.value.details == details


async def test_a_plain_400_is_not_an_idempotency_error(
    client: PersonaClient, fake: FakePersona
) -> None:
    fake.script(error_response(400, "Bad Request", "data.attributes.type must be a string"))
    with pytest.raises(errors.BadRequestError) as caught:
        await client.create_inquiry(template_id=TEMPLATE_ID, idempotency_key=KEY)
    assert not isinstance(caught.value, errors.IdempotencyError)


@pytest.mark.parametrize(
    ("headers", "wait_s"),
    [
        ({"RateLimit-Limit": "300", "RateLimit-Remaining": "0", "RateLimit-Reset": "17"}, 17.0),
        ({"Retry-After": "30"}, 30.0),
        ({"Retry-After": "soon"}, None),
    ],
    ids=["ratelimit-reset", "retry-after-seconds", "no-readable-wait"],
)
async def test_429_waits_as_long_as_its_headers_say(
    client: PersonaClient, fake: FakePersona, headers: dict[str, str], wait_s: float | None
) -> None:
    fake.script(error_response(429, "Rate limit exceeded", headers=headers))
    with pytest.raises(errors.RateLimitedError) as caught:
        await client.list_inquiries()
    assert caught.value.retry_after_s == wait_s
    assert caught.value.to_dict()["retry_after_s"] == wait_s


async def test_429_honours_a_retry_after_http_date(
    client: PersonaClient, fake: FakePersona
) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    fake.script(error_response(429, "Rate limit exceeded", headers={"Retry-After": when}))
    with pytest.raises(errors.RateLimitedError) as caught:
        await client.list_inquiries()
    assert caught.value.retry_after_s is not None
    assert 100 < caught.value.retry_after_s <= 120


async def test_error_path_leaves_out_the_query_string(
    client: PersonaClient, fake: FakePersona
) -> None:
    fake.script(error_response(400, "Bad Request"))
    with pytest.raises(errors.BadRequestError) as caught:
        await client.list_inquiries(reference_id="usr_secret_ref")
    assert caught.value.path == f"{PREFIX}/inquiries"
    assert "usr_secret_ref" not in str(caught.value)


async def test_an_error_body_that_is_not_json_still_maps_by_status(
    client: PersonaClient, fake: FakePersona
) -> None:
    fake.script(httpx.Response(502, text="<html>Bad Gateway</html>"))
    with pytest.raises(errors.ServerError) as caught:
        await client.retrieve_inquiry(INQUIRY_ID)
    assert (caught.value.status_code, caught.value.title, caught.value.details) == (502, None, None)


#: (what the transport raises, the client error, whether the request may have arrived).
TRANSPORT_FAILURES = [
    (httpx.ReadTimeout("timed out"), errors.ApiTimeoutError, True),
    (httpx.WriteTimeout("timed out"), errors.ApiTimeoutError, True),
    (httpx.RemoteProtocolError("peer closed connection"), errors.ApiTimeoutError, True),
    (httpx.ConnectError("refused"), errors.ApiConnectionError, False),
    (httpx.ConnectTimeout("no route"), errors.ApiConnectionError, False),
    (httpx.PoolTimeout("pool full"), errors.ApiConnectionError, False),
]


@pytest.mark.parametrize(
    ("raised", "expected", "outcome_unknown"),
    TRANSPORT_FAILURES,
    ids=[type(raised).__name__ for raised, _, _ in TRANSPORT_FAILURES],
)
async def test_a_transport_failure_says_whether_the_request_may_have_arrived(
    client: PersonaClient,
    fake: FakePersona,
    raised: Exception,
    expected: type[errors.ApiError],
    outcome_unknown: bool,
) -> None:
    fake.script(raised)
    with pytest.raises(expected) as caught:
        await client.create_inquiry(template_id=TEMPLATE_ID, idempotency_key=KEY)
    assert type(caught.value) is expected
    assert caught.value.outcome_unknown is outcome_unknown
    assert caught.value.transient is True
    assert caught.value.status_code is None
    assert caught.value.path == f"{PREFIX}/inquiries"


async def test_a_non_json_2xx_is_a_server_error(client: PersonaClient, fake: FakePersona) -> None:
    fake.script(httpx.Response(200, text="<html>maintenance</html>"))
    with pytest.raises(errors.ServerError, match="non-JSON") as caught:
        await client.retrieve_inquiry(INQUIRY_ID)
    assert caught.value.status_code == 200


async def test_a_2xx_of_the_wrong_shape_is_a_server_error_that_hides_the_values(
    client: PersonaClient, fake: FakePersona
) -> None:
    body = {"data": {"type": "inquiry", "id": INQUIRY_ID, "attributes": {"name": "Jane Roe"}}}
    fake.script(httpx.Response(200, json=body))
    with pytest.raises(errors.ServerError, match=r"data\.attributes\.status") as caught:
        await client.retrieve_inquiry(INQUIRY_ID)
    assert "Jane Roe" not in str(caught.value)
    assert "Jane Roe" not in repr(caught.value.to_dict())
    assert caught.value.__cause__ is None


async def test_a_successful_exchange_after_an_error_is_unaffected(
    client: PersonaClient, fake: FakePersona
) -> None:
    seed(fake)
    fake.script(error_response(503, "Service unavailable"))
    with pytest.raises(errors.ServerError):
        await client.retrieve_inquiry(INQUIRY_ID)
    document = await client.retrieve_inquiry(INQUIRY_ID)
    assert document.data.id == INQUIRY_ID

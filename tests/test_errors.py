from __future__ import annotations

import inspect
import json
import pickle

import pytest

from jobs import errors
from jobs.persona.errors import DEFAULT_RATE_LIMIT_WAIT_S

ALL_ERRORS = [
    cls
    for _, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, errors.KNOWN_ERRORS)
]


@pytest.mark.parametrize("cls", ALL_ERRORS, ids=lambda cls: cls.__name__)
def test_every_error_survives_pickle_with_its_context(cls: type[errors.KnownError]) -> None:
    if issubclass(cls, errors.ApiError):
        error: errors.KnownError = cls(
            "boom", status_code=503, title="Service unavailable", request_id="req_1", path="/x"
        )
    else:
        error = cls("boom")
    restored = pickle.loads(pickle.dumps(error))
    assert type(restored) is cls
    assert restored.args == error.args
    assert restored.to_dict() == error.to_dict()


@pytest.mark.parametrize("cls", ALL_ERRORS, ids=lambda cls: cls.__name__)
def test_every_error_describes_itself_as_json(cls: type[errors.KnownError]) -> None:
    described = json.loads(json.dumps(cls("boom").to_dict()))
    assert described["type"] == cls.__name__
    assert described["message"] == "boom"
    assert described["transient"] is cls.transient


def test_rate_limited_error_carries_the_wait() -> None:
    error = errors.RateLimitedError("slow down", retry_after_s=12.0, status_code=429)
    restored = pickle.loads(pickle.dumps(error))
    assert restored.retry_after_s == 12.0
    assert restored.to_dict()["retry_after_s"] == 12.0
    assert restored.wait_s == 12.0


def test_rate_limited_error_without_a_wait_asks_for_the_default() -> None:
    error = errors.RateLimitedError("slow down", status_code=429)
    assert error.retry_after_s is None, "what Persona said stays as it said it"
    assert error.wait_s == DEFAULT_RATE_LIMIT_WAIT_S


@pytest.mark.parametrize(
    ("status", "title", "expected"),
    [
        (400, "Bad Request", errors.BadRequestError),
        (400, "Idempotency error", errors.IdempotencyError),
        (401, None, errors.AuthenticationError),
        (403, None, errors.PermissionDeniedError),
        (404, None, errors.NotFoundError),
        (408, None, errors.ServerError),
        (409, None, errors.ConflictError),
        (418, None, errors.PermanentApiError),
        (422, None, errors.UnprocessableError),
        (429, None, errors.RateLimitedError),
        (500, None, errors.ServerError),
        (503, None, errors.ServerError),
    ],
)
def test_status_maps_to_one_error_class(
    status: int, title: str | None, expected: type[errors.ApiError]
) -> None:
    assert errors.error_for_status(status, title) is expected


def test_transient_and_permanent_are_disjoint() -> None:
    assert errors.TransientApiError.transient
    assert not errors.PermanentApiError.transient
    assert errors.ServerError.outcome_unknown
    assert errors.ApiTimeoutError.outcome_unknown
    assert not errors.ApiConnectionError.outcome_unknown

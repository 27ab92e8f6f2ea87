"""The committed copy of Persona's OpenAPI: it holds what uses it, and only in reduced form.

`spec/regenerate.py` writes the copy from Persona's published spec, which is not in the
repository; these tests check what can be checked without it.
"""

from __future__ import annotations

import re

import httpx
import pytest

from persona_sandbox.app import OPERATIONS as SANDBOX_ROUTES
from tests.client.operations import OPERATIONS as CLIENT_TEST_OPERATIONS
from tests.contract.harness import CLIENT_OPERATIONS, SANDBOX_OPERATIONS
from tests.contract.openapi import SPEC_VERSION, load_document, load_operation, spec_path
from tests.contract.schema import pointer_to
from tests.contract.spec.regenerate import OPERATION_IDS, reduce_source, render

API = "http://persona.test/api/v1"
COMMITTED = spec_path(SPEC_VERSION)


def _concrete(template: str) -> str:
    """A path of the template, with an id in each parameter."""
    return re.sub(r"\{[^}]+\}", "id_1", template)


#: (who, operationId, method, path) of every request the sandbox and the client tests make.
USES = [
    *(("sandbox", op, method, _concrete(path)) for path, method, op, _ in SANDBOX_ROUTES),
    *(("client tests", op.operation_id, op.method, op.path) for op in CLIENT_TEST_OPERATIONS),
]


@pytest.mark.parametrize(
    ("who", "operation_id", "method", "path"), USES, ids=[f"{u[0]}-{u[1]}" for u in USES]
)
def test_operation_in_use_is_in_the_copy_with_its_method_and_path(
    who: str, operation_id: str, method: str, path: str
) -> None:
    operation = load_operation(operation_id)
    request = httpx.Request(method, f"{API}{path}")
    assert operation.matches(request), f"{who} sends {method} {path}, the spec has {operation!r}"


def test_the_copy_holds_exactly_the_operations_in_use() -> None:
    in_use = {
        *CLIENT_OPERATIONS,
        *SANDBOX_OPERATIONS,
        *(operation_id for _, operation_id, _, _ in USES),
    }
    document = load_document(COMMITTED)
    held = {
        operation["operationId"]
        for item in document["paths"].values()
        for key, operation in item.items()
        if key != "parameters"
    }
    assert held == in_use == set(OPERATION_IDS), (
        f"missing: {sorted(in_use - held)}, not in use: {sorted(held - in_use)}; "
        "regenerate the copy (tests/contract/spec/regenerate.py)"
    )


def test_the_copy_is_its_own_reduction() -> None:
    """Reducing the copy gives it back byte for byte: it holds nothing the reduction drops and
    no unreachable component, and it is laid out as `regenerate.py` writes it."""
    written = render(reduce_source(COMMITTED)).splitlines()
    committed = COMMITTED.read_text(encoding="utf-8").splitlines()
    first = next(
        (n for n, (a, b) in enumerate(zip(written, committed, strict=False), 1) if a != b),
        min(len(written), len(committed)) + 1,
    )
    assert written == committed, (
        f"{COMMITTED.name} differs from its reduction from line {first}: "
        "regenerate it with tests/contract/spec/regenerate.py instead of editing it"
    )


def test_create_request_body_stays_closed() -> None:
    operation = load_operation("create-an-inquiry")
    body, _ = operation.spec.resolve(
        pointer_to(
            "paths", "/inquiries", "post", "requestBody", "content", "application/json", "schema"
        )
    )
    data = body["properties"]["data"]
    closed = [body, data, data["properties"]["attributes"], body["properties"]["meta"]]
    assert [schema["additionalProperties"] for schema in closed] == [False] * 4
    assert body["required"] == ["data"]


def test_the_copy_says_what_it_is() -> None:
    info = load_document(COMMITTED)["info"]
    assert info["version"] == SPEC_VERSION
    assert info["license"]["name"] == "Apache 2.0"
    assert "regenerate.py" in info["x-reduction"]

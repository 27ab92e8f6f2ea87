"""The reduction keeps what validation reads and drops the rest, on a small hand-made spec."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.contract.spec.reduce import REDUCTION_NOTE, reduce_documents

THING_REF = {"$ref": "#/components/schemas/thing"}
ID_PARAMETER = {"name": "id", "in": "path", "required": True, "schema": {}}
LICENSE = {"name": "Apache 2.0"}
SOURCE: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Things",
        "version": "v1",
        "license": LICENSE,
        "x-extracted-from": "somewhere",
    },
    "servers": [{"url": "https://api.example/api/v1", "description": "production"}],
    "security": [{"bearerAuth": []}],
    "paths": {
        "/things/{id}": {
            "parameters": [ID_PARAMETER],
            "get": {
                "operationId": "get-thing",
                "summary": "Get a thing",
                "tags": ["Things"],
                "x-product": "Things",
                "parameters": [
                    {
                        "name": "Key-Inflection",
                        "in": "header",
                        "description": "casing",
                        "schema": {"type": "string", "enum": ["kebab"], "examples": ["kebab"]},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "the thing",
                        "headers": {"Request-Id": {"$ref": "#/components/headers/request-id"}},
                        "content": {
                            "application/json": {
                                "examples": {"Success": {"$ref": "#/components/examples/thing"}},
                                "schema": THING_REF,
                            }
                        },
                    }
                },
            },
            "delete": {"operationId": "drop-thing", "responses": {"204": {"description": "gone"}}},
        }
    },
    "webhooks": {
        "inquiry.made": {"post": {"requestBody": {"content": {"application/json": {}}}}},
        "account.made": {"post": {"requestBody": {"$ref": "#/components/requestBodies/unused"}}},
    },
    "components": {
        "securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer", "x-bearer-format": "bearer"}
        },
        "headers": {
            "request-id": {"description": "id", "schema": {"type": "string", "example": "r"}}
        },
        "requestBodies": {"unused": {"content": {"application/json": {"schema": {}}}}},
        "schemas": {
            "thing": {
                "type": "object",
                "title": "Thing",
                "description": "A thing.",
                "additionalProperties": False,
                "properties": {
                    "description": {"type": "string", "default": "", "deprecated": True},
                    "kind": {"description": "its kind", "$ref": "#/components/schemas/kind"},
                    "parts": {"type": "array", "items": {"oneOf": [True, {"const": "x"}]}},
                },
                "discriminator": {
                    "propertyName": "kind",
                    "mapping": {"a": "#/components/schemas/a"},
                },
            },
            "kind": {"type": "string", "x-inheritable": True},
            "a": {"type": "object"},
            "unused": {"type": "string"},
        },
        "examples": {
            "thing": {"summary": "A thing", "value": {"description": "data stays"}},
            "kept": {"value": 1},
        },
    },
}

#: The `get` operation of SOURCE as it is reduced.
EXPECTED_GET = {
    "operationId": "get-thing",
    "parameters": [
        {
            "name": "Key-Inflection",
            "in": "header",
            "schema": {"type": "string", "enum": ["kebab"]},
        }
    ],
    "responses": {
        "200": {
            "headers": {"Request-Id": {"$ref": "#/components/headers/request-id"}},
            "content": {"application/json": {"schema": THING_REF}},
        }
    },
}
EXPECTED = {
    "openapi": "3.1.0",
    "info": {"title": "Things", "version": "v1", "license": LICENSE, "x-reduction": REDUCTION_NOTE},
    "servers": [{"url": "https://api.example/api/v1"}],
    "security": [{"bearerAuth": []}],
    "paths": {"/things/{id}": {"parameters": [ID_PARAMETER], "get": EXPECTED_GET}},
    "webhooks": {"inquiry.made": {"post": {"requestBody": {"content": {"application/json": {}}}}}},
    "components": {
        "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        "headers": {"request-id": {"schema": {"type": "string"}}},
        "schemas": {
            "a": {"type": "object"},
            "kind": {"type": "string"},
            "thing": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "description": {"type": "string"},
                    "kind": {"$ref": "#/components/schemas/kind"},
                    "parts": {"type": "array", "items": {"oneOf": [True, {"const": "x"}]}},
                },
                "discriminator": {
                    "propertyName": "kind",
                    "mapping": {"a": "#/components/schemas/a"},
                },
            },
        },
        "examples": {"kept": {"value": 1}},
    },
}


def reduce(source: dict[str, Any]) -> dict[str, Any]:
    return reduce_documents(
        {"get-thing": source},
        source,
        events=lambda name: name.startswith("inquiry."),
        examples=["kept"],
    )


def test_reduction_keeps_what_validation_reads_and_what_it_reaches() -> None:
    assert reduce(SOURCE) == EXPECTED


def test_reduction_is_stable() -> None:
    assert reduce(EXPECTED) == EXPECTED


def test_unknown_keyword_stops_the_reduction_and_is_named() -> None:
    source = copy.deepcopy(SOURCE)
    source["components"]["schemas"]["kind"]["nullable"] = True
    with pytest.raises(ValueError, match=r"/components/schemas/kind: unknown keyword 'nullable'"):
        reduce(source)


def test_reference_to_a_missing_component_is_an_error() -> None:
    source = copy.deepcopy(SOURCE)
    del source["components"]["schemas"]["kind"]
    with pytest.raises(ValueError, match="component schemas/kind is not in the source"):
        reduce(source)


def test_operation_missing_from_the_source_is_an_error() -> None:
    with pytest.raises(ValueError, match="no-such-thing: expected one operation"):
        reduce_documents({"no-such-thing": SOURCE}, SOURCE, events=bool)


def test_sources_that_disagree_on_a_component_are_an_error() -> None:
    other = copy.deepcopy(SOURCE)
    other["components"]["schemas"]["kind"]["type"] = "integer"
    with pytest.raises(ValueError, match="component schemas/kind differs"):
        reduce_documents({"get-thing": SOURCE}, other, events=bool)

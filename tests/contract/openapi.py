"""Check httpx requests, responses and webhook events against Persona's official OpenAPI.

The spec is read from the reduced copy committed in `spec/` (`SPEC_PATH`): one OpenAPI 3.1
document holding every operation the client calls or the sandbox serves and the inquiry and
verification webhook events, with what validation reads and nothing else
(`tests/contract/spec/regenerate.py` writes it from Persona's published spec).
`load_operation()` parses it once per process and returns an `Operation` that validates

- an `httpx.Request`: method, path template (under the spec server's base path `/api/v1`,
  whatever the host: the client talks to `persona.test` or a loopback sandbox), path and query
  parameters (`deepObject` ones such as `filter[status]` and `page[size]` included; a query
  parameter the operation does not declare is a violation), headers (the `bearerAuth` security
  scheme, declared header parameters, and any the caller insists on), and the JSON body;
- an `httpx.Response`: a status the operation declares, every response header that status
  declares (Persona documents the rate-limit and id headers as sent on every authenticated
  response, so absence is a violation) with a value of the declared type, and the JSON body.

`tests.contract.webhooks` reads the webhook events of the same document.

Every failure raises `ContractError`, an `AssertionError` listing each problem with the
operation, the part of the exchange and the field.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx

from tests.contract.schema import Problem, SchemaDocument, coerce_text, pointer_to, schema_types

__all__ = [
    "SPEC_PATH",
    "SPEC_VERSION",
    "ContractError",
    "Operation",
    "OperationSet",
    "load_document",
    "load_operation",
    "raise_if",
    "spec_path",
    "validate_request",
    "validate_response",
]

#: The Persona API version the client pins, and so the version of the spec it is checked against.
SPEC_VERSION = "2025-12-08"


def spec_path(version: str) -> Path:
    """Where the reduced copy of the spec of API version `version` is committed."""
    return Path(__file__).parent / "spec" / f"persona-openapi-{version}.json"


#: The reduced spec the checks read; `PERSONA_OPENAPI_SPEC` names another (e.g. a fresh
#: `regenerate.py --out` before it is committed).
SPEC_PATH = Path(os.environ.get("PERSONA_OPENAPI_SPEC") or spec_path(SPEC_VERSION))

_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
_DEEP_KEY = re.compile(r"([^\[\]]+)\[([^\[\]]*)\]")
_BEARER = re.compile(r"bearer \S+", re.IGNORECASE)


class ContractError(AssertionError):
    """An exchange that breaks the official contract.

    Attributes:
        subject: What was checked, e.g. `create-an-inquiry request (POST /api/v1/inquiries)`.
        problems: Every problem found, each naming its part and field.
    """

    def __init__(self, subject: str, problems: Sequence[Problem]) -> None:
        self.subject = subject
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {problem.describe()}" for problem in self.problems)
        super().__init__(f"{subject} breaks the contract:\n{lines}")


def raise_if(subject: str, problems: Sequence[Problem]) -> None:
    """Raise `ContractError` for `subject` if any problem was found."""
    if problems:
        raise ContractError(subject, problems)


@functools.cache
def load_document(path: Path) -> Mapping[str, Any]:
    """Parse one OpenAPI document (JSON), once per process."""
    with path.open("rb") as stream:
        loaded = json.load(stream)
    if not isinstance(loaded, dict):
        raise ValueError(f"{path} is not an OpenAPI document")
    return loaded


@dataclass(frozen=True, slots=True)
class _Parameter:
    name: str
    location: str
    required: bool
    style: str
    schema_pointer: str


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


class Operation:
    """One Persona operation, read from the official OpenAPI.

    Args:
        operation_id: The operationId, e.g. `create-an-inquiry`.
        document: The parsed OpenAPI document that holds that operation.

    Raises:
        LookupError: The document does not hold that operation.
    """

    def __init__(self, operation_id: str, document: Mapping[str, Any]) -> None:
        self.operation_id = operation_id
        self.spec = SchemaDocument(f"urn:persona-openapi:{operation_id}", document)
        found = [
            (path, method)
            for path, item in document["paths"].items()
            for method, operation in item.items()
            if method in _METHODS and operation.get("operationId") == operation_id
        ]
        if not found:
            raise LookupError(
                f"{operation_id} is not in the spec; the operations kept are chosen in "
                "tests/contract/spec/regenerate.py"
            )
        if len(found) != 1:
            raise ValueError(f"{operation_id}: expected one operation, found {found}")
        self.path_template, method = found[0]
        self.method = method.upper()
        self._pointer = pointer_to("paths", self.path_template, method)
        self._operation: Mapping[str, Any] = document["paths"][self.path_template][method]
        self.base_path = urlsplit(document["servers"][0]["url"]).path.rstrip("/")
        self._segments = self.path_template.strip("/").split("/")
        self._parameters = self._read_parameters()
        self._security: list[Mapping[str, Any]] = self._operation.get(
            "security", document.get("security", [])
        )

    def __repr__(self) -> str:
        return f"<Operation {self.operation_id}: {self.method} {self.path_template}>"

    def _read_parameters(self) -> dict[tuple[str, str], _Parameter]:
        path_pointer = pointer_to("paths", self.path_template)
        found: dict[tuple[str, str], _Parameter] = {}
        for owner in (path_pointer, self._pointer):
            owner_node, _ = self.spec.resolve(owner)
            for index in range(len(owner_node.get("parameters", []))):
                node, pointer = self.spec.resolve(f"{owner}/parameters/{index}")
                location = node["in"]
                default_style = "form" if location in ("query", "cookie") else "simple"
                found[(location, node["name"])] = _Parameter(
                    name=node["name"],
                    location=location,
                    required=bool(node.get("required", location == "path")),
                    style=node.get("style", default_style),
                    schema_pointer=f"{pointer}/schema",
                )
        return found

    @property
    def literal_segments(self) -> int:
        """How many path segments are fixed text (the more, the more specific the template)."""
        return sum(1 for segment in self._segments if not segment.startswith("{"))

    def _schema(self, pointer: str) -> Mapping[str, Any]:
        node, _ = self.spec.resolve(pointer)
        return node if isinstance(node, Mapping) else {}

    # Matching -------------------------------------------------------------------------

    def relative_path(self, url: httpx.URL) -> str | None:
        """The raw (still percent-encoded) path below the server base, or None if outside it."""
        raw = url.raw_path.decode("ascii").split("?", 1)[0]
        if self.base_path and not (raw == self.base_path or raw.startswith(self.base_path + "/")):
            return None
        return raw[len(self.base_path) :] or "/"

    def match_path(self, url: httpx.URL) -> dict[str, str] | None:
        """The decoded path parameters if `url` fits this operation's template, else None."""
        relative = self.relative_path(url)
        if relative is None:
            return None
        segments = relative.strip("/").split("/")
        if len(segments) != len(self._segments):
            return None
        values: dict[str, str] = {}
        for template, raw in zip(self._segments, segments, strict=True):
            if template.startswith("{") and template.endswith("}"):
                if not raw:
                    return None
                values[template[1:-1]] = unquote(raw)
            elif template != unquote(raw):
                return None
        return values

    def matches(self, request: httpx.Request) -> bool:
        """Whether the request's method and path are this operation's."""
        return request.method == self.method and self.match_path(request.url) is not None

    # Requests ---------------------------------------------------------------------------

    def request_problems(
        self, request: httpx.Request, *, require_headers: Collection[str] = ()
    ) -> list[Problem]:
        """Every way `request` breaks this operation's contract (empty when it keeps it).

        Args:
            request: The request; its body must have been read (`await request.aread()`).
            require_headers: Headers the caller insists on beyond the operation's own rules.
        """
        problems: list[Problem] = []
        if request.method != self.method:
            problems.append(Problem("method", "", f"{request.method} is not {self.method}"))
        path_values = self.match_path(request.url)
        if path_values is None:
            raw = request.url.raw_path.decode("ascii").split("?", 1)[0]
            where = f"{self.base_path}{self.path_template}"
            problems.append(Problem("path", "", f"{raw} does not match {where}"))
        else:
            problems += self._path_problems(path_values)
        problems += self._query_problems(request.url.query.decode("ascii"))
        problems += self._header_problems(request.headers, require_headers)
        problems += self._body_problems(request)
        return problems

    def validate_request(
        self, request: httpx.Request, *, require_headers: Collection[str] = ()
    ) -> None:
        """Raise `ContractError` unless `request` keeps this operation's contract."""
        raw_path = request.url.raw_path.decode("ascii").split("?", 1)[0]
        raise_if(
            f"{self.operation_id} request ({request.method} {raw_path})",
            self.request_problems(request, require_headers=require_headers),
        )

    def _path_problems(self, values: Mapping[str, str]) -> list[Problem]:
        problems: list[Problem] = []
        for (location, name), parameter in self._parameters.items():
            if location != "path":
                continue
            if name not in values:
                problems.append(Problem("path parameter", name, "not in the path template"))
                continue
            value = coerce_text(values[name], self._schema(parameter.schema_pointer))
            problems += self.spec.problems(
                value, parameter.schema_pointer, part="path parameter", name=name
            )
        return problems

    def _query_problems(self, query: str) -> list[Problem]:
        grouped: dict[str, list[tuple[str | None, str]]] = {}
        for key, value in parse_qsl(query, keep_blank_values=True):
            deep = _DEEP_KEY.fullmatch(key)
            name, sub = (deep.group(1), deep.group(2)) if deep else (key, None)
            grouped.setdefault(name, []).append((sub, value))
        problems: list[Problem] = []
        for name, entries in grouped.items():
            parameter = self._parameters.get(("query", name))
            if parameter is None:
                keys = ", ".join(
                    sorted({name if sub is None else f"{name}[{sub}]" for sub, _ in entries})
                )
                problems.append(Problem("query parameter", keys, "not declared by the operation"))
                continue
            if parameter.style == "deepObject":
                problems += self._deep_object_problems(parameter, entries)
            else:
                problems += self._form_problems(parameter, entries)
        for (location, name), parameter in self._parameters.items():
            if location == "query" and parameter.required and name not in grouped:
                problems.append(Problem("query parameter", name, "required but not sent"))
        return problems

    def _deep_object_problems(
        self, parameter: _Parameter, entries: Iterable[tuple[str | None, str]]
    ) -> list[Problem]:
        schema = self._schema(parameter.schema_pointer)
        value: dict[str, Any] = {}
        problems: list[Problem] = []
        for sub, text in entries:
            if sub is None:
                problems.append(
                    Problem(
                        "query parameter",
                        parameter.name,
                        f"a deepObject parameter must be sent as {parameter.name}[key]=value",
                    )
                )
                continue
            if sub in value:
                field = f"{parameter.name}[{sub}]"
                problems.append(Problem("query parameter", field, "sent more than once"))
                continue
            properties = schema.get("properties", {})
            sub_schema = properties.get(sub, schema.get("additionalProperties", {}))
            if isinstance(sub_schema, Mapping) and "$ref" in sub_schema:
                sub_schema, _ = self.spec.resolve(sub_schema["$ref"][1:])
            value[sub] = coerce_text(text, sub_schema if isinstance(sub_schema, Mapping) else {})
        return problems + self.spec.problems(
            value, parameter.schema_pointer, part="query parameter", name=parameter.name
        )

    def _form_problems(
        self, parameter: _Parameter, entries: Sequence[tuple[str | None, str]]
    ) -> list[Problem]:
        if any(sub is not None for sub, _ in entries):
            detail = f"{parameter.style} parameter sent with a [key] suffix"
            return [Problem("query parameter", parameter.name, detail)]
        schema = self._schema(parameter.schema_pointer)
        if len(entries) > 1 and "array" not in schema_types(schema):
            return [Problem("query parameter", parameter.name, "sent more than once")]
        if len(entries) > 1:
            value: Any = [coerce_text(text, schema.get("items", {})) for _, text in entries]
        else:
            value = coerce_text(entries[0][1], schema)
        return self.spec.problems(
            value, parameter.schema_pointer, part="query parameter", name=parameter.name
        )

    def _header_problems(
        self, headers: httpx.Headers, require_headers: Collection[str]
    ) -> list[Problem]:
        problems: list[Problem] = []
        required = {name.lower() for name in require_headers}
        for (location, name), parameter in self._parameters.items():
            if location != "header":
                continue
            text = headers.get(name)
            if text is None:
                if parameter.required or name.lower() in required:
                    problems.append(Problem("header", name, "required but not sent"))
                continue
            value = coerce_text(text, self._schema(parameter.schema_pointer))
            problems += self.spec.problems(
                value, parameter.schema_pointer, part="header", name=name
            )
        declared = {name.lower() for location, name in self._parameters if location == "header"}
        for name in sorted(require_headers):
            if name.lower() not in declared and name not in headers:
                problems.append(Problem("header", name, "required but not sent"))
        return problems + self._security_problems(headers)

    def _security_problems(self, headers: httpx.Headers) -> list[Problem]:
        if not self._security:
            return []
        failures: list[str] = []
        for requirement in self._security:
            missing = [
                scheme for scheme in requirement if not self._scheme_satisfied(scheme, headers)
            ]
            if not missing:
                return []
            failures.append(" and ".join(missing))
        detail = f"no security requirement is met (missing: {' or '.join(failures)})"
        return [Problem("header", "Authorization", detail)]

    def _scheme_satisfied(self, scheme_name: str, headers: httpx.Headers) -> bool:
        scheme, _ = self.spec.resolve(pointer_to("components", "securitySchemes", scheme_name))
        if scheme.get("type") == "http" and str(scheme.get("scheme", "")).lower() == "bearer":
            return _BEARER.fullmatch(headers.get("Authorization", "")) is not None
        if scheme.get("type") == "apiKey" and scheme.get("in") == "header":
            return bool(headers.get(scheme["name"]))
        raise ValueError(f"{self.operation_id}: security scheme {scheme_name} is not supported")

    def _body_problems(self, request: httpx.Request) -> list[Problem]:
        body = request.content
        if "requestBody" not in self._operation:
            if body:
                detail = f"the operation declares no request body, but {len(body)} bytes were sent"
                return [Problem("request body", "", detail)]
            return []
        node, pointer = self.spec.resolve(f"{self._pointer}/requestBody")
        if not body:
            if node.get("required", False):
                return [Problem("request body", "", "required but not sent")]
            return []
        media_type = _media_type(request.headers.get("Content-Type"))
        content = node.get("content", {})
        if media_type not in content:
            declared = ", ".join(content)
            detail = f"Content-Type {media_type or '(none)'!r} is not one of: {declared}"
            return [Problem("header", "Content-Type", detail)]
        try:
            document = json.loads(body)
        except ValueError as exc:
            return [Problem("request body", "", f"not valid JSON ({exc})")]
        schema_pointer = f"{pointer}/content/{pointer_to(media_type)[1:]}/schema"
        return self.spec.problems(document, schema_pointer, part="request body")

    # Responses ---------------------------------------------------------------------------

    @property
    def declared_statuses(self) -> tuple[str, ...]:
        """The response status keys the operation declares (`200`, `4XX`, `default`...)."""
        return tuple(str(status) for status in self._operation["responses"])

    def response_problems(self, response: httpx.Response) -> list[Problem]:
        """Every way `response` breaks this operation's contract (empty when it keeps it).

        Args:
            response: A response whose body has been read.
        """
        code = str(response.status_code)
        declared = self.declared_statuses
        key = next((k for k in (code, f"{code[0]}XX", "default") if k in declared), None)
        if key is None:
            detail = f"{code} is not declared (declared: {', '.join(declared)})"
            return [Problem("status", "", detail)]
        node, pointer = self.spec.resolve(f"{self._pointer}/responses/{key}")
        problems = self._response_header_problems(node, pointer, response.headers)
        content = node.get("content")
        if not content:
            if response.content:
                detail = f"status {code} declares no body, but {len(response.content)} bytes came"
                problems.append(Problem("response body", "", detail))
            return problems
        media_type = _media_type(response.headers.get("Content-Type"))
        if media_type not in content:
            detail = f"{media_type or '(none)'!r} is not one of: {', '.join(content)}"
            problems.append(Problem("response header", "Content-Type", detail))
            return problems
        try:
            document = json.loads(response.content)
        except ValueError as exc:
            problems.append(Problem("response body", "", f"not valid JSON ({exc})"))
            return problems
        schema_pointer = f"{pointer}/content/{pointer_to(media_type)[1:]}/schema"
        return problems + self.spec.problems(
            document, schema_pointer, part=f"response body ({code})"
        )

    def _response_header_problems(
        self, node: Mapping[str, Any], pointer: str, headers: httpx.Headers
    ) -> list[Problem]:
        problems: list[Problem] = []
        for name in node.get("headers", {}):
            _, header_pointer = self.spec.resolve(f"{pointer}/headers/{pointer_to(name)[1:]}")
            text = headers.get(name)
            if text is None:
                problems.append(Problem("response header", name, "declared but not sent"))
                continue
            schema_pointer = f"{header_pointer}/schema"
            value = coerce_text(text, self._schema(schema_pointer))
            problems += self.spec.problems(value, schema_pointer, part="response header", name=name)
        return problems

    def validate_response(self, response: httpx.Response) -> None:
        """Raise `ContractError` unless `response` keeps this operation's contract."""
        subject = f"{self.operation_id} response {response.status_code}"
        try:
            request = response.request
        except RuntimeError:
            pass
        else:
            raw_path = request.url.raw_path.decode("ascii").split("?", 1)[0]
            subject += f" to {request.method} {raw_path}"
        raise_if(subject, self.response_problems(response))


@functools.cache
def load_operation(operation_id: str) -> Operation:
    """The operation `operation_id`, parsed once per process.

    Raises:
        LookupError: The spec does not hold that operation.
    """
    return Operation(operation_id, load_document(SPEC_PATH))


class OperationSet:
    """Finds which of a known set of operations a request is for.

    Args:
        operation_ids: The operations the requests may be for.
    """

    def __init__(self, operation_ids: Iterable[str]) -> None:
        self.operations = tuple(load_operation(name) for name in operation_ids)

    def match(self, request: httpx.Request) -> Operation:
        """The operation whose method and path template fit `request` most specifically.

        Raises:
            ContractError: No operation of the set serves that method and path.
        """
        fitting = [operation for operation in self.operations if operation.matches(request)]
        if not fitting:
            raw = request.url.raw_path.decode("ascii").split("?", 1)[0]
            known = ", ".join(operation.operation_id for operation in self.operations)
            detail = f"served by none of: {known}"
            raise ContractError(f"request {request.method} {raw}", [Problem("path", "", detail)])
        return max(fitting, key=lambda operation: operation.literal_segments)


def validate_request(
    request: httpx.Request, operation_id: str, *, require_headers: Collection[str] = ()
) -> None:
    """Raise `ContractError` unless `request` keeps operation `operation_id`'s contract."""
    load_operation(operation_id).validate_request(request, require_headers=require_headers)


def validate_response(response: httpx.Response, operation_id: str) -> None:
    """Raise `ContractError` unless `response` keeps operation `operation_id`'s contract."""
    load_operation(operation_id).validate_response(response)

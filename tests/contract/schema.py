"""JSON Schema validation inside one OpenAPI 3.1 document, with precise failure locations.

An OpenAPI 3.1 schema is a JSON Schema 2020-12 schema, so `jsonschema` validates it directly
once the document's `#/components/...` references resolve: the whole document is registered as
one resource and every validation starts from a `$ref` into it. Two things are added on top:

- `discriminator`: Persona's `included` arrays are a `oneOf` of ~75 object kinds. A plain
  `oneOf` failure only says "not valid under any of the given schemas"; when the object's
  discriminating property names a mapped schema, the errors of that one schema are reported
  instead, which points at the offending field. The `oneOf` itself is still enforced.
- `format`: `date-time`, `date` and `int32` are asserted, because a client parses them.

Failures are returned as `Problem`s (part, field, detail) so the caller can say which
operation, which part of the exchange and which field broke the contract.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import jsonschema  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

__all__ = [
    "Problem",
    "SchemaDocument",
    "coerce_text",
    "format_field",
    "pointer_to",
    "schema_types",
]

_DETAIL_LIMIT = 240
_INT32 = (-(2**31), 2**31 - 1)

_format_checker = jsonschema.FormatChecker(formats=("date-time", "date"))


@_format_checker.checks("int32")  # type: ignore[untyped-decorator]
def _is_int32(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int):
        return True
    return _INT32[0] <= value <= _INT32[1]


@dataclass(frozen=True, slots=True)
class Problem:
    """One way an exchange breaks the contract.

    Attributes:
        part: Which part of the exchange, e.g. `request body`, `query parameter`.
        field: Which field inside that part (a JSON path, a parameter or header name), or
            an empty string when the part as a whole is wrong.
        detail: What is wrong with it.
    """

    part: str
    field: str
    detail: str

    def describe(self) -> str:
        """One line naming the part, the field and the fault."""
        where = f"{self.part} field {self.field!r}" if self.field else self.part
        return f"{where}: {self.detail}"


def format_field(path: Sequence[str | int]) -> str:
    """Spell a JSON instance path as `data.attributes.checks[0].status`."""
    spelled = ""
    for step in path:
        if isinstance(step, int):
            spelled += f"[{step}]"
        else:
            spelled += f".{step}" if spelled else str(step)
    return spelled or "(document root)"


def _short(text: str) -> str:
    return text if len(text) <= _DETAIL_LIMIT else text[: _DETAIL_LIMIT - 1] + "…"


def schema_types(schema: Mapping[str, Any]) -> list[str]:
    """The JSON types a schema's `type` keyword allows (none when it has no `type`)."""
    declared = schema.get("type")
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, list):
        return [str(item) for item in declared]
    return []


def coerce_text(text: str, schema: Mapping[str, Any]) -> Any:
    """Turn a header, path or query string into the JSON value its schema describes.

    A string that cannot be read as any of the schema's scalar types is returned unchanged,
    so the schema check that follows reports the type mismatch.
    """
    types = schema_types(schema)
    if "string" in types or not types:
        return text
    if "integer" in types:
        try:
            return int(text)
        except ValueError:
            pass
    if "number" in types:
        try:
            return float(text) if any(c in text for c in ".eE") else int(text)
        except ValueError:
            pass
    if "boolean" in types and text in ("true", "false"):
        return text == "true"
    if "array" in types:
        items = schema.get("items", {})
        return [coerce_text(part, items) for part in text.split(",")]
    return text


def _mapped_target(schema: Mapping[str, Any], instance: Any) -> tuple[str, Any, str | None]:
    """The discriminator's property, the instance's value of it, and the schema it maps to."""
    discriminator = schema.get("discriminator")
    if not isinstance(discriminator, Mapping) or not isinstance(instance, Mapping):
        return "", None, None
    prop = str(discriminator.get("propertyName", ""))
    value = instance.get(prop)
    mapping = discriminator.get("mapping") or {}
    target = mapping.get(value) if isinstance(value, str) else None
    return prop, value, target


def _discriminated_one_of(
    validator: Any, one_of: Sequence[Any], instance: Any, schema: Mapping[str, Any]
) -> Iterator[Any]:
    """`oneOf`, led by the discriminator when the schema has one.

    The schema the discriminator names is validated in full and its own errors are reported;
    every other branch must then fail, which `is_valid` decides at the first error. Without a
    usable discriminator this is the plain 2020-12 `oneOf`.
    """
    prop, value, target = _mapped_target(schema, instance)
    branches = [branch for branch in one_of if branch != {"$ref": target}]
    if target is None or len(branches) == len(one_of):
        if prop and value is not None and target is None:
            mapping = schema["discriminator"].get("mapping") or {}
            known = ", ".join(sorted(mapping))
            yield jsonschema.ValidationError(
                f"{prop} {value!r} is none of the mapped kinds ({_short(known)})"
            )
            return
        yield from _DRAFT_ONE_OF(validator, one_of, instance, schema)
        return
    specific = list(validator.descend(instance, {"$ref": target}, schema_path="discriminator"))
    if specific:
        yield from specific
        return
    also = [branch for branch in branches if validator.evolve(schema=branch).is_valid(instance)]
    if also:
        yield jsonschema.ValidationError(
            f"valid under {target} (its {prop} {value!r}) and also under {_short(str(also))}"
        )


_DRAFT_ONE_OF = jsonschema.Draft202012Validator.VALIDATORS["oneOf"]

_OpenApiValidator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator, {"oneOf": _discriminated_one_of}
)


def _missing_property(error: Any) -> str | None:
    """The property a `required` error is about, so the report can name it as the field."""
    if error.validator != "required" or not isinstance(error.instance, Mapping):
        return None
    for name in error.validator_value:
        if name not in error.instance and error.message == f"{name!r} is a required property":
            return str(name)
    return None


def _deepest(error: Any) -> Any:
    """Follow `anyOf`/`oneOf` failures down to the most relevant branch error."""
    while error.context:
        error = jsonschema.exceptions.best_match(error.context)
    return error


class SchemaDocument:
    """One loaded OpenAPI document whose schemas can be validated against.

    Args:
        uri: A unique name for the document (its `#/...` references resolve inside it).
        document: The parsed OpenAPI document.
    """

    def __init__(self, uri: str, document: Mapping[str, Any]) -> None:
        self.uri = uri
        self.document = document
        self._validators: dict[str, Any] = {}

    @cached_property
    def _registry(self) -> Registry[Any]:
        resource: Resource[Any] = DRAFT202012.create_resource(self.document)
        registry: Registry[Any] = Registry().with_resource(self.uri, resource)
        return registry

    def resolve(self, pointer: str) -> tuple[Any, str]:
        """The object at `pointer`, following `$ref` chains, and the pointer it was found at."""
        seen: set[str] = set()
        node = self._at(pointer)
        while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if ref in seen or not ref.startswith("#/"):
                raise ValueError(f"{self.uri}: unresolvable reference {ref!r}")
            seen.add(ref)
            pointer = ref[1:]
            node = self._at(pointer)
        return node, pointer

    def _at(self, pointer: str) -> Any:
        node: Any = self.document
        for token in pointer.split("/")[1:]:
            key = token.replace("~1", "/").replace("~0", "~")
            node = node[int(key)] if isinstance(node, list) else node[key]
        return node

    def _validator(self, pointer: str) -> Any:
        found = self._validators.get(pointer)
        if found is None:
            found = _OpenApiValidator(
                {"$ref": f"{self.uri}#{pointer}"},
                registry=self._registry,
                format_checker=_format_checker,
            )
            self._validators[pointer] = found
        return found

    def problems(
        self, instance: Any, pointer: str, *, part: str, name: str | None = None
    ) -> list[Problem]:
        """Validate `instance` against the schema at JSON pointer `pointer` of the document.

        Args:
            instance: The JSON value to check.
            pointer: Where the schema is in the document, e.g. `/components/schemas/inquiry`.
            part: The part of the exchange the value came from, for the report.
            name: The parameter or header the value came from; fields inside it are then
                spelled `name[key]`. Without it, fields are JSON paths of a body.

        Returns:
            One `Problem` per failing location, ordered by field, empty when valid.
        """
        located: list[tuple[list[str | int], Any]] = []
        for error in self._validator(pointer).iter_errors(instance):
            deepest = _deepest(error)
            located.append((list(deepest.absolute_path), deepest))
        found = []
        for path, error in located:
            if error.validator == "unevaluatedProperties" and _explained_below(path, located):
                continue
            detail = error.message
            missing = _missing_property(error)
            if missing is not None:
                path = [*path, missing]
                detail = "required property is missing"
            if name is None:
                field = format_field(path)
            else:
                field = name + "".join(f"[{step}]" for step in path)
            found.append(Problem(part=part, field=field, detail=_short(detail)))
        return sorted(found, key=lambda problem: problem.field)


def _explained_below(path: list[str | int], located: Sequence[tuple[list[str | int], Any]]) -> bool:
    """Whether another error sits inside the object at `path`.

    A subschema that fails does not count as having evaluated its properties, so one bad
    field inside an `allOf` also makes its parents report "unevaluated properties". Those
    echoes are dropped when the real error below them is reported.
    """
    depth = len(path)
    return any(len(other) > depth and other[:depth] == path for other, _ in located)


def pointer_to(*tokens: str) -> str:
    """Build a JSON pointer from raw tokens (escaping `~` and `/`)."""
    return "".join("/" + token.replace("~", "~0").replace("/", "~1") for token in tokens)

"""Reduce an OpenAPI 3.1 document to what contract validation reads.

Every object kind (operation, parameter, header, request body, response, media type, schema,
security scheme, example) has a list of the keys validation reads; documentation and other
annotations (`_ANNOTATIONS`, any `x-` extension) are dropped, and any other key is refused so
that a spec which starts using a new keyword is a decision, not a silent loss. Inside schemas,
names (of properties, `$defs`...) are kept as they are: a property called `description` is
data. Components are kept only when something kept refers to them, transitively.

What to keep (which operations, events, examples) is `regenerate.py`'s choice.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any, Final

from tests.contract.schema import pointer_to

__all__ = ["REDUCTION_NOTE", "reduce_documents"]

Node = dict[str, Any]
Reduce = Callable[[Any, str], Any]

#: Written into the document's `info`, so a reader knows it is not the full spec.
REDUCTION_NOTE: Final = (
    "Reduced by tests/contract/spec/regenerate.py to what contract validation reads; "
    "descriptions, examples and extensions are dropped."
)

#: What `info` keeps: enough to say what the copy is and under which licence.
_INFO: Final = ("title", "version", "license")
_HTTP_METHODS: Final = frozenset(
    {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
)
#: Keys nothing validates against: documentation, examples, annotations.
_ANNOTATIONS: Final = frozenset(
    {
        "$comment",
        "bearerFormat",
        "default",
        "deprecated",
        "description",
        "example",
        "examples",
        "externalDocs",
        "readOnly",
        "summary",
        "tags",
        "title",
        "writeOnly",
    }
)
_SCHEMA_VALUES: Final = frozenset(
    {
        "$ref",
        "const",
        "dependentRequired",
        "enum",
        "exclusiveMaximum",
        "exclusiveMinimum",
        "format",
        "maxContains",
        "maxItems",
        "maxLength",
        "maxProperties",
        "maximum",
        "minContains",
        "minItems",
        "minLength",
        "minProperties",
        "minimum",
        "multipleOf",
        "pattern",
        "required",
        "type",
        "uniqueItems",
    }
)
_SUBSCHEMA: Final = frozenset(
    {
        "additionalProperties",
        "contains",
        "else",
        "if",
        "items",
        "not",
        "propertyNames",
        "then",
        "unevaluatedItems",
        "unevaluatedProperties",
    }
)
_SUBSCHEMA_LISTS: Final = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_SUBSCHEMA_MAPS: Final = frozenset({"$defs", "dependentSchemas", "patternProperties", "properties"})


def _same(value: Any, where: str) -> Any:
    """Keep a value as it is (data: a `const`, an `enum`, a name...)."""
    return value


def _pick(node: Any, where: str, keep: Mapping[str, Reduce]) -> Node:
    """The keys of `node` that `keep` names, each reduced; annotations dropped, others refused."""
    if not isinstance(node, Mapping):
        raise ValueError(f"{where}: expected an object, found {type(node).__name__}")
    kept: Node = {}
    for key, value in node.items():
        if key in keep:
            kept[key] = keep[key](value, where + pointer_to(key))
        elif key not in _ANNOTATIONS and not key.startswith("x-"):
            raise ValueError(
                f"{where}: unknown keyword {key!r}; decide whether validation reads it"
            )
    return kept


def _each(reduce: Reduce) -> Reduce:
    """Reduce every item of a list with `reduce`."""
    return lambda items, where: [reduce(item, f"{where}/{i}") for i, item in enumerate(items)]


def _every(reduce: Reduce) -> Reduce:
    """Reduce every value of a name-keyed object with `reduce` (the names are kept as they are)."""
    return lambda node, where: {
        name: reduce(value, where + pointer_to(name)) for name, value in node.items()
    }


def _or_reference(reduce: Reduce) -> Reduce:
    """A Reference Object keeps only its `$ref`; anything else is reduced with `reduce`."""
    return lambda node, where: (
        {"$ref": node["$ref"]}
        if isinstance(node, Mapping) and "$ref" in node
        else reduce(node, where)
    )


def _schema(node: Any, where: str) -> Any:
    """A schema with its validation keywords only (a boolean schema as it is)."""
    if isinstance(node, bool):
        return node
    return _pick(node, where, _SCHEMA_KEEP)


_SCHEMA_KEEP: Final[Mapping[str, Reduce]] = {
    **dict.fromkeys(_SCHEMA_VALUES, _same),
    **dict.fromkeys(_SUBSCHEMA, _schema),
    **dict.fromkeys(_SUBSCHEMA_LISTS, _each(_schema)),
    **dict.fromkeys(_SUBSCHEMA_MAPS, _every(_schema)),
    "discriminator": lambda node, where: _pick(
        node, where, {"propertyName": _same, "mapping": _same}
    ),
}
_CONTENT: Final = _every(lambda node, where: _pick(node, where, {"schema": _schema}))
_PARAMETER: Final = _or_reference(
    lambda node, where: _pick(
        node,
        where,
        {
            "name": _same,
            "in": _same,
            "required": _same,
            "style": _same,
            "explode": _same,
            "schema": _schema,
        },
    )
)
_HEADER: Final = _or_reference(
    lambda node, where: _pick(
        node, where, {"required": _same, "style": _same, "explode": _same, "schema": _schema}
    )
)
_REQUEST_BODY: Final = _or_reference(
    lambda node, where: _pick(node, where, {"required": _same, "content": _CONTENT})
)
_RESPONSE: Final = _or_reference(
    lambda node, where: _pick(node, where, {"headers": _every(_HEADER), "content": _CONTENT})
)
_OPERATION: Final[Mapping[str, Reduce]] = {
    "operationId": _same,
    "parameters": _each(_PARAMETER),
    "requestBody": _REQUEST_BODY,
    "responses": _every(_RESPONSE),
    "security": _same,
}
#: How each kind of component is reduced (and the order kinds are written in).
_COMPONENTS: Final[Mapping[str, Reduce]] = {
    "securitySchemes": _or_reference(
        lambda node, where: _pick(
            node, where, {"type": _same, "scheme": _same, "in": _same, "name": _same}
        )
    ),
    "parameters": _PARAMETER,
    "headers": _HEADER,
    "requestBodies": _REQUEST_BODY,
    "responses": _RESPONSE,
    "schemas": _schema,
    "examples": _or_reference(lambda node, where: _pick(node, where, {"value": _same})),
}
_SERVERS: Final = _each(lambda node, where: _pick(node, where, {"url": _same}))


def _path_item(item: Mapping[str, Any], where: str, methods: Sequence[str]) -> Node:
    """The path-level parameters and the operations `methods` of a Path Item."""
    keep: dict[str, Reduce] = {"parameters": _each(_PARAMETER)}
    keep.update((method, lambda node, at: _pick(node, at, _OPERATION)) for method in methods)
    wanted = {key: value for key, value in item.items() if key not in _HTTP_METHODS or key in keep}
    return _pick(wanted, where, keep)


def _methods(item: Mapping[str, Any]) -> list[str]:
    """The HTTP methods a Path Item defines."""
    return [key for key in item if key in _HTTP_METHODS]


def _references(node: Any) -> Iterator[str]:
    """Every component `node` refers to: `$ref`s, discriminator mappings, security schemes."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            if key == "discriminator" and isinstance(value, Mapping):
                yield from (value.get("mapping") or {}).values()
            if key == "security" and isinstance(value, list):
                for requirement in value:
                    for name in requirement:
                        yield "#" + pointer_to("components", "securitySchemes", name)
            yield from _references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _references(item)


def _component(reference: str) -> tuple[str, str]:
    """The (kind, name) of the component a `#/components/<kind>/<name>...` reference is in."""
    tokens = [token.replace("~1", "/").replace("~0", "~") for token in reference.split("/")]
    if len(tokens) < 4 or tokens[:2] != ["#", "components"] or tokens[2] not in _COMPONENTS:
        raise ValueError(f"reference {reference!r} is not to a component")
    return tokens[2], tokens[3]


def _with_components(components: Mapping[str, Any], body: Node, examples: Collection[str]) -> Node:
    """`body` plus the reduced components it reaches, transitively, and the named examples."""
    found: dict[str, Node] = {}
    pending = [*(("examples", name) for name in sorted(examples))]
    pending += map(_component, _references(body))
    while pending:
        kind, name = pending.pop()
        if name in found.setdefault(kind, {}):
            continue
        try:
            node = components[kind][name]
        except KeyError:
            raise ValueError(f"component {kind}/{name} is not in the source") from None
        reduced = _COMPONENTS[kind](node, pointer_to("components", kind, name))
        found[kind][name] = reduced
        pending += map(_component, _references(reduced))
    kept = {kind: dict(sorted(found[kind].items())) for kind in _COMPONENTS if found.get(kind)}
    return {**body, "components": kept}


def _merged_components(sources: Sequence[Mapping[str, Any]]) -> Node:
    """The components of every source document; one name must mean one thing in all of them."""
    merged: dict[str, Node] = {}
    for source in sources:
        for kind, items in source.get("components", {}).items():
            known = merged.setdefault(kind, {})
            for name, node in items.items():
                if known.setdefault(name, node) != node:
                    raise ValueError(f"component {kind}/{name} differs between source documents")
    return merged


def _one(values: Sequence[Any], what: str) -> Any:
    """The value every source document agrees on."""
    if any(value != values[0] for value in values):
        raise ValueError(f"the source documents disagree on {what}")
    return values[0]


def _locate(source: Mapping[str, Any], operation_id: str) -> tuple[str, str]:
    """The path and method of operation `operation_id` in `source`."""
    found = [
        (path, method)
        for path, item in source.get("paths", {}).items()
        for method, operation in item.items()
        if method in _HTTP_METHODS and operation.get("operationId") == operation_id
    ]
    if len(found) != 1:
        raise ValueError(f"{operation_id}: expected one operation in the source, found {found}")
    return found[0]


def _paths(operations: Mapping[str, Mapping[str, Any]]) -> Node:
    """The reduced path items of the operations, sorted by path."""
    paths: dict[str, Node] = {}
    for operation_id, source in operations.items():
        path, method = _locate(source, operation_id)
        where = pointer_to("paths", path)
        item = _path_item(source["paths"][path], where, [method])
        kept = paths.setdefault(path, {k: v for k, v in item.items() if k == "parameters"})
        if kept.get("parameters") != item.get("parameters"):
            raise ValueError(f"{where}: path parameters differ between source documents")
        kept[method] = item[method]
    return {path: paths[path] for path in sorted(paths)}


def reduce_documents(
    operations: Mapping[str, Mapping[str, Any]],
    webhooks: Mapping[str, Any],
    *,
    events: Callable[[str], bool],
    examples: Collection[str] = (),
) -> Node:
    """One reduced, self-contained document of the operations and webhook events kept.

    Args:
        operations: For each operationId to keep, a source document that holds it (the same
            bundled document for all, or one subset each).
        webhooks: A source document that holds the webhook events.
        events: Whether to keep the webhook event of that name.
        examples: `components/examples` to keep although nothing kept refers to them.

    Raises:
        ValueError: An unknown keyword, a missing component or operation, or source
            documents that disagree.
    """
    sources = [*operations.values(), webhooks]
    info = _one([{key: s["info"][key] for key in _INFO} for s in sources], "info")
    servers = _one([_SERVERS(s["servers"], "/servers") for s in operations.values()], "servers")
    body: Node = {
        "openapi": _one([source["openapi"] for source in sources], "the OpenAPI version"),
        "info": {**info, "x-reduction": REDUCTION_NOTE},
        "servers": servers,
        "security": _one([source["security"] for source in operations.values()], "security"),
        "paths": _paths(operations),
        "webhooks": {
            name: _path_item(item, pointer_to("webhooks", name), _methods(item))
            for name, item in sorted(webhooks["webhooks"].items())
            if events(name)
        },
    }
    return _with_components(_merged_components(sources), body, examples)

"""Request-body checks with Persona's wording (`data.attributes.note must be a string`).

Persona's 2025-12-08 request schemas are closed (`additionalProperties: false`), so unknown keys
are refused with 400 here too; that is how a client that drifts from the contract finds out.
Request keys may arrive in kebab-, snake- or camelCase (Persona accepts all three); they are
normalised to kebab-case first, except inside `fields`, whose keys are never inflected.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from persona_sandbox.errors import bad_request

__all__ = ["Obj", "normalize_keys", "root"]

_CAMEL: Final = re.compile(r"(?<=[a-z0-9])([A-Z])")
_VERBATIM: Final = frozenset({"fields"})


def _kebab(key: str) -> str:
    return _CAMEL.sub(r"-\1", key).replace("_", "-").lower()


def normalize_keys(value: Any) -> Any:
    """Kebab-case every object key, leaving the contents of `fields` as sent."""
    if isinstance(value, list):
        return [normalize_keys(item) for item in value]
    if isinstance(value, dict):
        return {
            _kebab(key): (item if _kebab(key) in _VERBATIM else normalize_keys(item))
            for key, item in value.items()
        }
    return value


def _describe(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", bool: "a boolean", int: "an integer", list: "an array"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(item, "an object") for item in kinds)


class Obj:
    """A JSON object at a dotted path, with typed accessors that raise Persona's 400s.

    Args:
        value: the JSON value expected to be an object.
        path: its dotted path for messages (`data.attributes`).
        allowed: the keys it may have; others are refused.
    """

    def __init__(self, value: Any, path: str, allowed: Iterable[str]) -> None:
        if not isinstance(value, dict):
            raise bad_request(f"{path or 'The request body'} must be an object")
        unknown = sorted(set(value) - set(allowed))
        self.value: Mapping[str, Any] = value
        self.path = path
        if unknown:
            raise bad_request(f"{self._at(unknown[0])} is not a permitted parameter")

    def _at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def __contains__(self, key: str) -> bool:
        return key in self.value

    def _get(self, key: str, kind: type | tuple[type, ...], *, nullable: bool) -> Any:
        value = self.value.get(key)
        if value is None:
            if key in self.value and not nullable:
                raise bad_request(f"{self._at(key)} must be {_describe(kind)}")
            return None
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if not ok:
            raise bad_request(f"{self._at(key)} must be {_describe(kind)}")
        return value

    def string(self, key: str, *, nullable: bool = True) -> str | None:
        """An optional string."""
        value: str | None = self._get(key, str, nullable=nullable)
        return value

    def required_str(self, key: str) -> str:
        """A string that must be present and non-empty."""
        value = self.string(key, nullable=False)
        if not value:
            raise bad_request(f"{self._at(key)} is missing")
        return value

    def boolean(self, key: str) -> bool | None:
        """An optional boolean."""
        value: bool | None = self._get(key, bool, nullable=False)
        return value

    def integer(self, key: str, *, nullable: bool = True) -> int | None:
        """An optional integer."""
        value: int | None = self._get(key, int, nullable=nullable)
        return value

    def number(self, key: str) -> float | None:
        """An optional number (integer or decimal)."""
        value = self._get(key, (int, float), nullable=True)
        return None if value is None else float(value)

    def strings(self, key: str) -> list[str] | None:
        """An optional array of strings."""
        value: list[Any] | None = self._get(key, list, nullable=True)
        if value is not None and not all(isinstance(item, str) for item in value):
            raise bad_request(f"{self._at(key)} must be an array of strings")
        return value

    def obj(self, key: str, allowed: Iterable[str]) -> Obj | None:
        """A nested object, or None when absent or null."""
        value = self.value.get(key)
        return None if value is None else Obj(value, self._at(key), allowed)

    def required_obj(self, key: str, allowed: Iterable[str]) -> Obj:
        """A nested object that must be present."""
        value = self.value.get(key)
        if value is None:
            raise bad_request(f"{self._at(key)} is missing")
        return Obj(value, self._at(key), allowed)

    def raw(self, key: str) -> Any:
        """The value as sent."""
        return self.value.get(key)


def root(body: Any, allowed: Iterable[str]) -> Obj:
    """The request body as an `Obj`; a missing body counts as `{}`."""
    return Obj({} if body is None else body, "", allowed)

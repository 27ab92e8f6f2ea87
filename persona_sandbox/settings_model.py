"""The base of the sandbox's settings: frozen pydantic models with plain-worded errors.

`SandboxConfig`, `FaultSettings` and `WebhookSettings` are built from Python (tests, the
demo), from the command line and from JSON sent to the admin routes. They validate the same
way in all three: pydantic checks each field against its declared type and range, with strict
scalars, so a JSON `true` is not a rate and `"1"` is not a number. A failure raises
`SettingsError` (a `ValueError`) whose message names each bad field in a sentence, such as
`error_rate must be at most 1`, and never repeats the value (secrets pass through here).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, ClassVar, Final, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, ValidationError
from pydantic_core import ErrorDetails

__all__ = [
    "NonNegative",
    "Number",
    "Positive",
    "Rate",
    "SettingsError",
    "SettingsModel",
    "predicate",
]

#: A JSON number: an int or a float, never a bool or a string.
Number = Annotated[float, Strict()]
#: A share of requests or events, from 0 to 1.
Rate = Annotated[float, Strict(), Field(ge=0.0, le=1.0)]
#: Seconds (or milliseconds) that may be 0 but not negative.
NonNegative = Annotated[float, Strict(), Field(ge=0.0)]
#: Seconds (or a factor) above 0.
Positive = Annotated[float, Strict(), Field(gt=0.0)]

#: How each pydantic error type reads after the field's name.
_PHRASES: Final[Mapping[str, str]] = {
    "bool_type": "must be a boolean",
    "dict_type": "must be an object",
    "float_type": "must be a number",
    "frozen_set_type": "must be a list",
    "greater_than": "must be above {gt}",
    "greater_than_equal": "must be at least {ge}",
    "int_type": "must be an integer",
    "less_than": "must be below {lt}",
    "less_than_equal": "must be at most {le}",
    "list_type": "must be a list",
    "missing": "is required",
    "string_too_short": "must not be empty",
    "string_type": "must be a string",
    "too_long": "must have at most {max_length} items",
    "too_short": "must not be empty",
    "tuple_type": "must be a list",
}


class SettingsError(ValueError):
    """Settings that do not validate; the message names each bad field, never its value.

    Args:
        noun: what the settings are called ("fault settings").
        details: pydantic's errors, without their input.
    """

    def __init__(self, noun: str, details: list[ErrorDetails]) -> None:
        self.details = details
        super().__init__(describe(details, noun))


def predicate(check: Callable[[Any], bool], phrase: str) -> AfterValidator:
    """A field check that reads `<field> <phrase>` when `check(value)` is false."""

    def validate(value: Any) -> Any:
        if not check(value):
            raise ValueError(phrase)
        return value

    return AfterValidator(validate)


def _where(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f"{'.' if text else ''}{part}"
    return text


def _number(value: Any) -> Any:
    return f"{value:g}" if isinstance(value, float) else value


def _sentence(error: ErrorDetails) -> str:
    where = _where(error["loc"])
    context = error.get("ctx") or {}
    if error["type"] == "value_error":
        # Our own checks raise a phrase ("must look like ...") or, for the whole model, a
        # sentence of its own; pydantic keeps the exception in the context.
        phrase = str(context.get("error", error["msg"]))
    elif error["type"] in _PHRASES:
        phrase = _PHRASES[error["type"]].format(
            **{key: _number(value) for key, value in context.items()}
        )
    else:
        phrase = f"is invalid ({error['msg']})"
    return f"{where} {phrase}" if where else phrase


def _flatten(details: list[ErrorDetails]) -> list[ErrorDetails]:
    """The errors with those of nested settings (raised by their `__init__`) in their place."""
    flat: list[ErrorDetails] = []
    for item in details:
        inner = (item.get("ctx") or {}).get("error")
        if isinstance(inner, SettingsError):
            flat += [{**nested, "loc": item["loc"] + nested["loc"]} for nested in inner.details]
        else:
            flat.append(item)
    # A list whose items failed also reports itself too short (it counts the valid ones only).
    lists = {i["loc"][:-1] for i in flat if i["loc"] and isinstance(i["loc"][-1], int)}
    return [i for i in flat if not (i["type"] == "too_short" and i["loc"] in lists)]


def describe(details: list[ErrorDetails], noun: str) -> str:
    """One line for all of a validation's errors: unknown fields first, then each bad one."""
    details = _flatten(details)
    unknown = sorted(_where(item["loc"]) for item in details if item["type"] == "extra_forbidden")
    sentences = [f"unknown {noun}: {', '.join(unknown)}"] if unknown else []
    sentences += [_sentence(item) for item in details if item["type"] != "extra_forbidden"]
    return "; ".join(sentences)


class SettingsModel(BaseModel):
    """Frozen, closed settings that raise `SettingsError` (a `ValueError`) when invalid."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    #: What an unknown field is called in messages ("unknown fault settings: colour").
    noun: ClassVar[str] = "settings"

    def __init__(self, /, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            details = exc.errors(include_url=False, include_input=False)
            raise SettingsError(self.noun, details) from None

    def updated(self, changes: Mapping[str, Any]) -> Self:
        """A copy with some fields changed, from JSON-like data (lists for tuples and sets).

        Raises:
            SettingsError: an unknown field, or a value of the wrong type or range.
        """
        return type(self)(**{**dict(self), **changes})

    def to_json(self) -> dict[str, Any]:
        """The settings as JSON-ready data (what the admin routes show)."""
        return self.model_dump(mode="json")

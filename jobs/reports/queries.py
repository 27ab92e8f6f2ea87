"""Report types and their queries, as Persona's 2025-12-08 request schemas define them (pure).

A report's `query` is what Persona searches for: name parts or a `term`, a birthdate and a
country. Each type has its own closed schema (`report-<type>-request` in create-a-report): the
watchlist names the country `address-country-code`, the PEP and adverse-media reports
`country-code`; each needs at least one of `name-first`, `name-middle`, `name-last` or `term`.
Queries are validated here with the keys Persona uses, so a bad one is refused at the job
boundary naming the key (never its value: names and birthdates are personal data).

`query_from_fields` builds a screening query from an inquiry's fields (Persona's default field
keys `name-first`, `name-middle`, `name-last`, `birthdate`, `address-country-code`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any, Final, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

__all__ = [
    "REPORT_TYPES",
    "ReportType",
    "describe_query_error",
    "parse_query",
    "persona_type",
    "query_from_fields",
]

#: The report types a job may run: Persona's screenings of one person.
ReportType = Literal["watchlist", "politically-exposed-person", "adverse-media"]
REPORT_TYPES: Final[tuple[str, ...]] = get_args(ReportType)
#: Name parts of which a query needs at least one.
NAME_KEYS: Final = ("name-first", "name-middle", "name-last", "term")
_MAX_TEXT: Final = 200


def persona_type(report_type: str) -> str:
    """Persona's resource type of a report type: `report/watchlist`."""
    return f"report/{report_type}"


def _text(value: str) -> str:
    if not value.strip() or not value.isprintable():
        raise ValueError("must be printable text")
    return value


def _birthdate(value: str) -> str:
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise ValueError("must be a date formatted YYYY-MM-DD") from None
    if len(value) != 10 or parsed.isoformat() != value:
        raise ValueError("must be a date formatted YYYY-MM-DD")
    return value


Text = Annotated[str, Field(min_length=1, max_length=_MAX_TEXT), AfterValidator(_text)]
Birthdate = Annotated[str, AfterValidator(_birthdate)]
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]


class _PersonQuery(BaseModel):
    """The name parts and birthdate every person screening takes (kebab-case keys)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    name_first: Text | None = Field(default=None, alias="name-first")
    name_middle: Text | None = Field(default=None, alias="name-middle")
    name_last: Text | None = Field(default=None, alias="name-last")
    term: Text | None = None
    birthdate: Birthdate | None = None

    @model_validator(mode="after")
    def _some_name(self) -> _PersonQuery:
        if not any((self.name_first, self.name_middle, self.name_last, self.term)):
            raise ValueError(f"needs at least one of {', '.join(NAME_KEYS)}")
        return self


class WatchlistQuery(_PersonQuery):
    """`report-watchlist-request`'s query."""

    address_country_code: CountryCode | None = Field(default=None, alias="address-country-code")


class PersonQuery(_PersonQuery):
    """`report-politically-exposed-person-request`'s and `report-adverse-media-request`'s."""

    country_code: CountryCode | None = Field(default=None, alias="country-code")


_MODELS: Final[Mapping[str, type[_PersonQuery]]] = {
    "watchlist": WatchlistQuery,
    "politically-exposed-person": PersonQuery,
    "adverse-media": PersonQuery,
}
#: Where each type's query takes the country from an inquiry's `address-country-code`.
_COUNTRY_KEY: Final = {
    "watchlist": "address-country-code",
    "politically-exposed-person": "country-code",
    "adverse-media": "country-code",
}


def describe_query_error(error: ValidationError) -> str:
    """What is wrong with a query, key by key, without its values."""
    parts = []
    for item in error.errors(include_input=False, include_url=False, include_context=False):
        where = ".".join(str(part) for part in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def parse_query(report_type: str, raw: Any) -> dict[str, str]:
    """A report type's query, checked against its schema; only the keys given, never null.

    Raises:
        ValueError: the type is not one of `REPORT_TYPES`, or the query does not fit it; the
            message names the keys, never the values.
    """
    model = _MODELS.get(report_type)
    if model is None:
        raise ValueError(f"unknown report type; one of {', '.join(REPORT_TYPES)}")
    if not isinstance(raw, dict):
        raise ValueError("must be an object")
    try:
        parsed = model.model_validate(raw)
    except ValidationError as exc:
        raise ValueError(describe_query_error(exc)) from None
    return parsed.model_dump(by_alias=True, exclude_none=True)


def query_from_fields(report_type: str, fields: Mapping[str, Any]) -> dict[str, str] | None:
    """A screening query from an inquiry's field values; None when they name nobody.

    Parts that do not fit the schema (a birthdate Persona holds in another form, a country
    that is not two capitals) are left out rather than failing the screening.
    """
    candidates = {
        "name-first": fields.get("name-first"),
        "name-middle": fields.get("name-middle"),
        "name-last": fields.get("name-last"),
        "birthdate": fields.get("birthdate"),
        _COUNTRY_KEY[report_type]: fields.get("address-country-code"),
    }
    query = {key: value for key, value in candidates.items() if isinstance(value, str) and value}
    model = _MODELS[report_type]
    for key in ("birthdate", _COUNTRY_KEY[report_type]):
        if key in query:
            try:
                model.model_validate({"term": "x", key: query[key]})
            except ValidationError:
                del query[key]
    try:
        return parse_query(report_type, query)
    except ValueError:
        return None

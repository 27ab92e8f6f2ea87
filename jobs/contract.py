"""The job contract: names, argument models and the JSON wire format.

Producers in any language enqueue a job by writing arq's two keys themselves (see README,
"Job wire format"); everything on the wire is JSON, never pickle, because pickle would let
anyone who can write to Redis run code in the worker. Arguments are keyword-only JSON values,
validated here at the job boundary; a job whose arguments do not validate fails once with a
`job.failed` event and is never retried.
"""

from __future__ import annotations

import json
import re
import time
from datetime import date, datetime
from typing import Annotated, Any, Final, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from jobs.errors import KNOWN_ERRORS, JobArgumentsError
from jobs.persona.templates import TEMPLATE_ID_KINDS, is_template_id
from jobs.reports.queries import ReportType, parse_query

__all__ = [
    "ACCOUNT_RELATIONS",
    "CREATE_INQUIRY",
    "DECIDE_INQUIRY",
    "FETCH_VERIFICATION",
    "MAX_LINK_EXPIRY_S",
    "POLL_INQUIRY",
    "REDACT_INQUIRY",
    "REFRESH_LINK",
    "RUN_REPORT",
    "SET_CASE_STATUS",
    "AccountRelationsArgs",
    "CreateInquiryArgs",
    "DecideInquiryArgs",
    "Decision",
    "InquiryArgs",
    "JobArgs",
    "RefreshLinkArgs",
    "RunReportArgs",
    "SetCaseStatusArgs",
    "describe_validation_error",
    "json_deserializer",
    "json_serializer",
    "parse_args",
    "valid_reference_id",
]

CREATE_INQUIRY: Final = "create_inquiry"
POLL_INQUIRY: Final = "poll_inquiry"
FETCH_VERIFICATION: Final = "fetch_verification"
DECIDE_INQUIRY: Final = "decide_inquiry"
REFRESH_LINK: Final = "refresh_link"
REDACT_INQUIRY: Final = "redact_inquiry"
SET_CASE_STATUS: Final = "set_case_status"
ACCOUNT_RELATIONS: Final = "account_relations"
RUN_REPORT: Final = "run_report"
#: What a payload the worker cannot read becomes (`json_deserializer`): a job that answers its
#: request with `job.failed` saying why.
UNREADABLE_JOB: Final = "unreadable_job"

# Persona ids are opaque and have changed length and prefix before: only keep them printable,
# short and free of separators that would break our Redis keys or URLs.
_ID = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")
_MAX_FIELDS = 50
_MAX_FIELD_VALUE = 2_000

Identifier = Annotated[str, Field(pattern=_ID.pattern)]


def _printable(value: str) -> str:
    if not value.isprintable() or value != value.strip():
        raise ValueError("must be printable with no surrounding whitespace")
    return value


#: Refuses text a person chose (a reference id, a case status) unless it is printable, without
#: surrounding whitespace; after the field's own constraints.
PRINTABLE = AfterValidator(_printable)
FieldScalar = str | int | float | bool | None


class JobArgs(BaseModel):
    """Base of every job's arguments: strict JSON types, no unknown keys.

    NaN and infinities are refused: they are not JSON (Python's parser reads them anyway), and
    a request carrying one could never be sent to Persona.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class InquiryArgs(JobArgs):
    """Arguments of jobs that act on one existing inquiry."""

    inquiry_id: Identifier


class CreateInquiryArgs(JobArgs):
    """Arguments of `create_inquiry`."""

    reference_id: Annotated[str, Field(min_length=1, max_length=255), PRINTABLE]
    template_id: str | None = None
    fields: dict[str, FieldScalar] | None = None
    account_id: Identifier | None = None
    note: Annotated[str, Field(max_length=2_000)] | None = None
    tags: (
        Annotated[list[Annotated[str, Field(min_length=1, max_length=255)]], Field(max_length=20)]
        | None
    ) = None
    redirect_uri: Annotated[str, Field(max_length=2_000, pattern=r"^https?://\S+$")] | None = None
    reports: Annotated[list[ReportType], Field(min_length=1, max_length=3)] | None = None
    """Reports run for the person once the inquiry is approved or completed (screening)."""

    @field_validator("reports")
    @classmethod
    def _distinct_reports(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("each report type at most once")
        return value

    @field_validator("template_id")
    @classmethod
    def _template_kind(cls, value: str | None) -> str | None:
        if value is not None and not (is_template_id(value) and _ID.match(value)):
            raise ValueError(f"must be an {TEMPLATE_ID_KINDS} id")
        return value

    @field_validator("fields")
    @classmethod
    def _bounded_fields(cls, value: dict[str, FieldScalar] | None) -> dict[str, FieldScalar] | None:
        if value is None:
            return None
        if len(value) > _MAX_FIELDS:
            raise ValueError(f"at most {_MAX_FIELDS} fields")
        for key, item in value.items():
            if not _ID.match(key):
                raise ValueError("field names are letters, digits, '-' and '_'")
            if isinstance(item, str) and len(item) > _MAX_FIELD_VALUE:
                raise ValueError(f"field values are at most {_MAX_FIELD_VALUE} characters")
        return value


Decision = Literal["approve", "decline", "mark_for_review"]
#: Longest one-time link lifetime we ask for: Persona's own default is 24 hours.
MAX_LINK_EXPIRY_S: Final = 30 * 86_400


class DecideInquiryArgs(InquiryArgs):
    """Arguments of `decide_inquiry`: a reviewer's decision on one inquiry."""

    decision: Decision
    comment: Annotated[str, Field(min_length=1, max_length=2_000)] | None = None

    @model_validator(mode="after")
    def _comment_needs_approve_or_decline(self) -> DecideInquiryArgs:
        # Persona's mark-for-review takes no body: a comment would be silently lost.
        if self.comment is not None and self.decision == "mark_for_review":
            raise ValueError("comment: only approve and decline take a comment")
        return self


class RefreshLinkArgs(InquiryArgs):
    """Arguments of `refresh_link`: a new one-time link, resuming an expired inquiry first."""

    expires_in_seconds: Annotated[int, Field(gt=0, le=MAX_LINK_EXPIRY_S)] | None = None


class SetCaseStatusArgs(JobArgs):
    """Arguments of `set_case_status`: a status of the case's template, e.g. `Approved`."""

    case_id: Identifier
    status: Annotated[str, Field(min_length=1, max_length=100), PRINTABLE]


class AccountRelationsArgs(JobArgs):
    """Arguments of `account_relations`: the account and the relation key to list."""

    account_id: Identifier
    key: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_\-.]+$")]


class RunReportArgs(JobArgs):
    """Arguments of `run_report`: one report about one person, tied to an account.

    `query` is checked against the type's request schema (`jobs.reports.queries`); the person
    is named by `reference_id` (their account at Persona, created if need be) or `account_id`.
    """

    report_type: ReportType
    query: dict[str, Any]
    reference_id: Annotated[str, Field(min_length=1, max_length=255), PRINTABLE] | None = None
    account_id: Identifier | None = None
    report_template_id: Annotated[str, Field(pattern=r"^rptp_[A-Za-z0-9_\-]{1,120}$")] | None = None

    @field_validator("query")
    @classmethod
    def _query_fits_its_type(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        report_type = info.data.get("report_type")
        if report_type is not None:
            parse_query(report_type, value)
        return value

    @model_validator(mode="after")
    def _one_person(self) -> RunReportArgs:
        if (self.reference_id is None) == (self.account_id is None):
            raise ValueError("give reference_id or account_id (one of them)")
        return self

    @property
    def persona_query(self) -> dict[str, str]:
        """The query as Persona takes it: only the keys given."""
        return parse_query(self.report_type, self.query)


ArgsT = TypeVar("ArgsT", bound=JobArgs)


#: Longest integer literal read as a number: Python's own limit for `int(str)`.
_MAX_INT_DIGITS: Final = 4_300


def describe_validation_error(error: ValidationError) -> str:
    """Say what is wrong with each argument without echoing the values (they may be PII)."""
    parts = []
    for item in error.errors(include_input=False, include_url=False, include_context=False):
        where = ".".join(str(part) for part in item["loc"]) or "arguments"
        parts.append(f"{where}: {item['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def valid_reference_id(value: Any) -> str | None:
    """`value` if it is a valid `reference_id`, else None: what a `job.failed` may repeat.

    A request refused for its arguments still names the caller's id for the person, but only
    one that passes the contract: an invalid one (a megabyte of text, control characters)
    would otherwise be copied into the results stream as it came.
    """
    try:
        return CreateInquiryArgs.model_validate({"reference_id": value}).reference_id
    except ValidationError:
        return None


def parse_args(model: type[ArgsT], args: tuple[Any, ...], kwargs: dict[str, Any]) -> ArgsT:
    """Validate a job's arguments, raising `JobArgumentsError` with a value-free message."""
    if args:
        raise JobArgumentsError(f"arguments must be keyword-only; got {len(args)} positional")
    try:
        return model.model_validate(kwargs)
    except ValidationError as exc:
        raise JobArgumentsError(describe_validation_error(exc)) from None


def _to_json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, KNOWN_ERRORS):
        return {"error": value.to_dict()}
    if isinstance(value, BaseException):
        # Foreign exceptions (arq's own, cancellations) keep their type and a short message.
        return {"error": {"type": type(value).__name__, "message": str(value)[:500]}}
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


#: The keys by which arq's dict is a job's result rather than a job (`arq.jobs.serialize_result`).
_RESULT_KEYS: Final = frozenset({"s", "r", "ft"})


def json_serializer(data: dict[str, Any]) -> bytes:
    """arq's `job_serializer`: compact JSON, exceptions described rather than pickled.

    A stored result leaves out the job's arguments (`"a": [], "k": {}`): a create's hold the
    person's fields, which would otherwise stay in Redis for a day after the answer, and they
    are the larger part of each result (a followed inquiry's memory counts them).
    """
    if data.keys() >= _RESULT_KEYS:
        data = {**data, "a": [], "k": {}}
    return json.dumps(data, default=_to_json, separators=(",", ":")).encode()


class OversizedInteger:
    """An integer literal longer than Python reads by default: kept as a marker, so argument
    validation refuses its field by name instead of the whole payload failing to decode."""

    __slots__ = ("digits",)

    def __init__(self, digits: int) -> None:
        self.digits = digits

    def __repr__(self) -> str:
        return f"<integer of {self.digits} digits>"


def _read_int(literal: str) -> int | OversizedInteger:
    if len(literal.lstrip("-")) > _MAX_INT_DIGITS:
        return OversizedInteger(len(literal))
    return int(literal)


def _unreadable(reason: str) -> dict[str, Any]:
    """A payload arq could not run, as a job that answers its request (`UNREADABLE_JOB`)."""
    now_ms = int(time.time() * 1000)
    return {"f": UNREADABLE_JOB, "a": [], "k": {"reason": reason}, "t": None, "et": now_ms}


def json_deserializer(raw: bytes) -> dict[str, Any]:
    """arq's `job_deserializer`: JSON only.

    A payload that is not a JSON job (pickle, a truncated write, a number of 5,000 digits that
    the parser refuses) does not fail inside arq, where its request would get no answer: it
    becomes an `UNREADABLE_JOB` whose run answers the job id with `job.failed`.
    """
    try:
        value = json.loads(raw, parse_int=_read_int)
    except (ValueError, RecursionError):
        return _unreadable("the job is not JSON (jobs are JSON objects, never pickle)")
    if not isinstance(value, dict) or not isinstance(value.get("f"), str):
        return _unreadable("the job is not a JSON object naming its function")
    return value

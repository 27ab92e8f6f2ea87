"""Did every request end exactly once? The accounting of a chaos run, from its evidence.

Evidence: the requests the run enqueued, every entry of the results stream, what the request
ledger says (the stream entry that answered each request, and how many requests it still
holds open) and what the sandbox saw (its `creates_by_idempotency_key` counter and its
`inquiry.created` events). Every event names the request it answers (`request_id`). The
verdict lists, by request, anything that breaks a guarantee:

- lost: a request with no terminal event;
- duplicated: a request with more than one;
- unexpected: an event that answers no request the run made;
- ledger disagrees: a request whose ledger record does not name its one event's stream entry
  as its answer (or has no answer), and any request the ledger still holds open;
- wrong outcome: a well-formed request that ended in `job.failed`, or a malformed one that
  did not;
- extra creates: a create job (or a reference id) with more or fewer Persona inquiries than
  one (none for a malformed request);
- mismatched: a result naming an inquiry created for another person;
- leaks: the API key or the webhook secret anywhere in the events or the sandbox's records.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jobs.state.results import ResultEvent

__all__ = ["LedgerEvidence", "Request", "Verdict", "judge"]


@dataclass(frozen=True, slots=True)
class Request:
    """One create request the run enqueued."""

    job_id: str
    reference_id: str
    valid: bool
    """False for a request with malformed arguments (it must end in `job.failed`)."""


@dataclass
class Verdict:
    """Everything that went wrong (empty lists and dicts when nothing did)."""

    requests: int
    malformed: int
    events: int
    answered: int
    lost: list[str] = field(default_factory=list)
    duplicated: dict[str, int] = field(default_factory=dict)
    unexpected: list[str] = field(default_factory=list)
    wrong_outcome: dict[str, str] = field(default_factory=dict)
    extra_creates: dict[str, int] = field(default_factory=dict)
    extra_creates_by_reference: dict[str, int] = field(default_factory=dict)
    creates_without_key: int = 0
    mismatched: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)
    ledger_disagrees: dict[str, str] = field(default_factory=dict)
    """Requests whose ledger answer is not their one event (what the ledger holds instead)."""
    open_requests: int = 0
    """Requests (of any producer) the ledger still holds open when the run is judged."""
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        """Whether every guarantee held."""
        return not (
            self.lost
            or self.duplicated
            or self.unexpected
            or self.wrong_outcome
            or self.extra_creates
            or self.extra_creates_by_reference
            or self.creates_without_key
            or self.mismatched
            or self.leaks
            or self.ledger_disagrees
            or self.open_requests
        )


def _request_of(entry: ResultEvent, by_job: Mapping[str, Request]) -> Request | None:
    """The request an event answers, as a consumer matches it (its `request_id`; a failure's
    `job_id` is the same id); None when it answers none of the run's."""
    return by_job.get(entry.request)


@dataclass(frozen=True, slots=True)
class LedgerEvidence:
    """What the request ledger holds at the end of a run."""

    answers: Mapping[str, str | None]
    """The stream entry each request of the run was answered with (None: no answer, or no
    record at all)."""
    open_requests: int
    """Requests the ledger still holds open."""


def _check_ledger(
    verdict: Verdict, request: Request, found: list[ResultEvent], ledger: LedgerEvidence
) -> None:
    entry = ledger.answers.get(request.job_id)
    if entry is None:
        verdict.ledger_disagrees[request.job_id] = "no answer in the ledger"
    elif len(found) == 1 and found[0].entry_id != entry:
        verdict.ledger_disagrees[request.job_id] = f"answered with {entry}"


def _creates_per_job(creates_by_key: Mapping[str, int]) -> Counter[str]:
    """Inquiries created per create job: keys are `create:{job id}:{generation}`."""
    per_job: Counter[str] = Counter()
    for key, count in creates_by_key.items():
        job_id = key.removeprefix("create:").rpartition(":")[0]
        per_job[job_id] += count
    return per_job


def _created(created_events: Iterable[Mapping[str, Any]]) -> tuple[dict[str, str], Counter[str]]:
    """Reference id per created inquiry, and inquiries created per reference id."""
    reference_of_inquiry: dict[str, str] = {}
    per_reference: Counter[str] = Counter()
    for resource in created_events:
        data = resource["attributes"]["payload"]["data"]
        reference = data["attributes"].get("reference-id")
        reference_of_inquiry[data["id"]] = reference
        per_reference[reference] += 1
    return reference_of_inquiry, per_reference


def _check_answers(verdict: Verdict, request: Request, found: list[ResultEvent]) -> None:
    if not found:
        verdict.lost.append(request.job_id)
        return
    verdict.answered += 1
    if len(found) > 1:
        verdict.duplicated[request.job_id] = len(found)
    failed = [entry for entry in found if entry.event == "job.failed"]
    if request.valid and failed:
        verdict.wrong_outcome[request.job_id] = str(failed[0].data.get("error", {}))
    if not request.valid and not failed:
        verdict.wrong_outcome[request.job_id] = f"expected job.failed, got {found[0].event}"


def judge(
    requests: Iterable[Request],
    entries: Iterable[ResultEvent],
    sandbox_counters: Mapping[str, Any],
    created_events: Iterable[Mapping[str, Any]],
    secrets: Iterable[str],
    raw_records: Iterable[str] = (),
    *,
    ledger: LedgerEvidence,
) -> Verdict:
    """Account for every request against the stream, the ledger and the sandbox.

    Args:
        requests: what the run enqueued.
        entries: the whole results stream.
        ledger: each request's answer as the ledger recorded it, and its open count.
        sandbox_counters: `GET /_sandbox/counters`.
        created_events: the `inquiry.created` events of `GET /_sandbox/events` (resources).
        secrets: strings that must appear nowhere (the API key, the webhook secret).
        raw_records: other text the sandbox stored from our requests, searched for `secrets`.
    """
    wanted = list(requests)
    by_job = {request.job_id: request for request in wanted}
    stream = list(entries)
    malformed = sum(not request.valid for request in wanted)
    verdict = Verdict(requests=len(wanted), malformed=malformed, events=len(stream), answered=0)
    verdict.outcomes = dict(Counter(entry.event for entry in stream))
    verdict.open_requests = ledger.open_requests

    answers: defaultdict[str, list[ResultEvent]] = defaultdict(list)
    for entry in stream:
        request = _request_of(entry, by_job)
        if request is None:
            verdict.unexpected.append(f"{entry.entry_id} {entry.event} {entry.inquiry_id}")
        else:
            answers[request.job_id].append(entry)

    reference_of_inquiry, per_reference = _created(created_events)
    per_job = _creates_per_job(sandbox_counters.get("creates_by_idempotency_key", {}))
    verdict.creates_without_key = int(sandbox_counters.get("creates_without_key", 0))
    for request in wanted:
        found = answers.get(request.job_id, [])
        _check_answers(verdict, request, found)
        _check_ledger(verdict, request, found, ledger)
        expected = 1 if request.valid else 0
        if per_job.get(request.job_id, 0) != expected:
            verdict.extra_creates[request.job_id] = per_job.get(request.job_id, 0)
        if per_reference.get(request.reference_id, 0) != expected:
            count = per_reference.get(request.reference_id, 0)
            verdict.extra_creates_by_reference[request.reference_id] = count
        verdict.mismatched.extend(
            f"{request.job_id} -> {entry.inquiry_id}"
            for entry in found
            if entry.event.startswith("inquiry.")
            and reference_of_inquiry.get(entry.inquiry_id) != request.reference_id
        )
    for job_id in sorted(set(per_job) - set(by_job)):
        verdict.extra_creates[job_id] = per_job[job_id]

    texts = [json.dumps(entry.data) + entry.event + entry.inquiry_id for entry in stream]
    texts.append(json.dumps(dict(sandbox_counters)))
    texts.extend(raw_records)
    verdict.leaks = [
        f"{secret[:12]}... found in the events or the sandbox's records"
        for secret in secrets
        if any(secret in text for text in texts)
    ]
    return verdict

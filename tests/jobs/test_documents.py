"""The typed documents describe exactly what is built: same keys, in wire order, same JSON."""

from __future__ import annotations

from typing import Any

from jobs.documents import ResultCheck, ResultEvent, ResultTimestamps, ResultVerification
from jobs.persona.models import InquiryDocument
from jobs.pipeline.result import build_result

DOCUMENT = InquiryDocument.model_validate(
    {
        "data": {
            "type": "inquiry",
            "id": "inq_1",
            "attributes": {
                "status": "approved",
                "reference-id": "person-1",
                "created-at": "2026-01-01T10:00:00.000Z",
                "decisioned-at": "2026-01-01T10:05:00.000Z",
                "fields": {
                    "name-first": {"type": "string", "value": "Jane"},
                    "birthdate": {"type": "date", "value": "1990-01-01"},
                },
            },
            "relationships": {
                "verifications": {"data": [{"type": "verification/selfie", "id": "ver_1"}]}
            },
        },
        "included": [
            {
                "type": "verification/selfie",
                "id": "ver_1",
                "attributes": {
                    "status": "passed",
                    "created-at": "2026-01-01T10:01:00.000Z",
                    "checks": [
                        {
                            "name": "selfie_id_comparison",
                            "status": "passed",
                            "reasons": [None, "clear"],
                            "requirement": "required",
                        }
                    ],
                },
            }
        ],
    }
)


def _result() -> ResultEvent:
    return build_result(
        DOCUMENT,
        request_id="create-1",
        reference_id=None,
        publish_fields=("birthdate",),
        now=1_767_261_960.0,
    )


def _keys(document: Any) -> list[str]:
    return list(document)


def test_a_result_event_has_the_keys_of_its_type_in_order() -> None:
    result = _result()
    assert _keys(result) == _keys(ResultEvent.__annotations__)
    assert _keys(result["timestamps"]) == _keys(ResultTimestamps.__annotations__)
    [verification] = result["verifications"]
    assert _keys(verification) == _keys(ResultVerification.__annotations__)
    assert _keys(verification["checks"][0]) == _keys(ResultCheck.__annotations__)


def test_a_result_event_is_the_documented_json() -> None:
    assert _result() == {
        "event": "inquiry.approved",
        "request_id": "create-1",
        "inquiry_id": "inq_1",
        "reference_id": "person-1",
        "status": "approved",
        "final": True,
        "verifications": [
            {
                "id": "ver_1",
                "type": "verification/selfie",
                "status": "passed",
                "created_at": "2026-01-01T10:01:00+00:00",
                "completed_at": None,
                "checks": [
                    {
                        "name": "selfie_id_comparison",
                        "status": "passed",
                        "requirement": "required",
                        "reasons": ["clear"],
                    }
                ],
            }
        ],
        "timestamps": {
            "created_at": "2026-01-01T10:00:00+00:00",
            "started_at": None,
            "completed_at": None,
            "failed_at": None,
            "expired_at": None,
            "marked_for_review_at": None,
            "decisioned_at": "2026-01-01T10:05:00+00:00",
            "expires_at": None,
            "redacted_at": None,
        },
        "fields": {"birthdate": "1990-01-01"},
        "published_at": "2026-01-01T10:06:00Z",
    }

from __future__ import annotations

from typing import Any

import httpx

from tests.sandbox.support import Harness


async def _create_many(harness: Harness, count: int, **kwargs: Any) -> list[str]:
    ids = []
    for _ in range(count):
        ids.append(await harness.create_id(**kwargs))
        harness.clock.advance(1)
    return ids


def _ids(response: httpx.Response) -> list[str]:
    return [item["id"] for item in response.json()["data"]]


async def test_list_is_newest_first_with_ten_by_default(harness: Harness) -> None:
    created = await _create_many(harness, 12)

    response = await harness.client.get("/inquiries")

    assert response.status_code == 200
    assert _ids(response) == list(reversed(created))[:10]
    assert response.json()["links"]["prev"] is None
    assert response.json()["links"]["next"] is not None


async def test_filter_by_inquiry_ids(harness: Harness) -> None:
    created = await _create_many(harness, 4)

    response = await harness.client.get(
        "/inquiries", params={"filter[inquiry-id]": f"{created[0]},{created[2]},inq_Unknown"}
    )

    assert _ids(response) == [created[2], created[0]]


async def test_more_than_100_inquiry_ids_is_400(harness: Harness) -> None:
    ids = ",".join(f"inq_{n:028d}" for n in range(101))

    response = await harness.client.get("/inquiries", params={"filter[inquiry-id]": ids})

    assert response.status_code == 400
    assert "100" in response.json()["errors"][0]["details"]


async def test_exactly_100_inquiry_ids_are_accepted(harness: Harness) -> None:
    ids = ",".join(f"inq_{n:028d}" for n in range(100))

    response = await harness.client.get("/inquiries", params={"filter[inquiry-id]": ids})

    assert response.status_code == 200


async def test_filter_by_reference_id(harness: Harness) -> None:
    mine = await harness.create_id(meta={"auto-create-account-reference-id": "user-1"})
    await harness.create_id(meta={"auto-create-account-reference-id": "user-2"})

    response = await harness.client.get("/inquiries", params={"filter[reference-id]": "user-1"})

    assert _ids(response) == [mine]


async def test_filter_by_statuses_sees_progress_made_since_creation(harness: Harness) -> None:
    done = await harness.create_id(note="sandbox-outcome=completed sandbox-after=10")
    await harness.create_id(note="sandbox-outcome=abandoned sandbox-after=10")
    await harness.create_id(note="sandbox-outcome=expired sandbox-after=1000")
    harness.clock.advance(11)

    response = await harness.client.get(
        "/inquiries", params={"filter[status]": "completed,approved"}
    )

    assert _ids(response) == [done]


async def test_pages_cover_every_inquiry_once(harness: Harness) -> None:
    created = await _create_many(harness, 7)
    seen: list[str] = []
    response = await harness.client.get("/inquiries", params={"page[size]": "3"})
    while True:
        seen.extend(_ids(response))
        next_link = response.json()["links"]["next"]
        if next_link is None:
            break
        response = await harness.client.get(next_link.removeprefix("/api/v1"))

    assert seen == list(reversed(created))


async def test_prev_link_leads_back_to_the_previous_page(harness: Harness) -> None:
    await _create_many(harness, 5)
    first = await harness.client.get("/inquiries", params={"page[size]": "2"})
    second = await harness.client.get(first.json()["links"]["next"].removeprefix("/api/v1"))

    back = await harness.client.get(second.json()["links"]["prev"].removeprefix("/api/v1"))

    assert _ids(back) == _ids(first)


async def test_links_keep_the_filters(harness: Harness) -> None:
    await _create_many(harness, 3, meta={"auto-create-account-reference-id": "user-3"})

    response = await harness.client.get(
        "/inquiries", params={"filter[reference-id]": "user-3", "page[size]": "1"}
    )

    assert "filter%5Breference-id%5D=user-3" in response.json()["links"]["next"]


async def test_page_size_out_of_range_is_400(harness: Harness) -> None:
    statuses = [
        (await harness.client.get("/inquiries", params={"page[size]": size})).status_code
        for size in ("0", "101", "ten")
    ]

    assert statuses == [400, 400, 400]


async def test_include_on_list_is_400(harness: Harness) -> None:
    response = await harness.client.get("/inquiries", params={"include": "verifications"})

    assert response.status_code == 400
    assert "include" in response.json()["errors"][0]["details"]


async def test_unknown_filter_is_400(harness: Harness) -> None:
    response = await harness.client.get("/inquiries", params={"filter[colour]": "blue"})

    assert response.status_code == 400


async def test_note_filter_must_stand_alone(harness: Harness) -> None:
    response = await harness.client.get(
        "/inquiries", params={"filter[note]": "x", "filter[status]": "created"}
    )

    assert response.status_code == 400


async def test_unknown_cursor_is_400(harness: Harness) -> None:
    response = await harness.client.get("/inquiries", params={"page[after]": "inq_Gone"})

    assert response.status_code == 400


async def test_created_at_range_filters(harness: Harness) -> None:
    created = await _create_many(harness, 3)
    middle = (await harness.inquiry(created[1]))["data"]["attributes"]["created-at"]

    response = await harness.client.get(
        "/inquiries",
        params={"filter[created-at-start]": middle, "filter[created-at-end]": middle},
    )

    assert _ids(response) == [created[1]]


async def test_retrieve_includes_verifications_only_when_asked(harness: Harness) -> None:
    inquiry_id = await harness.create_id(note="sandbox-outcome=approved sandbox-after=10")
    harness.clock.advance(11)

    plain = await harness.inquiry(inquiry_id)
    included = await harness.inquiry(inquiry_id, include="verifications")

    assert plain["included"] == []
    assert [item["type"] for item in included["included"]] == [
        "verification/government-id",
        "verification/selfie",
    ]


async def test_unknown_include_is_400(harness: Harness) -> None:
    inquiry_id = await harness.create_id()

    response = await harness.client.get(f"/inquiries/{inquiry_id}", params={"include": "pets"})

    assert response.status_code == 400


async def test_retrieve_a_verification(harness: Harness) -> None:
    inquiry_id = await harness.create_id(note="sandbox-outcome=approved sandbox-after=10")
    harness.clock.advance(11)
    document = await harness.inquiry(inquiry_id)
    verification_id = document["data"]["relationships"]["verifications"]["data"][0]["id"]

    response = await harness.client.get(f"/verifications/{verification_id}")

    assert response.status_code == 200
    data = response.json()["data"]
    assert data["id"] == verification_id
    assert data["relationships"]["inquiry"]["data"] == {"type": "inquiry", "id": inquiry_id}


async def test_reading_a_verification_advances_its_inquiry(harness: Harness) -> None:
    inquiry_id = await harness.create_id(note="sandbox-outcome=approved sandbox-after=30")
    harness.clock.advance(11)
    document = await harness.inquiry(inquiry_id)
    verification_id = document["data"]["relationships"]["verifications"]["data"][0]["id"]
    harness.clock.advance(20)

    response = await harness.client.get(f"/verifications/{verification_id}")

    assert response.json()["data"]["attributes"]["status"] == "passed"


async def test_unknown_verification_is_404(harness: Harness) -> None:
    response = await harness.client.get("/verifications/ver_Unknown")

    assert response.status_code == 404

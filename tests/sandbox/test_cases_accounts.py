from __future__ import annotations

from typing import Any

from tests.sandbox.support import Harness

CASE_TEMPLATE = "ctmpl_SandboxCases0000000000"


async def _account(harness: Harness, reference_id: str) -> str:
    response = await harness.create(meta={"auto-create-account-reference-id": reference_id})
    account_id: str = response.json()["data"]["relationships"]["account"]["data"]["id"]
    return account_id


async def _case(harness: Harness, **meta: object) -> dict[str, Any]:
    body: dict[str, object] = {"data": {"attributes": {"case-template-id": CASE_TEMPLATE}}}
    if meta:
        body["meta"] = {key.replace("_", "-"): value for key, value in meta.items()}
    response = await harness.post("/cases", body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def test_create_a_case_opens_it_with_attached_objects(harness: Harness) -> None:
    inquiry_id = await harness.create_id()

    case = await _case(harness, object_ids=[inquiry_id])

    assert case["type"] == "case"
    assert case["attributes"]["status"] == "Open"
    assert case["relationships"]["inquiries"]["data"] == [{"type": "inquiry", "id": inquiry_id}]


async def test_case_without_template_is_400(harness: Harness) -> None:
    response = await harness.post("/cases", {"data": {"attributes": {}}})

    assert response.status_code == 400
    assert "case-template-id" in response.json()["errors"][0]["details"]


async def test_case_with_a_bad_template_id_is_422(harness: Harness) -> None:
    response = await harness.post("/cases", {"data": {"attributes": {"case-template-id": "x"}}})

    assert response.status_code == 422


async def test_case_with_an_unknown_object_is_404(harness: Harness) -> None:
    body = {
        "data": {"attributes": {"case-template-id": CASE_TEMPLATE}},
        "meta": {"object-ids": ["inq_Unknown"]},
    }

    response = await harness.post("/cases", body)

    assert response.status_code == 404


async def test_set_status_resolves_the_case(harness: Harness) -> None:
    case = await _case(harness)

    response = await harness.post(
        f"/cases/{case['id']}/set-status", {"meta": {"status": "Approved"}}
    )

    attributes = response.json()["data"]["attributes"]
    assert attributes["status"] == "Approved"
    assert attributes["resolved-at"] is not None


async def test_retrieve_case_shows_the_new_status(harness: Harness) -> None:
    case = await _case(harness)
    await harness.post(f"/cases/{case['id']}/set-status", {"meta": {"status": "pending"}})

    response = await harness.client.get(f"/cases/{case['id']}")

    assert response.json()["data"]["attributes"]["status"] == "Pending"
    assert response.json()["data"]["attributes"]["resolved-at"] is None


async def test_unknown_case_status_is_422(harness: Harness) -> None:
    case = await _case(harness)

    response = await harness.post(f"/cases/{case['id']}/set-status", {"meta": {"status": "Lost"}})

    assert response.status_code == 422
    assert response.json()["errors"][0]["source"] == {"pointer": "/meta/status"}


async def test_set_status_without_status_is_400(harness: Harness) -> None:
    case = await _case(harness)

    response = await harness.post(f"/cases/{case['id']}/set-status", {"meta": {}})

    assert response.status_code == 400


async def test_unknown_case_is_404(harness: Harness) -> None:
    response = await harness.client.get("/cases/case_Unknown")

    assert response.status_code == 404


async def test_retrieve_an_account(harness: Harness) -> None:
    account_id = await _account(harness, "user-1")

    response = await harness.client.get(f"/accounts/{account_id}")

    assert response.status_code == 200
    assert response.json()["data"]["attributes"]["reference-id"] == "user-1"


async def test_unknown_account_is_404(harness: Harness) -> None:
    response = await harness.client.get("/accounts/act_Unknown")

    assert response.status_code == 404


async def test_added_relation_is_listed_under_its_key(harness: Harness) -> None:
    owner, company = await _account(harness, "owner"), await _account(harness, "company")
    body = {"meta": {"relation-schema-key": "beneficial_owners", "target-object-id": owner}}

    added = await harness.post(f"/accounts/{company}/add-relation", body)
    listed = await harness.client.get(
        f"/accounts/{company}/relations", params={"filter[key]": "beneficial_owners"}
    )
    other_key = await harness.client.get(
        f"/accounts/{company}/relations", params={"filter[key]": "directors"}
    )

    assert added.status_code == 200
    assert added.json()["data"]["id"] == company
    assert [item["id"] for item in listed.json()["data"]] == [owner]
    assert listed.json()["links"] == {"prev": None, "next": None}
    assert other_key.json()["data"] == []


async def test_relations_without_key_filter_is_400(harness: Harness) -> None:
    account_id = await _account(harness, "user-2")

    response = await harness.client.get(f"/accounts/{account_id}/relations")

    assert response.status_code == 400
    assert "filter[key]" in response.json()["errors"][0]["details"]


async def test_duplicate_relation_is_409(harness: Harness) -> None:
    a, b = await _account(harness, "a"), await _account(harness, "b")
    body = {"meta": {"relation-schema-key": "partners", "target-object-id": b}}
    await harness.post(f"/accounts/{a}/add-relation", body)

    response = await harness.post(f"/accounts/{a}/add-relation", body)

    assert response.status_code == 409


async def test_relation_to_unknown_target_is_404(harness: Harness) -> None:
    account_id = await _account(harness, "c")
    body = {"meta": {"relation-schema-key": "partners", "target-object-id": "act_Unknown"}}

    response = await harness.post(f"/accounts/{account_id}/add-relation", body)

    assert response.status_code == 404


async def test_relation_to_itself_is_422(harness: Harness) -> None:
    account_id = await _account(harness, "d")
    body = {"meta": {"relation-schema-key": "partners", "target-object-id": account_id}}

    response = await harness.post(f"/accounts/{account_id}/add-relation", body)

    assert response.status_code == 422


async def test_relations_are_paged(harness: Harness) -> None:
    source = await _account(harness, "hub")
    targets = [await _account(harness, f"spoke-{n}") for n in range(3)]
    for target in targets:
        body = {"meta": {"relation-schema-key": "spokes", "target-object-id": target}}
        await harness.post(f"/accounts/{source}/add-relation", body)

    first = await harness.client.get(
        f"/accounts/{source}/relations", params={"filter[key]": "spokes", "page[size]": "2"}
    )
    rest = await harness.client.get(first.json()["links"]["next"].removeprefix("/api/v1"))

    ids = [item["id"] for item in first.json()["data"] + rest.json()["data"]]
    assert ids == list(reversed(targets))

from __future__ import annotations

from persona_sandbox import SandboxConfig
from tests.sandbox.conftest import MakeHarness
from tests.sandbox.support import Harness

UNAUTHORIZED = {"errors": [{"title": "Must be authenticated to access this endpoint"}]}


async def test_missing_key_is_401_without_rate_limit_headers(harness: Harness) -> None:
    response = await harness.client.get("/inquiries", headers={"Authorization": ""})

    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    assert "ratelimit-limit" not in response.headers
    assert "request-id" not in response.headers


async def test_key_without_sandbox_prefix_is_401(harness: Harness) -> None:
    headers = {"Authorization": "Bearer persona_production_abcdefg"}

    response = await harness.client.get("/inquiries", headers=headers)

    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED


async def test_non_bearer_scheme_is_401(harness: Harness) -> None:
    response = await harness.client.get("/inquiries", headers={"Authorization": "Basic eDp5"})

    assert response.status_code == 401


async def test_configured_key_is_the_only_key_accepted(make_harness: MakeHarness) -> None:
    harness = await make_harness(SandboxConfig(api_key="persona_sandbox_only_this_one"))
    accepted = {"Authorization": "Bearer persona_sandbox_only_this_one"}

    other = await harness.client.get("/inquiries")
    configured = await harness.client.get("/inquiries", headers=accepted)

    assert other.status_code == 401
    assert configured.status_code == 200


async def test_authenticated_answer_carries_persona_headers(harness: Harness) -> None:
    response = await harness.client.get("/inquiries")

    headers = response.headers
    assert int(headers["RateLimit-Limit"]) > 0
    assert int(headers["RateLimit-Remaining"]) >= 0
    assert int(headers["RateLimit-Reset"]) > 0
    assert headers["Request-Id"].startswith("req_")
    assert headers["Persona-Environment-Id"].startswith("env_")
    assert headers["Persona-Organization-Id"].startswith("org_")
    assert headers["Content-Type"].startswith("application/json")


async def test_each_answer_has_its_own_request_id(harness: Harness) -> None:
    first = await harness.client.get("/inquiries")
    second = await harness.client.get("/inquiries")

    assert first.headers["Request-Id"] != second.headers["Request-Id"]


async def test_error_answers_carry_persona_headers(harness: Harness) -> None:
    response = await harness.client.get("/inquiries/inq_Missing")

    assert response.status_code == 404
    assert response.headers["Request-Id"].startswith("req_")
    assert "RateLimit-Remaining" in response.headers


async def test_unknown_persona_version_is_400(harness: Harness) -> None:
    response = await harness.client.get("/inquiries", headers={"Persona-Version": "2019-01-01"})

    assert response.status_code == 400
    assert "Persona-Version" in response.json()["errors"][0]["details"]


async def test_older_persona_version_is_accepted(harness: Harness) -> None:
    response = await harness.client.get("/inquiries", headers={"Persona-Version": "2023-01-05"})

    assert response.status_code == 200


async def test_answers_stay_kebab_case_whatever_inflection_is_asked(harness: Harness) -> None:
    inquiry_id = await harness.create_id()

    response = await harness.client.get(
        f"/inquiries/{inquiry_id}", headers={"Key-Inflection": "camel"}
    )

    assert "created-at" in response.json()["data"]["attributes"]


async def test_unknown_route_is_a_persona_shaped_404(harness: Harness) -> None:
    response = await harness.client.get("/no-such-thing")

    assert response.status_code == 404
    assert response.json()["errors"][0]["title"] == "Not Found"
    assert response.headers["Request-Id"].startswith("req_")


async def test_unknown_route_still_needs_a_key(harness: Harness) -> None:
    response = await harness.client.post("/no-such-thing", headers={"Authorization": ""})

    assert response.status_code == 401


async def test_method_an_operation_does_not_serve_is_404(harness: Harness) -> None:
    response = await harness.client.put("/inquiries")

    assert response.status_code == 404


async def test_trailing_slash_is_not_redirected(harness: Harness) -> None:
    response = await harness.client.get("/inquiries/")

    assert response.status_code == 404


async def test_encoded_slash_stays_inside_the_id(harness: Harness) -> None:
    response = await harness.client.get("/inquiries/inq%2Fwith%2Fslash")

    assert response.status_code == 404
    assert response.json()["errors"][0]["details"] == "Could not find inquiry 'inq/with/slash'"


async def test_encoded_percent_stays_literal_in_the_id(harness: Harness) -> None:
    response = await harness.client.get("/inquiries/inq%2541")

    assert response.json()["errors"][0]["details"] == "Could not find inquiry 'inq%41'"


async def test_unknown_path_outside_the_api_is_a_plain_404(harness: Harness) -> None:
    response = await harness.client.get("http://sandbox.test/elsewhere")

    assert response.status_code == 404
    assert "Request-Id" not in response.headers


async def test_admin_endpoints_need_no_key(harness: Harness) -> None:
    response = await harness.client.get(
        "http://sandbox.test/_sandbox/health", headers={"Authorization": "Bearer wrong"}
    )

    assert response.status_code == 200
    assert response.json()["status"] == "ok"

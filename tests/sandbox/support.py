"""A test harness around one in-process sandbox: an httpx client, its clock and shortcuts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from persona_sandbox import ManualClock, Sandbox

API_KEY = "persona_sandbox_tests0key0for0sandbox"
TEMPLATE_ID = "itmpl_SandboxTests00000000000"
HEADERS = {
    "Authorization": f"Bearer {API_KEY}",
    "Persona-Version": "2025-12-08",
    "Key-Inflection": "kebab",
    "Accept": "application/json",
}


def create_body(
    *,
    template_id: str = TEMPLATE_ID,
    note: str | None = None,
    meta: dict[str, Any] | None = None,
    **attributes: Any,
) -> dict[str, Any]:
    """A create-an-inquiry body; attribute keyword names use `_` for `-`."""
    attrs = {key.replace("_", "-"): value for key, value in attributes.items()}
    attrs["inquiry-template-id"] = template_id
    if note is not None:
        attrs["note"] = note
    body: dict[str, Any] = {"data": {"attributes": attrs}}
    if meta is not None:
        body["meta"] = meta
    return body


@dataclass
class Harness:
    """One sandbox reached in-process, with a manual clock."""

    client: httpx.AsyncClient
    sandbox: Sandbox
    clock: ManualClock

    async def post(
        self, path: str, body: Any = None, *, key: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        """POST with a fresh Idempotency-Key unless one is given."""
        headers = {"Idempotency-Key": key or uuid.uuid4().hex}
        return await self.client.post(path, json=body, headers=headers, **kwargs)

    async def create(self, *, key: str | None = None, **kwargs: Any) -> httpx.Response:
        """POST /inquiries with `create_body(**kwargs)`."""
        return await self.post("/inquiries", create_body(**kwargs), key=key)

    async def create_id(self, **kwargs: Any) -> str:
        """Create an inquiry and return its id (asserting the 201)."""
        response = await self.create(**kwargs)
        assert response.status_code == 201, response.text
        inquiry_id: str = response.json()["data"]["id"]
        return inquiry_id

    async def inquiry(self, inquiry_id: str, **params: str) -> dict[str, Any]:
        """GET /inquiries/{id} and return the document (asserting the 200)."""
        response = await self.client.get(f"/inquiries/{inquiry_id}", params=params)
        assert response.status_code == 200, response.text
        document: dict[str, Any] = response.json()
        return document

    async def status(self, inquiry_id: str) -> str:
        """The inquiry's current status."""
        status: str = (await self.inquiry(inquiry_id))["data"]["attributes"]["status"]
        return status

    async def simulate(self, inquiry_id: str, *actions: dict[str, Any]) -> httpx.Response:
        """POST perform-simulate-actions with the given action objects."""
        body = {"meta": {"simulate-actions": list(actions)}}
        return await self.post(f"/inquiries/{inquiry_id}/perform-simulate-actions", body)

    def event_names(self, inquiry_id: str) -> list[str]:
        """Names of the events recorded for an inquiry, oldest first."""
        return [event.name for event in self.sandbox.events.events(inquiry_id=inquiry_id)]

    async def admin(self, method: str, path: str, body: Any = None) -> httpx.Response:
        """Call an admin endpoint (outside /api/v1, no auth)."""
        return await self.client.request(method, f"http://sandbox.test/_sandbox/{path}", json=body)

"""Check Persona webhook events against the `webhooks` of the official OpenAPI.

Each `inquiry.*` and `verification.*` event has its own request-body schema (the `name` is a
`const`, the payload the object's schema) and four delivery headers (`Persona-Signature` and
the `Persona-Webhook-Attempts-*`/`-First-Attempted-At` counters). The events a webhook sender
posts, or the bodies the sandbox records for it, are validated here by event name.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

import httpx

from tests.contract.openapi import SPEC_PATH, ContractError, load_document, raise_if
from tests.contract.schema import Problem, SchemaDocument, coerce_text, pointer_to

__all__ = ["Webhooks", "load_webhooks", "validate_webhook_event"]


class Webhooks:
    """The webhook events of the official spec, validated by event name.

    Args:
        document: The parsed OpenAPI document that holds the events under `webhooks`.
    """

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.spec = SchemaDocument("urn:persona-openapi:webhooks", document)
        self.event_names: tuple[str, ...] = tuple(document["webhooks"])

    def _event_pointer(self, name: str) -> str:
        return pointer_to("webhooks", name, "post")

    def event_problems(self, event: Any, name: str | None = None) -> list[Problem]:
        """Every way a webhook event body breaks the schema of its event.

        Args:
            event: The parsed event document.
            name: The event name, e.g. `inquiry.approved`; read from
                `data.attributes.name` when omitted.
        """
        if name is None:
            try:
                name = str(event["data"]["attributes"]["name"])
            except (KeyError, TypeError):
                return [Problem("event body", "data.attributes.name", "missing")]
        if name not in self.event_names:
            return [Problem("event body", "data.attributes.name", f"unknown event {name!r}")]
        body, pointer = self.spec.resolve(f"{self._event_pointer(name)}/requestBody")
        if "application/json" not in body.get("content", {}):
            raise ValueError(f"webhook {name} declares no JSON body")
        schema_pointer = f"{pointer}/content/{pointer_to('application/json')[1:]}/schema"
        return self.spec.problems(event, schema_pointer, part="event body")

    def header_problems(self, name: str, headers: httpx.Headers) -> list[Problem]:
        """Check the delivery headers of event `name`: each declared one sent, of its type."""
        problems: list[Problem] = []
        operation_pointer = self._event_pointer(name)
        operation, _ = self.spec.resolve(operation_pointer)
        for index in range(len(operation.get("parameters", []))):
            parameter, pointer = self.spec.resolve(f"{operation_pointer}/parameters/{index}")
            if parameter["in"] != "header":
                continue
            text = headers.get(parameter["name"])
            if text is None:
                problems.append(Problem("header", parameter["name"], "declared but not sent"))
                continue
            schema, _ = self.spec.resolve(f"{pointer}/schema")
            problems += self.spec.problems(
                coerce_text(text, schema),
                f"{pointer}/schema",
                part="header",
                name=parameter["name"],
            )
        return problems

    def validate_event(self, event: Any, name: str | None = None) -> None:
        """Raise `ContractError` unless `event` is a valid body of event `name`.

        Args:
            event: The event as parsed JSON, or its raw bytes/text.
            name: The event name; read from the event when omitted.
        """
        if isinstance(event, bytes | str):
            event = json.loads(event)
        label = name or "(named in the body)"
        raise_if(f"webhook event {label}", self.event_problems(event, name))

    def validate_delivery(self, request: httpx.Request) -> None:
        """Raise `ContractError` unless a webhook POST has the declared headers and body."""
        problems: list[Problem] = []
        if request.method != "POST":
            problems.append(Problem("method", "", f"{request.method} is not POST"))
        try:
            event = json.loads(request.content)
        except ValueError as exc:
            problem = Problem("event body", "", f"not valid JSON ({exc})")
            raise ContractError("webhook delivery", [problem]) from exc
        problems += self.event_problems(event)
        attributes = event.get("data", {}).get("attributes", {}) if isinstance(event, dict) else {}
        name = attributes.get("name") if isinstance(attributes, dict) else None
        if isinstance(name, str) and name in self.event_names:
            problems += self.header_problems(name, request.headers)
        raise_if(f"webhook delivery {name or '(unnamed)'}", problems)


@functools.cache
def load_webhooks() -> Webhooks:
    """The webhook events of the official spec, parsed once per process."""
    return Webhooks(load_document(SPEC_PATH))


def validate_webhook_event(event: Any, name: str | None = None) -> None:
    """Raise `ContractError` unless `event` is a valid body of webhook event `name`."""
    load_webhooks().validate_event(event, name)

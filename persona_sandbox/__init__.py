"""`persona-sandbox`: a local emulator of the parts of Persona's REST API the worker uses.

It serves Persona's JSON:API shapes (API version 2025-12-08) with inquiries that progress on
their own along documented scenarios (`persona_sandbox.timeline`), Persona's rate limit,
idempotency and error answers, injectable faults, signed webhook delivery with Persona's
retries, and counters and an event log for tests.

    from persona_sandbox import ManualClock, SandboxConfig, WebhookSettings, create_app, run_sandbox

    app = create_app(SandboxConfig(rate_limit_per_minute=0), clock=ManualClock())  # in-process
    async with run_sandbox(SandboxConfig(time_scale=60)) as sandbox:  # on a loopback port
        client = httpx.AsyncClient(base_url=sandbox.url)
    hooks = WebhookSettings(url="http://127.0.0.1:8000/webhooks/persona", secrets=("wbhsec_x",))
    async with run_sandbox(SandboxConfig(webhooks=hooks)) as sandbox:  # events POSTed, signed
        ...
"""

from persona_sandbox.app import create_app, sandbox_of
from persona_sandbox.clock import Clock, ManualClock, ScaledClock
from persona_sandbox.config import SandboxConfig
from persona_sandbox.events import Event, EventLog
from persona_sandbox.faults import FaultSettings
from persona_sandbox.runtime import Sandbox
from persona_sandbox.server import SandboxHandle, run_sandbox
from persona_sandbox.state import SandboxState
from persona_sandbox.timeline import Outcome
from persona_sandbox.webhook_settings import WebhookSettings

__all__ = [
    "Clock",
    "Event",
    "EventLog",
    "FaultSettings",
    "ManualClock",
    "Outcome",
    "Sandbox",
    "SandboxConfig",
    "SandboxHandle",
    "SandboxState",
    "ScaledClock",
    "WebhookSettings",
    "create_app",
    "run_sandbox",
    "sandbox_of",
]

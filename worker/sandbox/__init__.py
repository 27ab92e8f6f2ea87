"""`persona-sandbox`: a local emulator of the parts of Persona's REST API the worker uses.

It serves Persona's JSON:API shapes (API version 2025-12-08) with inquiries that progress on
their own along documented scenarios (`worker.sandbox.timeline`), Persona's rate limit,
idempotency and error answers, injectable faults, signed webhook delivery with Persona's
retries, and counters and an event log for tests.

    from worker.sandbox import ManualClock, SandboxConfig, WebhookSettings, create_app, run_sandbox

    app = create_app(SandboxConfig(rate_limit_per_minute=0), clock=ManualClock())  # in-process
    async with run_sandbox(SandboxConfig(time_scale=60)) as sandbox:  # on a loopback port
        client = httpx.AsyncClient(base_url=sandbox.url)
    hooks = WebhookSettings(url="http://127.0.0.1:8000/webhooks/persona", secrets=("wbhsec_x",))
    async with run_sandbox(SandboxConfig(webhooks=hooks)) as sandbox:  # events POSTed, signed
        ...
"""

from worker.sandbox.app import create_app, sandbox_of
from worker.sandbox.clock import Clock, ManualClock, ScaledClock
from worker.sandbox.config import SandboxConfig
from worker.sandbox.events import Event, EventLog
from worker.sandbox.faults import FaultSettings
from worker.sandbox.runtime import Sandbox
from worker.sandbox.server import SandboxHandle, run_sandbox
from worker.sandbox.state import SandboxState
from worker.sandbox.timeline import Outcome
from worker.sandbox.webhook_settings import WebhookSettings

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

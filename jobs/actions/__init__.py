"""Decision and lifecycle jobs (decide, refresh a link, redact, case status, account relations),
each a thin wrapper over one Persona action with one outcome event and an idempotent re-run.
"""

"""The polling tick's cadence while webhooks flow: the shared mode, and which checks wait.

At the start of each tick (`jobs.pipeline.poll_tick`) `tick_mode` decides the mode from the
shared flow state (`jobs.policy.cadence`, `jobs.state.webhook_flow`); a change is stored for
every worker, logged once and counted, and a change back to `polling` makes every followed
inquiry due at once (`Ledger.catch_up`), so the tick that noticed the gap is the last one
at the safety-net cadence. In `webhooks` mode `waiting_checks` sets aside the due inquiries
whose checks can wait for the safety net, and moves their next check there without a call.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from jobs.context import JobContext
from jobs.metrics import observe_mode_change
from jobs.policy.cadence import Mode, check_can_wait_until, decide_mode
from jobs.state.ledger import InquiryRecord

__all__ = ["known_to_us", "tick_mode", "waiting_checks"]

logger = logging.getLogger(__name__)


async def tick_mode(ctx: JobContext, now: float) -> Mode:
    """The mode this tick works in; stores, logs and counts a change."""
    state = await ctx.flow.state()
    decision = decide_mode(
        now, last_webhook_at=state.last_webhook_at, uncovered_at=state.uncovered_at
    )
    if decision.mode is state.mode:
        return decision.mode
    await ctx.flow.switch(decision.mode, now, decision.reason)
    observe_mode_change(decision.mode.value)
    if decision.mode is Mode.WEBHOOKS:
        logger.info(
            "status checks step back to every %.0f s: %s",
            ctx.settings.poll_safety_net_s,
            decision.reason,
        )
        return decision.mode
    caught_up = await ctx.ledger.catch_up(now)
    logger.warning(
        "status checks back to the normal cadence (%s); %d followed inquiries due now",
        decision.reason,
        caught_up,
    )
    return decision.mode


def known_to_us(record: InquiryRecord) -> bool:
    """Whether we have seen the inquiry's status ourselves (a create, a check, a webhook)."""
    return record.polls > 0 or record.creator is not None


async def waiting_checks(ctx: JobContext, records: Sequence[InquiryRecord], now: float) -> set[str]:
    """In `webhooks` mode: the due inquiries whose checks wait for the safety net (moved there
    now, in one round trip)."""
    deferred: list[tuple[str, int, float]] = []
    for record in records:
        until = check_can_wait_until(
            now,
            status=record.status,
            checks=record.polls,
            created_by_us=record.creator is not None,
            last_news_at=record.updated_at,
            safety_net_s=ctx.settings.poll_safety_net_s,
            terminal=ctx.settings.terminal_statuses,
        )
        if until is not None:
            deferred.append((record.inquiry_id, record.round, until))
    await ctx.ledger.defer_checks(deferred)
    return {inquiry_id for inquiry_id, _, _ in deferred}

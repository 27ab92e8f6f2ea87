"""The webhook subscription operations and list-all-rate-limits, client and sandbox together."""

from __future__ import annotations

from datetime import timedelta

from tests.contract.conftest import RigFactory
from tests.contract.flows import RECEIVER_URL, key
from tests.contract.harness import Rig

INQUIRY_EVENTS = ["inquiry.approved", "inquiry.declined", "inquiry.failed"]


async def create(rig: Rig, include: dict[str, list[str]] | None = None) -> str:
    webhook = await rig.client.create_webhook(
        name="results",
        url=RECEIVER_URL,
        enabled_events=INQUIRY_EVENTS,
        include=include,
        idempotency_key=key(),
    )
    return webhook.id


async def test_create_answers_the_webhook_with_its_one_secret(rig: Rig) -> None:
    webhook = await rig.client.create_webhook(
        name="results",
        url=RECEIVER_URL,
        enabled_events=INQUIRY_EVENTS,
        include={"inquiry": ["verifications"]},
        idempotency_key=key(),
    )
    (secret,) = webhook.attributes.secrets
    assert secret.value.get_secret_value().startswith("wbhsec_")
    assert secret.expires_at is None
    assert (webhook.attributes.url, webhook.attributes.enabled_events) == (
        RECEIVER_URL,
        INQUIRY_EVENTS,
    )
    assert webhook.includes("inquiry", "verifications")


async def test_create_sends_the_custom_included_allowlist(rig: Rig) -> None:
    await create(rig, {"inquiry": ["verifications"]})
    sent = rig.contract.last().request
    assert b'"included-allowlist":{"state":"custom","event-types":' in sent.content.replace(
        b" ", b""
    )


async def test_webhook_without_an_allowlist_includes_nothing(rig: Rig) -> None:
    webhook = await rig.client.retrieve_webhook(await create(rig))
    assert not webhook.includes("inquiry", "verifications")


async def test_allowlist_of_only_wildcards_is_saved_as_include_all(rig: Rig) -> None:
    webhook = await rig.client.retrieve_webhook(await create(rig, {"inquiry": ["*"]}))
    allowlist = webhook.attributes.included_allowlist
    assert allowlist is not None
    assert allowlist.state == "include_all"


async def test_retrieve_answers_the_secret_created(rig: Rig) -> None:
    created = await rig.client.create_webhook(
        name="results", url=RECEIVER_URL, enabled_events=INQUIRY_EVENTS, idempotency_key=key()
    )
    found = await rig.client.retrieve_webhook(created.id)
    assert [s.value for s in found.attributes.secrets] == [
        s.value for s in created.attributes.secrets
    ]


async def test_new_webhook_is_disabled_until_enabled(rig: Rig) -> None:
    webhook_id = await create(rig)
    assert (await rig.client.retrieve_webhook(webhook_id)).attributes.status == "disabled"
    enabled = await rig.client.enable_webhook(webhook_id, idempotency_key=key())
    assert enabled.attributes.status == "enabled"


async def test_rotation_lists_the_new_secret_first_and_the_old_one_with_its_expiry(
    rig: Rig,
) -> None:
    created = await rig.client.create_webhook(
        name="results", url=RECEIVER_URL, enabled_events=INQUIRY_EVENTS, idempotency_key=key()
    )
    rotated = await rig.client.rotate_webhook_secret(
        created.id, idempotency_key=key(), expires_in_s=3600
    )
    new, old = rotated.attributes.secrets
    assert old.value == created.attributes.secrets[0].value
    assert new.value != old.value
    assert new.expires_at is None
    assert old.expires_at == rig.sandbox.clock.now().replace(microsecond=0) + timedelta(
        seconds=3600
    )


async def test_old_secret_is_gone_once_its_rotation_window_ends(rig: Rig) -> None:
    webhook_id = await create(rig)
    rotated = await rig.client.rotate_webhook_secret(
        webhook_id, idempotency_key=key(), expires_in_s=60
    )
    rig.advance(61)
    found = await rig.client.retrieve_webhook(webhook_id)
    assert [s.value for s in found.attributes.secrets] == [rotated.attributes.secrets[0].value]


async def test_rotation_without_a_body_keeps_the_old_secret_a_day(rig: Rig) -> None:
    webhook_id = await create(rig)
    rotated = await rig.client.rotate_webhook_secret(webhook_id, idempotency_key=key())
    old = rotated.attributes.secrets[1]
    assert old.expires_at is not None
    assert old.expires_at - rig.sandbox.clock.now() > timedelta(hours=23)


async def test_list_answers_newest_first_without_secrets(rig: Rig) -> None:
    first = await create(rig)
    rig.advance(1)
    second = await create(rig)
    listed = await rig.client.list_webhooks()
    assert [webhook.id for webhook in listed.data] == [second, first]
    assert all(not webhook.attributes.secrets for webhook in listed.data)
    assert b"wbhsec_" not in rig.contract.last().response.content


async def test_list_pages_follow_the_next_link(rig: Rig) -> None:
    for _ in range(3):
        await create(rig)
        rig.advance(1)
    first = await rig.client.list_webhooks(page_size=2)
    assert first.links.next is not None
    rest = await rig.client.list_webhooks(page_size=2, after=first.data[-1].id)
    assert len(first.data) + len(rest.data) == 3
    assert rest.links.next is None


async def test_rate_limits_report_the_configured_limit(make_rig: RigFactory) -> None:
    rig = await make_rig(rate_limit_per_minute=120)
    (limit,) = await rig.client.list_rate_limits()
    assert (limit.type, limit.attributes.limit) == ("rate-limit/api", 120)
    assert limit.attributes.remaining == 119

"""Signatures: Cloud Elements' published vector, and Standard Webhooks on a real delivery."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks import Webhook, WebhookVerificationError

from pollhub.clock import clock
from pollhub.delivery.dispatcher import Dispatcher
from pollhub.delivery.signing import (
    callback_headers,
    elements_signature,
    standard_webhooks_secret,
)
from tests.conftest import Tenant
from tests.delivery.conftest import Receiver, add_instance, enqueue, fail_times, notifications


def test_elements_signature_matches_the_published_test_vector() -> None:
    signature = elements_signature(
        "MySecretEventSignatureKey", b"<INSERT_EVENT_NOTIFICATION_RESPONSE_BODY>"
    )

    assert signature == "sha256=jHdbRx5EZAsOfTwAPJOGkNUzQMVVdu5VJlxcsk+G6jQ="


@pytest.mark.parametrize("body", [b'{"a": 1}', b"\xff\xfe not UTF-8", b""])
def test_the_standard_webhooks_signature_is_the_librarys_own(body: bytes) -> None:
    key, now = "MySecretEventSignatureKey", clock.now()
    headers = callback_headers(event_id="E1", body=body, signature_key=key, now=now)

    webhook = Webhook(standard_webhooks_secret(key))
    assert headers["webhook-signature"] == webhook.sign(msg_id="E1", timestamp=now, data=body)


def test_without_a_signature_key_only_the_webhook_id_is_sent() -> None:
    headers = callback_headers(event_id="E1", body=b"{}", signature_key=None, now=clock.now())

    assert headers["Elements-Webhook-Id"] == "E1"
    assert "Elements-Webhook-Signature" not in headers
    assert not {"webhook-id", "webhook-signature", "webhook-timestamp"} & set(headers)


def test_the_standard_webhooks_secret_is_derived_not_the_signature_key_itself() -> None:
    secret = standard_webhooks_secret("MySecretEventSignatureKey")

    assert secret.startswith("whsec_")
    assert "MySecretEventSignatureKey" not in secret
    assert secret == standard_webhooks_secret("MySecretEventSignatureKey")


async def test_a_delivered_callback_verifies_with_both_signatures(
    session: AsyncSession, tenant: Tenant, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    key = "MySecretEventSignatureKey"
    instance = await add_instance(session, tenant, receiver.url, signature_key=key)
    [notification] = await enqueue(session, instance)

    await dispatcher.deliver_due()

    [request] = receiver.requests
    assert request.body == notification.body
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Elements-Webhook-Id"] == notification.event_id
    assert request.headers["Elements-Webhook-Signature"] == elements_signature(key, request.body)
    payload = Webhook(standard_webhooks_secret(key)).verify(request.body, request.headers)
    assert payload["message"]["eventId"] == notification.event_id
    assert request.headers["webhook-id"] == notification.event_id


async def test_a_tampered_or_replayed_callback_fails_standard_webhooks_verification(
    session: AsyncSession, tenant: Tenant, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    key = "k3y"
    instance = await add_instance(session, tenant, receiver.url, signature_key=key)
    await enqueue(session, instance)
    await dispatcher.deliver_due()
    [request] = receiver.requests
    tampered = json.dumps({**json.loads(request.body), "action": "delete"}).encode()
    old = dict(request.headers, **{"webhook-timestamp": str(int(clock.now().timestamp()) - 600)})

    with pytest.raises(WebhookVerificationError):
        Webhook(standard_webhooks_secret(key)).verify(tampered, request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(standard_webhooks_secret(key)).verify(request.body, old)


async def test_a_rotated_signature_key_signs_the_next_retry(
    session: AsyncSession, tenant: Tenant, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    receiver.answer = fail_times(1)
    instance = await add_instance(session, tenant, receiver.url, signature_key="old")
    await enqueue(session, instance)
    await dispatcher.deliver_due()
    instance.secrets = {**instance.secrets, "event.notification.signature.key": "new"}
    await session.commit()

    clock.advance(timedelta(seconds=10))
    await dispatcher.deliver_due()

    first, second = receiver.requests
    assert first.headers["Elements-Webhook-Signature"] == elements_signature("old", first.body)
    assert second.headers["Elements-Webhook-Signature"] == elements_signature("new", second.body)
    assert [n.status for n in await notifications(session)] == ["delivered"]

"""Webhook signatures cover a timestamp as well as the body, and receivers are https unless the operator allows http."""

from __future__ import annotations

import hashlib
import hmac
import socket
import time
from decimal import Decimal

import pytest

from grader.models import WebhookDelivery, WebhookEndpoint
from grader.services.submissions import correction_create
from grader.services.webhooks import webhook_delivery_attempt, webhook_signature
from tests.api.receiver import start_receiver


def test_a_plain_http_receiver_is_refused_unless_allowed(owner, settings, monkeypatch):
    settings.GRADER_WEBHOOK_ALLOW_HTTP = False
    public = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 443))]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: public)
    refused = owner.client.post("/api/v1/webhooks/", {"url": "http://lms.example/hook"}, format="json")
    assert refused.status_code == 400 and "https" in refused.json()["error"]["message"]
    assert owner.client.post("/api/v1/webhooks/", {"url": "https://lms.example/hook"}, format="json").status_code == 201
    settings.GRADER_WEBHOOK_ALLOW_HTTP = True
    assert owner.client.post("/api/v1/webhooks/", {"url": "http://lms.example/hook"}, format="json").status_code == 201


def test_an_endpoint_registered_as_http_is_not_called_once_http_is_no_longer_allowed(
    owner, owned_submission, teacher, settings
):
    receiver, server = start_receiver()
    try:
        settings.GRADER_WEBHOOK_ALLOW_PRIVATE_HOSTS = True
        settings.GRADER_WEBHOOK_ALLOW_HTTP = False
        WebhookEndpoint.objects.create(integration=owner.integration, url=receiver.url, secret="whsec_x")
        correction_create(submission=owned_submission, teacher=teacher, points=Decimal("4"))
        delivery = WebhookDelivery.objects.get()
        assert not webhook_delivery_attempt(delivery_id=delivery.pk).succeeded
        assert receiver.requests == []
    finally:
        server.shutdown()


def test_the_signature_covers_a_timestamp_and_the_body(owner, owned_submission, teacher, settings):
    receiver, server = start_receiver()
    try:
        settings.GRADER_WEBHOOK_ALLOW_PRIVATE_HOSTS = True
        settings.GRADER_WEBHOOK_ALLOW_HTTP = True
        WebhookEndpoint.objects.create(integration=owner.integration, url=receiver.url, secret="whsec_k")
        correction_create(submission=owned_submission, teacher=teacher, points=Decimal("4"))
        before = int(time.time())
        assert webhook_delivery_attempt(delivery_id=WebhookDelivery.objects.get().pk).succeeded
    finally:
        server.shutdown()
    [received] = receiver.requests
    header = received.headers["X-Grader-Signature"]
    fields = dict(part.split("=", 1) for part in header.split(","))
    assert set(fields) == {"t", "v1"}
    assert before <= int(fields["t"]) <= time.time()
    signed = fields["t"].encode() + b"." + received.body
    assert hmac.compare_digest(fields["v1"], hmac.new(b"whsec_k", signed, hashlib.sha256).hexdigest())
    # A replayer cannot move the time forward without the secret.
    later = webhook_signature(secret="whsec_k", body=received.body, timestamp=int(fields["t"]) + 600)
    assert later.split("v1=")[1] != fields["v1"]


@pytest.mark.parametrize("timestamp", [0, 1_700_000_000])
def test_the_signature_is_the_documented_format(timestamp):
    expected = hmac.new(b"s", f"{timestamp}.".encode() + b"{}", hashlib.sha256).hexdigest()
    assert webhook_signature(secret="s", body=b"{}", timestamp=timestamp) == f"t={timestamp},v1={expected}"

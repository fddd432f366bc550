"""A webhook URL never reaches grader's own network, whatever its name resolves to and however it is spelt."""

from __future__ import annotations

import socket
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from grader.models import WebhookDelivery, WebhookEndpoint
from grader.services import webhook_http
from grader.services.submissions import correction_create
from grader.services.webhook_http import address_is_public, webhook_url_check
from grader.services.webhooks import webhook_delivery_attempt
from tests.api.receiver import start_receiver

PUBLIC = "93.184.216.34"


@pytest.fixture(autouse=True)
def _plain_http_allowed(settings):
    # These tests are about addresses and parsing; the local receiver speaks plain http.
    settings.GRADER_WEBHOOK_ALLOW_HTTP = True


@pytest.fixture
def receiver():
    receiver, server = start_receiver()
    yield receiver
    server.shutdown()


@pytest.fixture
def rebinding_dns(monkeypatch):
    """``rebind.example`` answers a public address to the first question and 127.0.0.1 to every later one."""
    real_getaddrinfo = socket.getaddrinfo
    answers = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host != "rebind.example":
            return real_getaddrinfo(host, port, *args, **kwargs)
        address = PUBLIC if not answers else "127.0.0.1"
        answers.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


@pytest.fixture
def connections(monkeypatch):
    """Records where connections go; the public test address refuses (no test reaches the internet)."""
    real_create_connection = socket.create_connection
    seen = []

    def create_connection(address, *args, **kwargs):
        seen.append(address)
        if address[0] == PUBLIC:
            raise ConnectionRefusedError("the public test address")
        return real_create_connection(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", create_connection)
    return seen


def test_a_delivery_connects_to_the_address_that_was_checked_not_to_a_rebound_one(
    owner, owned_submission, teacher, receiver, rebinding_dns, connections, settings
):
    settings.GRADER_WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    port = receiver.url.split(":")[2].split("/")[0]
    endpoint = WebhookEndpoint.objects.create(
        integration=owner.integration, url=f"http://rebind.example:{port}/hook", secret="whsec_x"
    )
    correction_create(submission=owned_submission, teacher=teacher, points=Decimal("4"))
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)

    outcome = webhook_delivery_attempt(delivery_id=delivery.pk)

    assert receiver.requests == []
    assert not outcome.succeeded
    assert connections == [(PUBLIC, int(port))]
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.PENDING and "refused" in delivery.last_error.lower()


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of the cloud metadata address 169.254.169.254
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
        "::ffff:127.0.0.1",
        "::127.0.0.1",  # the deprecated IPv4-compatible form
        "64:ff9b:1::a00:1",  # local-use NAT64
        "224.0.0.1",
        "169.254.169.254",
    ],
)
def test_ipv6_forms_of_private_addresses_are_refused(address):
    assert not address_is_public(address)


@pytest.mark.parametrize("address", [PUBLIC, "64:ff9b::5db8:d822", "2002:5db8:d822::1", "2606:4700::1111"])
def test_public_addresses_and_their_ipv6_forms_are_accepted(address):
    assert address_is_public(address)


def test_a_name_resolving_to_a_nat64_private_address_is_refused(monkeypatch, settings):
    settings.GRADER_WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    monkeypatch.setattr(
        socket, "getaddrinfo", lambda *a, **k: [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("64:ff9b::7f00:1", 443))]
    )
    with pytest.raises(ValidationError):
        webhook_url_check("https://nat64.example/hook")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8199\\@93.184.216.34/",
        "http://user:pass@93.184.216.34/",
        "http://93.184.216.34/ho ok",
        "http://93.184.216.34/\x00",
        "http://93.184.216.34:99999/",
        "http://93.184.216.34:80:81/",
        "http://93.184.216.34/#fragment",
        "http://exa_mple.com/",
        "http://\u0441\u0430\u0439\u0442.example/",
        "ftp://93.184.216.34/",
        "http:///path",
    ],
)
def test_urls_that_parsers_read_differently_are_refused_at_registration(owner, url, settings):
    settings.GRADER_WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    response = owner.client.post("/api/v1/webhooks/", {"url": url}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid"
    assert not WebhookEndpoint.objects.exists()


def test_a_stored_url_the_client_cannot_parse_is_a_failed_attempt_not_a_delivery_stuck_sending(
    owner, owned_submission, teacher
):
    # Registered before the check was strict: the row exists, and its deliveries must still finish.
    WebhookEndpoint.objects.create(
        integration=owner.integration, url="http://127.0.0.1:8199\\@93.184.216.34/", secret="whsec_x"
    )
    correction_create(submission=owned_submission, teacher=teacher, points=Decimal("4"))
    delivery = WebhookDelivery.objects.get()
    outcome = webhook_delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert outcome.sent and not outcome.succeeded
    assert delivery.status == WebhookDelivery.Status.PENDING and delivery.last_error


def test_any_exception_of_the_http_client_is_a_failed_attempt(
    owner, owned_submission, teacher, receiver, monkeypatch, settings
):
    settings.GRADER_WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    WebhookEndpoint.objects.create(integration=owner.integration, url=receiver.url, secret="whsec_x")
    correction_create(submission=owned_submission, teacher=teacher, points=Decimal("4"))
    delivery = WebhookDelivery.objects.get()

    def broken(*args, **kwargs):
        raise RuntimeError("a client bug")

    monkeypatch.setattr(webhook_http.http.client.HTTPConnection, "request", broken)
    webhook_delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.PENDING and "a client bug" in delivery.last_error


def test_an_integration_has_a_bounded_number_of_active_endpoints(owner, settings):
    settings.GRADER_WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    settings.GRADER_WEBHOOK_MAX_ENDPOINTS = 2
    urls = [f"http://127.0.0.1:9/hook-{n}" for n in range(3)]
    statuses = [owner.client.post("/api/v1/webhooks/", {"url": url}, format="json").status_code for url in urls]
    assert statuses == [201, 201, 400]
    assert WebhookEndpoint.objects.count() == 2
    # Deleting one frees its place.
    first = WebhookEndpoint.objects.order_by("pk").first()
    assert owner.client.delete(f"/api/v1/webhooks/{first.pk}/").status_code == 204
    assert owner.client.post("/api/v1/webhooks/", {"url": urls[2]}, format="json").status_code == 201


def test_an_https_delivery_connects_to_the_checked_address_and_verifies_tls_there(
    owner, owned_submission, teacher, receiver, rebinding_dns, settings, monkeypatch
):
    settings.GRADER_WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    real_create_connection = socket.create_connection
    seen = []

    def create_connection(address, *args, **kwargs):
        # The checked public address stands in for the local plain-http receiver, which cannot speak TLS.
        seen.append(address)
        return real_create_connection(("127.0.0.1", address[1]), *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", create_connection)
    port = int(receiver.url.split(":")[2].split("/")[0])
    WebhookEndpoint.objects.create(
        integration=owner.integration, url=f"https://rebind.example:{port}/hook", secret="whsec_x"
    )
    correction_create(submission=owned_submission, teacher=teacher, points=Decimal("4"))
    delivery = WebhookDelivery.objects.get()
    assert not webhook_delivery_attempt(delivery_id=delivery.pk).succeeded
    assert seen == [(PUBLIC, port)]
    delivery.refresh_from_db()
    assert "SSL" in delivery.last_error and delivery.status == WebhookDelivery.Status.PENDING

"""The one way grader sends HTTP to a receiver: check the URL, resolve its host once, connect to that address.

A registered URL must never become a way into grader's own network (SSRF). Checking a name and then letting an
HTTP client resolve it again is not enough: the name can answer a public address to the check and a private one
to the connection (DNS rebinding). So the URL is parsed once, here, every address its host resolves to is
checked, and the connection goes to the checked address, on every delivery. The HTTP client never sees the URL
string, so no second parser can read it differently (a backslash, an "@" or a stray port are refused first).
"""

from __future__ import annotations

import http.client
import ipaddress
import re
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

# IPv6 forms that carry an IPv4 address a gateway or the host itself may route to: checked by that address.
NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")
# Local-use NAT64 (an operator's own translator) and the deprecated IPv4-compatible form: never a receiver.
REFUSED_IPV6 = (ipaddress.ip_network("64:ff9b:1::/48"), ipaddress.ip_network("::/96"))

# Letters, digits, hyphens and dots: what DNS names are (IDNs arrive here already as xn-- labels or are refused).
_HOST_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.?$")
_MAX_URL_LENGTH = 2000


def _refused(message: str) -> ValidationError:
    return ValidationError({"url": message})


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (``address``) and what to ask for there."""

    scheme: str
    host: str  # for the Host header and TLS (SNI and the certificate's name)
    port: int
    path: str  # path and query, as sent on the request line
    address: str  # the resolved address that was checked; the only one connected to


def address_is_public(address: str) -> bool:
    """Whether an address is on the public internet, looking through IPv6 forms that embed an IPv4 address."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if any(ip in network for network in REFUSED_IPV6):
            return False
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in NAT64_WELL_KNOWN:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if ip.teredo is not None:
            return False
        if embedded is not None:
            return address_is_public(str(embedded))
    return ip.is_global and not ip.is_multicast


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def webhook_url_check(url: str) -> Target:
    """Parse a receiver URL strictly and resolve its host; ValidationError for anything grader will not call.

    Called when an endpoint is registered and again before every delivery (a name's addresses change).
    """
    if not isinstance(url, str) or not url or len(url) > _MAX_URL_LENGTH:
        raise _refused("Give an http(s) URL.")
    if not url.isascii() or not url.isprintable() or any(char in url for char in " \\"):
        # What one parser reads as part of the host another reads as a path or a user name.
        raise _refused("The URL may contain only printable ASCII characters, without spaces or backslashes.")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError when not a number in range
    except ValueError as error:
        raise _refused("Give an http(s) URL.") from error
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _refused("Give an http(s) URL.")
    if parts.scheme == "http" and not settings.GRADER_WEBHOOK_ALLOW_HTTP:
        # Plain http would show every grade, and the signature a replayer needs, to anyone on the way.
        raise _refused("Give an https:// URL; plain http:// receivers are not allowed.")
    if "@" in parts.netloc or parts.fragment:
        raise _refused("The URL may not contain a user name, password or fragment.")
    host = parts.hostname
    if not (_HOST_NAME.match(host) or _is_ip_literal(host)):
        raise _refused("The URL's host is not a valid name or address.")
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as error:
        raise _refused("The host does not resolve.") from error
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise _refused("The host does not resolve.")
    if not settings.GRADER_WEBHOOK_ALLOW_PRIVATE_HOSTS and not all(map(address_is_public, addresses)):
        raise _refused("The host resolves to a private or reserved address.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme=parts.scheme, host=host, port=port, path=path, address=addresses[0])


def _connection(target: Target, timeout: float) -> http.client.HTTPConnection:
    connection: http.client.HTTPConnection
    if target.scheme == "https":
        connection = http.client.HTTPSConnection(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(target.host, target.port, timeout=timeout)

    # http.client would resolve the name again; it connects to the checked address instead. TLS still verifies
    # the certificate against the URL's host name.
    def connect_to_checked_address(address, *args, **kwargs):
        return socket.create_connection((target.address, address[1]), *args, **kwargs)

    connection._create_connection = connect_to_checked_address  # type: ignore[attr-defined]  # http.client's own hook
    return connection


def webhook_post(*, url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST ``body`` to ``url``; the response's status code. Redirects are not followed (a 3xx is a failure)."""
    target = webhook_url_check(url)
    connection = _connection(target, settings.GRADER_WEBHOOK_TIMEOUT_SECONDS)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()

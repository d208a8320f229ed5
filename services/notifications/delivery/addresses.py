"""Where webhooks may be sent (against server-side request forgery): https to public addresses;
plain http only to this machine's loopback, and only where development allows it; private,
link-local and other internal addresses only where configured.

Checked when a subscription is made or changed (the URL as written), again before every attempt
(the URL), and on every new connection, by the webhook client's resolver (http_client.py:
PolicyResolver), against the addresses the host resolves to for that very connection: a name
that later resolves inward is refused at connect time, and nothing resolves it again between
the check and the connection.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit


class AddressRefused(ValueError):
    pass


@dataclass(frozen=True)
class AddressPolicy:
    allow_loopback_http: bool = False  # development: receivers on 127.0.0.1 over plain http
    allow_private: bool = False  # receivers inside the organisation's network

    def check_url(self, url: str) -> None:
        """Refuse what the URL alone shows is not allowed."""
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise AddressRefused("must be an https URL")
        if parts.username or parts.password:
            raise AddressRefused("must not carry credentials")
        try:
            parts.port
        except ValueError:
            raise AddressRefused("has an invalid port") from None
        host = parts.hostname
        loopback = host == "localhost" or _is_loopback(host)
        if parts.scheme == "http" and not (loopback and self.allow_loopback_http):
            raise AddressRefused("must be https (plain http only to loopback, in development)")
        literal = _literal(host)
        if literal is not None:
            self.check_address(literal)
        elif loopback and not self.allow_loopback_http:
            raise AddressRefused("must not be this machine")

    def check_address(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
        if address.is_loopback:
            if not self.allow_loopback_http:
                raise AddressRefused("must not be this machine")
            return
        if not address.is_global and not (self.allow_private and address.is_private):
            raise AddressRefused("must not be a private, link-local or reserved address")

    def check_resolved_address(self, address: str) -> None:
        """Refuse an address a host name resolved to (checked as the connection is made)."""
        self.check_address(ipaddress.ip_address(address))


def _literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _is_loopback(host: str) -> bool:
    literal = _literal(host)
    return literal is not None and literal.is_loopback

"""Where webhooks may be sent (against server-side request forgery): https to public addresses;
plain http only to this machine's loopback, and only where development allows it; private,
link-local and other internal addresses only where configured.

Checked when a subscription is made or changed (the URL as written) and again before every
attempt (the addresses its host resolves to then), so a name that later resolves inward is
refused at send time. (A resolver that answers differently between our check and the
connection's own lookup is not caught: connecting to the checked address is left for later.)
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
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

    async def check_resolved(self, url: str) -> None:
        """Refuse a host that resolves, now, to an address not allowed."""
        self.check_url(url)
        parts = urlsplit(url)
        host = parts.hostname or ""
        if _literal(host) is not None:
            return
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
        except OSError as error:
            raise AddressRefused(f"the host does not resolve ({error.strerror or error})") from None
        for info in infos:
            self.check_address(ipaddress.ip_address(info[4][0]))


def _literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _is_loopback(host: str) -> bool:
    literal = _literal(host)
    return literal is not None and literal.is_loopback

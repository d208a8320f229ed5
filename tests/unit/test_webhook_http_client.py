"""The webhooks' HTTP client (services/notifications/delivery/http_client.py) against a raw server
in the test's event loop: what it sends, which answers keep the connection, how failures are
named, and which addresses it refuses to connect to."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from services.notifications.delivery.addresses import AddressPolicy, AddressRefused
from services.notifications.delivery.http_client import (
    ConnectError, PolicyResolver, RemoteProtocolError, UnsupportedProtocol, WebhookClient)
from tests.support.processes import free_port


@dataclass
class RawServer:
    """Answers each request with the bytes `answer` gives for it (None: close without answering)."""

    answer: Callable[[bytes], bytes | None]
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0
    close_after_answer: bool = False

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                answer = self.answer(request)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
                if self.close_after_answer:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def serving(answer: Callable[[bytes], bytes | None]) -> AsyncIterator[tuple[RawServer, str]]:
    server = RawServer(answer)
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    try:
        yield server, f"http://127.0.0.1:{port}"
    finally:
        listening.close()


NO_CONTENT = b"HTTP/1.1 204 No Content\r\n\r\n"
LOOPBACK = AddressPolicy(allow_loopback_http=True)  # the test's receivers are on 127.0.0.1


async def test_a_post_carries_the_body_and_headers_and_keeps_its_connection() -> None:
    client = WebhookClient(LOOPBACK)
    async with serving(lambda _: NO_CONTENT) as (server, url):
        first = await client.post(f"{url}/hooks/a b?x=1", b'{"a":1}', {"webhook-id": "msg_1"})
        second = await client.post(f"{url}/hooks", b"{}", {"webhook-id": "msg_2"})
    await client.aclose()
    assert (first.status_code, second.status_code) == (204, 204) and first.is_success
    assert server.connections == 1
    head, body = server.requests[0].split(b"\r\n\r\n")
    lines = head.decode().lower().split("\r\n")
    assert lines[0] == "post /hooks/a%20b?x=1 http/1.1"
    assert f"host: {url.removeprefix('http://')}" in lines and "webhook-id: msg_1" in lines
    assert "content-length: 7" in lines and body == b'{"a":1}'


async def test_a_small_body_is_read_and_the_headers_are_given() -> None:
    client = WebhookClient(LOOPBACK)
    answer = b"HTTP/1.1 503 Busy\r\nRetry-After: 30\r\nContent-Length: 5\r\n\r\nlater"
    async with serving(lambda _: answer) as (server, url):
        first = await client.post(url, b"{}", {})
        await client.post(url, b"{}", {})
    await client.aclose()
    assert (first.status_code, first.headers["retry-after"], first.is_success) == (503, "30", False)
    assert server.connections == 1


@pytest.mark.parametrize("answer", [  # (a body aiohttp parsed whole with the head keeps its connection)
    b"HTTP/1.1 200 OK\r\nContent-Length: 4000000\r\n\r\n" + b"x" * 4_000_000,  # too large to read
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",  # more may come
    b"HTTP/1.1 200 OK\r\n\r\n",  # unsized: the body lasts until the connection closes
    b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n",
    b"HTTP/1.0 204 No Content\r\n\r\n",
])
async def test_an_answer_whose_body_is_not_read_closes_its_connection(answer: bytes) -> None:
    client = WebhookClient(LOOPBACK)
    async with serving(lambda _: answer) as (server, url):
        statuses = [(await client.post(url, b"{}", {})).status_code for _ in range(2)]
    await client.aclose()
    assert statuses[0] == statuses[1] and server.connections == 2


async def test_a_connection_the_receiver_closed_while_idle_is_not_reused() -> None:
    client = WebhookClient(LOOPBACK)
    async with serving(lambda _: NO_CONTENT) as (server, url):
        server.close_after_answer = True  # without saying so in a header
        await client.post(url, b"{}", {})
        for _ in range(100):  # until the loop has seen the receiver's end of the connection
            await asyncio.sleep(0)
        answer = await client.post(url, b"{}", {})
    await client.aclose()
    assert answer.status_code == 204 and server.connections == 2


async def test_an_interim_answer_is_skipped() -> None:
    client = WebhookClient(LOOPBACK)
    async with serving(lambda _: b"HTTP/1.1 100 Continue\r\n\r\n" + NO_CONTENT) as (_, url):
        answer = await client.post(url, b"{}", {})
    await client.aclose()
    assert answer.status_code == 204


async def test_failures_are_named_as_httpx_named_them() -> None:
    client = WebhookClient(LOOPBACK)
    async with serving(lambda _: None) as (_, url):
        with pytest.raises(RemoteProtocolError):
            await client.post(url, b"{}", {})
    async with serving(lambda _: b"SMTP ready\r\n\r\n") as (_, url):
        with pytest.raises(RemoteProtocolError):
            await client.post(url, b"{}", {})
    with pytest.raises(ConnectError):
        await client.post(f"http://127.0.0.1:{free_port()}/", b"{}", {})
    with pytest.raises(UnsupportedProtocol):
        await client.post("ftp://127.0.0.1/", b"{}", {})
    await client.aclose()


async def test_the_status_is_heard_before_a_slow_body() -> None:
    """A timeout while a small body comes still knows the status (the attempt records it)."""
    heard: list[int] = []
    client = WebhookClient(LOOPBACK)

    async def stalling(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 500 Oops\r\nContent-Length: 10\r\n\r\nabc")
        await writer.drain()
        await asyncio.sleep(5)
        writer.close()
    listening = await asyncio.start_server(stalling, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    try:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                await client.post(f"http://127.0.0.1:{port}/", b"{}", {},
                                  lambda answer: heard.append(answer.status_code))
    finally:
        listening.close()
        await client.aclose()
    assert heard == [500]


def self_signed(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server's TLS context with a certificate for 127.0.0.1 signed by itself, and a client's
    context that trusts that certificate alone."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=1))
                   .not_valid_after(now + timedelta(hours=1))
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                  critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    return server, ssl.create_default_context(cafile=str(cert_file))


async def test_https_is_verified_against_the_trusted_authorities(tmp_path: Path) -> None:
    server_tls, trusting = self_signed(tmp_path)
    server = RawServer(lambda _: NO_CONTENT)
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=server_tls)
    url = f"https://127.0.0.1:{listening.sockets[0].getsockname()[1]}/hooks"
    try:
        default, trusted = WebhookClient(LOOPBACK), WebhookClient(LOOPBACK, trusting)
        with pytest.raises(ConnectError):  # httpx's default authorities do not know this certificate
            await default.post(url, b"{}", {})
        answers = [(await trusted.post(url, b"{}", {})).status_code for _ in range(2)]
        await default.aclose()
        await trusted.aclose()
    finally:
        listening.close()
    assert answers == [204, 204] and server.connections == 1


async def test_a_request_that_cannot_be_written_is_refused_as_a_failure() -> None:
    client = WebhookClient(LOOPBACK)
    with pytest.raises(UnsupportedProtocol):
        await client.post(f"http://{'a' * 64}.example/", b"{}", {})  # a label longer than IDNA allows
    async with serving(lambda _: NO_CONTENT) as (server, url):
        with pytest.raises(UnsupportedProtocol):
            await client.post(url, b"{}", {"x-note": "a\r\nx-injected: 1"})
        assert (await client.post(url, b"{}", {})).status_code == 204
    await client.aclose()
    assert all(b"x-injected" not in request for request in server.requests)


@dataclass
class FixedResolver(AbstractResolver):
    addresses: list[str] | OSError

    async def resolve(self, host: str, port: int = 0, family: object = 0) -> list[ResolveResult]:
        if isinstance(self.addresses, OSError):
            raise self.addresses
        return [{"hostname": host, "host": address, "port": port, "family": socket.AF_INET, "proto": 0, "flags": 0}
                for address in self.addresses]

    async def close(self) -> None:
        pass


async def test_the_resolver_refuses_the_addresses_the_policy_refuses() -> None:
    policy = AddressPolicy()
    allowed = await PolicyResolver(policy, FixedResolver(["93.184.215.14"])).resolve("hooks.example", 443)
    assert [result["host"] for result in allowed] == ["93.184.215.14"]
    for addresses in (["93.184.215.14", "10.0.0.5"], ["127.0.0.1"], ["169.254.169.254"]):
        with pytest.raises(AddressRefused):
            await PolicyResolver(policy, FixedResolver(addresses)).resolve("hooks.example", 443)
    with pytest.raises(AddressRefused, match="does not resolve"):
        await PolicyResolver(policy, FixedResolver(OSError("no such name"))).resolve("hooks.example", 443)


async def test_a_name_resolving_to_a_refused_address_is_never_connected_to() -> None:
    """The check is the connection's own lookup: `localhost` is refused where loopback is."""
    async with serving(lambda _: NO_CONTENT) as (server, url):
        by_name = url.replace("127.0.0.1", "localhost")
        refusing = WebhookClient(AddressPolicy(allow_private=True))
        with pytest.raises(AddressRefused):
            await refusing.post(by_name, b"{}", {})
        await refusing.aclose()
        assert server.connections == 0
        allowing = WebhookClient(LOOPBACK)
        answer = await allowing.post(by_name, b"{}", {})
        await allowing.aclose()
    assert answer.status_code == 204 and server.connections == 1

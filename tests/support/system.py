"""The three services running in the test's own event loop, against the test's database and vhost."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any
from urllib.parse import unquote, urlsplit

import aio_pika
import httpx

from services.careplan.bootstrap import CareplanSettings
from services.careplan.bootstrap import create_service as create_careplan
from services.intake.bootstrap import IntakeSettings
from services.intake.bootstrap import create_service as create_intake
from services.notifications.bootstrap import NotificationsSettings
from services.notifications.bootstrap import create_service as create_notifications
from shared.relay import OutboxRelay
from shared.runtime import Service
from shared.tokens import issue_token
from shared.settings import ServiceSettings
from tests.support.polling import eventually
from tests.support.servers import Isolation, Isolator

FACTORIES = {
    "intake": (IntakeSettings, create_intake),
    "careplan": (CareplanSettings, create_careplan),
    "notifications": (NotificationsSettings, create_notifications),
}

# Short backoff so that tests of retries finish quickly; the order of steps is what matters.
TEST_RETRY_DELAYS = (0.05, 0.1, 0.2, 0.5, 1.0)
TEST_JWT_SECRET = "carecoord-tests-only-hs256-secret"
TEST_AGENCY = "north-clinic"
TEST_CIPHER_KEY = "q1ZpWmS4m6wD0oCqk3pQd6hR2Yd1pTQ1S0h6rXo1bXc="  # tests only


def token(role: str, subject: str | None = None, *, secret: str = TEST_JWT_SECRET, audience: str = "carecoord",
          issuer: str = "carecoord-dev", **claims: Any) -> str:
    """A real signed token, as the agency's identity provider would issue (HS256 in tests)."""
    if role == "agency_system":
        claims.setdefault("agency", TEST_AGENCY)
    return issue_token(secret, "HS256", subject=subject or f"test-{role}", role=role, audience=audience,
                       issuer=issuer, **claims)


def bearer(role: str, subject: str | None = None, **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(role, subject, **claims)}"}


class System:
    """With an isolator, each service connects as a broker user of its own (created per test, and
    allowed to publish only its own routing keys), as in production; else all connect as guest."""

    def __init__(self, isolation: Isolation, isolator: Isolator | None = None) -> None:
        self.isolation = isolation
        self.services: list[Service] = []
        self.idle_relays: dict[str, OutboxRelay | None] = {}
        self._isolator = isolator
        self._service_urls: dict[str, str] = {}
        self._connection: aio_pika.abc.AbstractRobustConnection | None = None
        self._connections: dict[str, aio_pika.abc.AbstractConnection] = {}

    async def service_amqp_url(self, name: str) -> str:
        """The AMQP URL service `name` connects with (its own broker user, created on first use)."""
        if self._isolator is None:
            return self.isolation.amqp_url
        if name not in self._service_urls:
            self._service_urls[name] = await asyncio.to_thread(
                self._isolator.create_user, self.isolation, name)
        return self._service_urls[name]

    def broker_user(self, name: str) -> str:
        """The broker user service `name` publishes as."""
        return unquote(urlsplit(self._service_urls.get(name, self.isolation.amqp_url)).username or "guest")

    async def process_environment(self, name: str) -> dict[str, str]:
        """What service `name` run as a process needs to join services this System started."""
        for each in FACTORIES:
            await self.service_amqp_url(each)
        return {"AMQP_URL": self._service_urls.get(name, self.isolation.amqp_url),
                "EVENT_PUBLISHERS": json.dumps({service: self.broker_user(service) for service in FACTORIES})}

    def settings(self, name: str, **overrides: Any) -> ServiceSettings:
        """Call after `service_amqp_url` for every service (as `start` does)."""
        settings_class, _ = FACTORIES[name]
        values = {
            "database_url": self.isolation.database_url,
            "amqp_url": self._service_urls.get(name, self.isolation.amqp_url),
            "event_publishers": {service: self.broker_user(service) for service in FACTORIES},
            "retry_delays": TEST_RETRY_DELAYS,
            "log_json": False,
            "jwt_dev_secret": TEST_JWT_SECRET,
            "event_cipher_key": TEST_CIPHER_KEY,
            **overrides,
        }
        return settings_class(**values)

    async def start(self, name: str, run_relay: bool = True, **overrides: Any) -> Service:
        """Build and start a service. With run_relay=False its relay is built but the test drives it."""
        _, factory = FACTORIES[name]
        for each in FACTORIES:
            await self.service_amqp_url(each)
        service = await asyncio.to_thread(factory, self.settings(name, **overrides))
        self.idle_relays[name] = None if run_relay else service.relay
        await service.start(run_relay=run_relay)
        self.services.append(service)
        return service

    async def start_connected(self, name: str, run_relay: bool = True, **overrides: Any) -> Service:
        service = await self.start(name, run_relay, **overrides)
        await asyncio.wait_for(service.broker_ready.wait(), timeout=20)
        return service

    async def stop(self, service: Service) -> None:
        self.services.remove(service)
        await service.stop()

    async def stop_all(self) -> None:
        for service in list(self.services):
            await self.stop(service)
        # Bounded: a connection whose channel the server closed (a passive declare of a missing
        # queue) can leave aio-pika waiting forever on the close handshake.
        for connection in [self._connection, *self._connections.values()]:
            if connection is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(connection.close(), timeout=5)

    @staticmethod
    def client(service: Service, role: str | None = None, subject: str | None = None, **claims: Any) -> httpx.AsyncClient:
        """An HTTP client for the service, carrying a token for `role` (none if role is None)."""
        assert service.http is not None
        headers = bearer(role, subject, **claims) if role else {}
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=service.http), base_url=f"http://{service.name}",
                                 headers=headers)

    # Broker access for tests: a tap on the events exchange, raw publishing, dead-letter queues.

    async def channel(self) -> aio_pika.abc.AbstractChannel:
        if self._connection is None:
            # Not robust: a test's own connection should fail loudly, not reopen channels the
            # server closed on purpose.
            self._connection = await aio_pika.connect(self.isolation.amqp_url)
        return await self._connection.channel(publisher_confirms=True)

    async def tap(self, binding: str = "#") -> aio_pika.abc.AbstractQueue:
        """A queue that receives a copy of every event published from now on."""
        channel = await self.channel()
        exchange = await channel.declare_exchange("carecoord.events", aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(exchange, routing_key=binding)
        return queue

    async def publish_raw(self, body: bytes, routing_key: str, headers: dict[str, Any] | None = None,
                          as_service: str | None = None) -> None:
        """Publish to the events exchange as guest, or `as_service` (its broker user, which it names
        in `user_id` as its relay does)."""
        if as_service is None:
            channel, user_id = await self.channel(), None
        else:
            channel, user_id = await self.service_channel(as_service), self.broker_user(as_service)
        exchange = await channel.get_exchange("carecoord.events")
        await exchange.publish(aio_pika.Message(body, headers=headers or {}, delivery_mode=2, user_id=user_id),
                               routing_key=routing_key)
        await channel.close()

    async def service_channel(self, name: str) -> aio_pika.abc.AbstractChannel:
        """A channel (with confirms) connected as service `name`'s broker user."""
        if name not in self._connections:
            self._connections[name] = await aio_pika.connect(await self.service_amqp_url(name))
        return await self._connections[name].channel(publisher_confirms=True)

    async def drain(self, queue: aio_pika.abc.AbstractQueue) -> list[aio_pika.abc.AbstractIncomingMessage]:
        messages = []
        while (message := await queue.get(fail=False)) is not None:
            await message.ack()
            messages.append(message)
        return messages

    async def collect(self, queue: aio_pika.abc.AbstractQueue | str, count: int, what: str,
                      timeout: float = 20.0) -> list[aio_pika.abc.AbstractIncomingMessage]:
        """At least `count` messages from `queue` (a dead-letter queue by name), gathered across
        polls: draining acks what it takes, so each poll's messages must be kept."""
        gathered: list[aio_pika.abc.AbstractIncomingMessage] = []

        async def enough() -> list[aio_pika.abc.AbstractIncomingMessage] | None:
            gathered.extend(await (self.dead_letters(queue) if isinstance(queue, str) else self.drain(queue)))
            return gathered if len(gathered) >= count else None

        return await eventually(enough, timeout=timeout, what=what)

    async def dead_letters(self, service: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
        channel = await self.channel()
        try:
            queue = await channel.declare_queue(f"{service}.dead-letter", passive=True)
            return await self.drain(queue)
        finally:
            if not channel.is_closed:
                await channel.close()


def envelope(message: aio_pika.abc.AbstractIncomingMessage) -> dict[str, Any]:
    return json.loads(message.body)

"""Where the tests find PostgreSQL and RabbitMQ, and how each test gets its own database and vhost.

Order: URLs from the environment; else the local servers on their default ports; else, where a
Docker engine exists, testcontainers. Never stops or restarts a server it did not start.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
import psycopg
from psycopg import sql

from shared.broker_users import ManagementApi


@dataclass(frozen=True)
class Servers:
    postgres_admin_url: str  # a database to connect to while creating and dropping others
    amqp_url: str            # without a vhost
    rabbitmq_api_url: str    # management HTTP API, for vhosts


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=1):
            return True
    except OSError:
        return False


def find_servers() -> tuple[Servers, list[object]]:
    """The servers to test against, and any containers started for them (to stop at the end)."""
    servers = Servers(
        postgres_admin_url=os.environ.get("CARECOORD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        amqp_url=os.environ.get("CARECOORD_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
        rabbitmq_api_url=os.environ.get("CARECOORD_TEST_RABBITMQ_API", "http://guest:guest@127.0.0.1:15672/api"),
    )
    if _reachable(servers.postgres_admin_url, 5432) and _reachable(servers.amqp_url, 5672):
        return servers, []
    return _start_containers()


def _start_containers() -> tuple[Servers, list[object]]:
    from testcontainers.postgres import PostgresContainer
    from testcontainers.rabbitmq import RabbitMqContainer

    postgres = PostgresContainer("postgres:15", username="postgres", password="postgres", dbname="postgres")
    rabbitmq = RabbitMqContainer("rabbitmq:3.10-management").with_exposed_ports(5672, 15672)
    postgres.start()
    rabbitmq.start()
    host = rabbitmq.get_container_host_ip()
    servers = Servers(
        postgres_admin_url=postgres.get_connection_url(driver=None),
        amqp_url=f"amqp://guest:guest@{host}:{rabbitmq.get_exposed_port(5672)}/",
        rabbitmq_api_url=f"http://guest:guest@{host}:{rabbitmq.get_exposed_port(15672)}/api",
    )
    return servers, [postgres, rabbitmq]


@dataclass(frozen=True)
class Isolation:
    """A database and a vhost of one's own (a test's, or a benchmark run's)."""

    database_url: str
    amqp_url: str
    vhost: str
    database: str


class Isolator:
    """Creates and drops databases and vhosts named `<prefix>_<hex>` / `<prefix>-<hex>`: tests use
    the default prefix, bench/backbone.py `bench`."""

    def __init__(self, servers: Servers, prefix: str = "cc_test") -> None:
        self.servers = servers
        self._prefix = prefix
        api = urlsplit(servers.rabbitmq_api_url)
        self._api_auth = (api.username or "guest", api.password or "guest")
        self._api_base = urlunsplit(api._replace(netloc=f"{api.hostname}:{api.port or 15672}"))

    def create(self) -> Isolation:
        token = uuid.uuid4().hex[:12]
        database, vhost = f"{self._prefix}_{token}", f"{self._prefix.replace('_', '-')}-{token}"
        with psycopg.connect(self.servers.postgres_admin_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        try:
            with httpx.Client(auth=self._api_auth, timeout=10) as client:
                client.put(f"{self._api_base}/vhosts/{quote(vhost, safe='')}").raise_for_status()
                client.put(
                    f"{self._api_base}/permissions/{quote(vhost, safe='')}/{quote(self._api_auth[0])}",
                    json={"configure": ".*", "write": ".*", "read": ".*"},
                ).raise_for_status()
        except Exception:
            self._drop_database(database)
            self._delete_vhost(vhost)
            raise
        admin = urlsplit(self.servers.postgres_admin_url)
        amqp = urlsplit(self.servers.amqp_url)
        return Isolation(
            database_url=urlunsplit(admin._replace(path=f"/{database}")),
            amqp_url=urlunsplit(amqp._replace(path=f"/{quote(vhost, safe='')}")),
            vhost=vhost,
            database=database,
        )

    def create_user(self, isolation: Isolation, service: str) -> str:
        """Service `service`'s broker user for the isolation (`<vhost>.<service>`, deleted with it),
        with the permissions production gives it (shared/broker_users.py). Its AMQP URL, with the vhost."""
        user, password = f"{isolation.vhost}.{service}", uuid.uuid4().hex
        ManagementApi(self._api_base, *self._api_auth).ensure_service_user(isolation.vhost, user, password, service)
        amqp = urlsplit(isolation.amqp_url)
        netloc = f"{quote(user, safe='')}:{password}@{amqp.hostname}:{amqp.port or 5672}"
        return urlunsplit(amqp._replace(netloc=netloc))

    def destroy(self, isolation: Isolation) -> None:
        """Delete the vhost, its users and the database, each even if another fails; raise the
        first failure after trying all."""
        errors: list[Exception] = []
        for step in (lambda: self._delete_vhost(isolation.vhost), lambda: self._delete_users(isolation.vhost),
                     lambda: self._drop_database(isolation.database)):
            try:
                step()
            except Exception as error:  # noqa: BLE001 - try the next step, then report
                errors.append(error)
        if errors:
            raise errors[0]

    def _delete_vhost(self, vhost: str) -> None:
        with httpx.Client(auth=self._api_auth, timeout=10) as client:
            response = client.delete(f"{self._api_base}/vhosts/{quote(vhost, safe='')}")
            if response.status_code not in (204, 404):
                response.raise_for_status()

    def _delete_users(self, vhost: str) -> None:
        # Users are node-wide, not the vhost's: found by the name create_user gives them.
        with httpx.Client(auth=self._api_auth, timeout=10) as client:
            users = client.get(f"{self._api_base}/users")
            users.raise_for_status()
            for user in users.json():
                if user["name"].startswith(f"{vhost}."):
                    response = client.delete(f"{self._api_base}/users/{quote(user['name'], safe='')}")
                    if response.status_code not in (204, 404):
                        response.raise_for_status()

    def _drop_database(self, database: str) -> None:
        with psycopg.connect(self.servers.postgres_admin_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))

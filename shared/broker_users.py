"""A RabbitMQ user per service, allowed to publish only that service's events.

Consumers believe an event's `source` only when the broker says its publisher was that source's
user (the `user_id` property, which RabbitMQ checks against the connection's user), and the
events exchange's topic permissions keep each user to its own routing keys. Created through the
management HTTP API, idempotently (a second run sets the same passwords and permissions):

    python -m shared.broker_users     (scripts/prepare-servers, the compose `broker-users` job)

Environment: RABBITMQ_API (http://127.0.0.1:15672/api), RABBITMQ_API_USER / RABBITMQ_API_PASSWORD
(guest / guest), RABBITMQ_VHOST (/), and per service <SERVICE>_BROKER_USER (carecoord-<service>) and
<SERVICE>_BROKER_PASSWORD (a local-development default: set real ones anywhere else).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from shared.topology import SERVICES, publishing_permission


def dev_password(service: str) -> str:
    return f"carecoord-{service}-local-dev"  # local development only, like the compose defaults


@dataclass(frozen=True)
class ManagementApi:
    base_url: str  # e.g. http://127.0.0.1:15672/api
    user: str
    password: str

    def ensure_service_user(self, vhost: str, user: str, password: str, service: str) -> None:
        """Create or update `user` for `service`: every right on `vhost` (it declares its queues and
        publishes retries through the default exchange), but on the events exchange it may publish
        only `service`'s routing keys."""
        name, where = quote(user, safe=""), quote(vhost, safe="")
        with httpx.Client(auth=(self.user, self.password), timeout=10) as client:
            client.put(f"{self.base_url}/users/{name}", json={"password": password, "tags": ""}).raise_for_status()
            client.put(f"{self.base_url}/permissions/{where}/{name}",
                       json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
            client.put(f"{self.base_url}/topic-permissions/{where}/{name}",
                       json=publishing_permission(service)).raise_for_status()


def ensure_from_environment(environ: dict[str, str]) -> dict[str, str]:
    """Each service's broker user, created or updated as the environment says."""
    api = ManagementApi(environ.get("RABBITMQ_API", "http://127.0.0.1:15672/api").rstrip("/"),
                        environ.get("RABBITMQ_API_USER", "guest"), environ.get("RABBITMQ_API_PASSWORD", "guest"))
    vhost = environ.get("RABBITMQ_VHOST", "/")
    users = {}
    for service in SERVICES:
        user = environ.get(f"{service.upper()}_BROKER_USER", f"carecoord-{service}")
        password = environ.get(f"{service.upper()}_BROKER_PASSWORD", dev_password(service))
        api.ensure_service_user(vhost, user, password, service)
        users[service] = user
    return users


def service_amqp_urls(amqp_url: str, environ: dict[str, str]) -> dict[str, str]:
    """Each service's own AMQP URL, for running all services on one broker: <SERVICE>_AMQP_URL where
    set, else `amqp_url` with the service's user (as `ensure_from_environment` creates it)."""
    parts = urlsplit(amqp_url)
    where = f"{parts.hostname or '127.0.0.1'}:{parts.port or 5672}"
    urls = {}
    for service in SERVICES:
        if own := environ.get(f"{service.upper()}_AMQP_URL"):
            urls[service] = own
            continue
        user = environ.get(f"{service.upper()}_BROKER_USER", f"carecoord-{service}")
        password = environ.get(f"{service.upper()}_BROKER_PASSWORD", dev_password(service))
        urls[service] = urlunsplit(parts._replace(netloc=f"{quote(user, safe='')}:{quote(password, safe='')}@{where}"))
    return urls


def main() -> int:
    try:
        users = ensure_from_environment(dict(os.environ))
    except httpx.HTTPError as error:
        print(f"could not set up the services' broker users: {error}", file=sys.stderr)
        return 1
    for service, user in users.items():
        print(f"broker user {user}: publishes {service}.* on carecoord.events")
    return 0


if __name__ == "__main__":
    sys.exit(main())

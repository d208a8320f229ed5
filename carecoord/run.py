"""`carecoord run`: the three services as processes on the local PostgreSQL and RabbitMQ, until
Ctrl-C (or SIGTERM) stops them all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from urllib.parse import unquote, urlsplit

import httpx

from carecoord.demo import play_demo
from carecoord.demo_database import ResetRefused, key_mismatch, reset_demo_database
from carecoord.dev import dev_cipher_key, dev_secret
from shared import broker_users
from shared.eventstore import ensure_database
from shared.settings import ServiceSettings
from shared.stored_keys import database_label

SERVICES = {"intake": 8001, "careplan": 8002, "notifications": 8003}


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_all(with_demo: bool, reset_database: bool = False) -> int:
    """Exit status 2, nothing started, when the database holds events the key cannot decrypt or a
    requested reset was refused."""
    settings = ServiceSettings()
    if not _database_ready(settings.database_url, reset_database):
        return 2
    key = dev_cipher_key()
    if mismatch := key_mismatch(settings.database_url, list(SERVICES), key):
        print(mismatch, file=sys.stderr)
        return 2
    # SIGTERM (systemd, docker stop, timeout) stops the services like Ctrl-C; SIGINT is set
    # explicitly because a process started in the background inherits it ignored.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    env = {**os.environ, "LOG_JSON": os.environ.get("LOG_JSON", "false"), "JWT_DEV_SECRET": dev_secret(),
           "EVENT_CIPHER_KEY": key,
           # Development: webhook receivers on this machine over plain http (refused otherwise).
           "WEBHOOK_ALLOW_LOOPBACK_HTTP": os.environ.get("WEBHOOK_ALLOW_LOOPBACK_HTTP", "true")}
    # Each service in a session of its own: a Ctrl-C in the terminal reaches only this runner,
    # which then stops each service with exactly one signal (a second one makes uvicorn skip its
    # graceful shutdown).
    env.update(_broker_identities(settings.amqp_url))
    processes = {
        name: subprocess.Popen([sys.executable, "-m", f"services.{name}"], start_new_session=True,
                               env={**env, "HTTP_PORT": os.environ.get(f"{name.upper()}_HTTP_PORT", str(port))})
        for name, port in SERVICES.items()
    }
    try:
        wait_until_ready()
        for name, port in SERVICES.items():
            print(f"{name:>13}: http://127.0.0.1:{port}  (API docs: http://127.0.0.1:{port}/docs)")
        users = ", ".join(json.loads(env.get("EVENT_PUBLISHERS", "{}")).values()) or "one shared user"
        print(f"   database: {settings.database_url}\n     broker: {_redacted(settings.amqp_url)} (as {users})")
        if with_demo:
            play_demo()
        print("running; Ctrl-C stops all three services")
        while all(process.poll() is None for process in processes.values()):
            time.sleep(0.5)
        print("a service exited; stopping the others", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping...")
        return 0
    finally:
        _stop(processes)


def _database_ready(database_url: str, reset: bool) -> bool:
    """The database exists (created if missing), or was reset as asked (False: refused, said why)."""
    label = database_label(database_url)
    if not reset:
        if ensure_database(database_url):
            print(f"created database {label}")
        return True
    print(f"resetting the demo database {label}: dropping it, with every event in it, and creating it empty")
    try:
        reset_demo_database(database_url, list(SERVICES))
    except ResetRefused as refused:
        print(f"not reset: {refused}. Nothing was dropped or started.", file=sys.stderr)
        return False
    return True


def _broker_identities(amqp_url: str) -> dict[str, str]:
    """Each service connects as its own broker user, so that consumers believe an event only from
    the service that owns it (shared/broker_users.py). Without the management API to create them,
    all share AMQP_URL's user and a warning says so."""
    environ = dict(os.environ)
    environ.setdefault("RABBITMQ_VHOST", unquote(urlsplit(amqp_url).path[1:]) or "/")
    try:
        users = broker_users.ensure_from_environment(environ)
    except httpx.HTTPError as error:
        print(f"warning: services share one broker user ({error}); events are not authenticated by source",
              file=sys.stderr)
        return {}
    urls = broker_users.service_amqp_urls(amqp_url, environ)
    return {"EVENT_PUBLISHERS": json.dumps(users),
            **{f"{service.upper()}_AMQP_URL": url for service, url in urls.items()}}


def wait_until_ready(timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    pending = dict(SERVICES)
    with httpx.Client(timeout=2) as client:
        while pending:
            for name, port in list(pending.items()):
                try:
                    if client.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                        del pending[name]
                except httpx.HTTPError:
                    pass
            if pending and time.monotonic() > deadline:
                raise SystemExit(f"not ready after {timeout:.0f}s: {', '.join(pending)}")
            time.sleep(0.2)


def _stop(processes: dict[str, subprocess.Popen]) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    for name, process in processes.items():
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            print(f"{name} did not stop in time; killing it", file=sys.stderr)
            process.kill()


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=f"{parts.username}:***@{parts.netloc.rpartition('@')[2]}").geturl()

"""`carecoord`: run the whole system locally, or play the demo scenario against it.

    carecoord run [--demo]   start intake, careplan and notifications; Ctrl-C stops all three
    carecoord demo           an agency registers a person and records a screening; show what
                             careplan and notifications now know
    carecoord docs           write the OpenAPI and AsyncAPI documents under docs/
    carecoord token ROLE     print a development token (HS256, JWT_DEV_SECRET) for a role
    carecoord key            print a new key for encrypting events at rest (EVENT_CIPHER_KEY)
    carecoord rebuild-picture
                             rebuild careplan's integrated pictures from its events (safe while
                             the services run)
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from shared.eventstore import ensure_database
from collections.abc import Callable

from shared import broker_users
from shared.access import Role
from shared.cipher import new_key
from carecoord.demo_care_plan import play_care_plan
from shared.settings import ServiceSettings
from shared.tokens import issue_token

SERVICES = {"intake": 8001, "careplan": 8002, "notifications": 8003}
DEMO_AGENCY = "riverside-community-health"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="carecoord", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run all three services until Ctrl-C")
    run.add_argument("--demo", action="store_true", help="play the demo scenario once they are ready")
    commands.add_parser("demo", help="play the demo scenario against running services")
    commands.add_parser("docs", help="write each service's OpenAPI and AsyncAPI documents under docs/")
    commands.add_parser("key", help="print a new EVENT_CIPHER_KEY (256-bit, base64)")
    commands.add_parser("rebuild-picture", help="rebuild careplan's integrated pictures from zero by replaying its "
                                                "events (safe while the services run)")
    token = commands.add_parser("token", help="print a development token for a role")
    token.add_argument("role", choices=[role.value for role in Role])
    token.add_argument("--subject", help="the user id (default: dev-<role>)")
    token.add_argument("--agency", help="for agency_system: the agency")
    token.add_argument("--person-id", help="for person: who they are")
    token.add_argument("--minutes", type=int, default=60)
    args = parser.parse_args(argv)
    if args.command == "token":
        print(dev_token(args.role, subject=args.subject, agency=args.agency, person_id=args.person_id,
                        minutes=args.minutes))
        return 0
    if args.command == "run":
        return run_all(with_demo=args.demo)
    if args.command == "key":
        print(new_key())
        return 0
    if args.command == "docs":
        return write_documents()
    if args.command == "rebuild-picture":
        return rebuild_picture()
    return play_demo()


def write_documents() -> int:
    from carecoord.docs import write_docs

    settings = ServiceSettings()
    ensure_database(settings.database_url)
    for path in write_docs(settings.database_url):
        print(f"wrote {path}")
    return 0


def rebuild_picture() -> int:
    """Replay careplan's notification log into fresh pictures, with a progress bar on stderr.

    DATABASE_URL and EVENT_CIPHER_KEY as the services have them (the key `carecoord run` keeps
    in .dev/ if none is set)."""
    import asyncio

    from tqdm import tqdm

    from services.careplan.bootstrap import CareplanSettings
    from services.careplan.picture.projection import rebuild_pictures

    key = os.environ.get("EVENT_CIPHER_KEY") or _kept_dev_value("EVENT_CIPHER_KEY")
    if not key:
        print("EVENT_CIPHER_KEY is not set (and `carecoord run` has kept none in .dev/)", file=sys.stderr)
        return 2
    settings = CareplanSettings(event_cipher_key=key)
    with tqdm(total=0, desc="rebuilding pictures", unit=" positions", file=sys.stderr) as bar:
        def progress(position: int, last: int) -> None:
            bar.total = last
            bar.update(position - bar.n)

        replayed = asyncio.run(rebuild_pictures(settings, progress))
    print(f"rebuilt the integrated pictures from {replayed} events")
    return 0


DEV_DIR = Path(".dev")


def _kept_dev_value(variable: str) -> str | None:
    path = DEV_DIR / variable.lower()
    return path.read_text().strip() if path.exists() else None


def _dev_value(variable: str, make: Callable[[], str]) -> str:
    """The variable from the environment, else a value kept in .dev/ (gitignored) across runs."""
    if value := os.environ.get(variable):
        return value
    path = DEV_DIR / variable.lower()
    if not path.exists():
        DEV_DIR.mkdir(exist_ok=True)
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def dev_secret() -> str:
    """The HS256 secret local services and `carecoord token` share (development only)."""
    return _dev_value("JWT_DEV_SECRET", lambda: secrets.token_urlsafe(32))


def dev_cipher_key() -> str:
    return _dev_value("EVENT_CIPHER_KEY", new_key)


def dev_token(role: str, *, subject: str | None = None, agency: str | None = None, person_id: str | None = None,
              minutes: int = 60) -> str:
    settings = ServiceSettings()
    if role == Role.AGENCY_SYSTEM and not agency:
        agency = DEMO_AGENCY
    return issue_token(dev_secret(), "HS256", subject=subject or f"dev-{role}", role=role,
                       audience=settings.jwt_audience, issuer=settings.jwt_issuer, lifetime_seconds=minutes * 60,
                       agency=agency, person_id=person_id)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_all(with_demo: bool) -> int:
    # SIGTERM (systemd, docker stop, timeout) stops the services like Ctrl-C; SIGINT is set
    # explicitly because a process started in the background inherits it ignored.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    settings = ServiceSettings()
    if ensure_database(settings.database_url):
        print(f"created database {settings.database_url}")
    env = {**os.environ, "LOG_JSON": os.environ.get("LOG_JSON", "false"), "JWT_DEV_SECRET": dev_secret(),
           "EVENT_CIPHER_KEY": dev_cipher_key()}
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


@dataclass(frozen=True)
class DemoUrls:
    """Where the demo finds the services (`carecoord run` puts them here; tests elsewhere)."""

    intake: str = "http://127.0.0.1:8001"
    careplan: str = "http://127.0.0.1:8002"
    notifications: str = "http://127.0.0.1:8003"


def play_demo(urls: DemoUrls = DemoUrls()) -> int:
    """An agency registers a person and records a PHQ-9; a supervisor forms the care team; the
    team's care coordinator sees the timeline and notifications; a clinician outside the team
    is told the person does not exist. Then the care plan (carecoord/demo_care_plan.py)."""
    agency = {"Authorization": f"Bearer {dev_token('agency_system', agency=DEMO_AGENCY)}"}
    supervisor = {"Authorization": f"Bearer {dev_token('supervisor', subject='sam-supervisor')}"}
    coordinator = {"Authorization": f"Bearer {dev_token('care_coordinator', subject='alex-coordinator')}"}
    outsider = {"Authorization": f"Bearer {dev_token('clinician', subject='kim-elsewhere')}"}
    correlation = {"X-Correlation-Id": f"demo-{uuid.uuid4().hex[:8]}"}
    with httpx.Client(timeout=5) as http:
        registered = http.post(f"{urls.intake}/people", headers={**agency, **correlation}, json={
            "agency": DEMO_AGENCY, "agency_person_id": f"RCH-{uuid.uuid4().hex[:6]}", "preferred_name": "Jordan",
        })
        registered.raise_for_status()
        person_id = registered.json()["person_id"]
        print(f"agency registered person {person_id}")
        screening = http.post(f"{urls.intake}/people/{person_id}/screenings",
                              headers={**agency, **correlation, "Idempotency-Key": f"demo-{uuid.uuid4()}"},
                              json={"instrument": "PHQ-9", "answers": {
                                  "item1": 2, "item2": 2, "item3": 1, "item4": 2, "item5": 1,
                                  "item6": 1, "item7": 1, "item8": 0, "item9": 0}})
        screening.raise_for_status()
        result = screening.json()["result"]
        print(f"agency recorded screening {screening.json()['screening_id']}: PHQ-9 total {result['total']}, "
              f"{result['band']}, {'positive' if result['positive'] else 'negative'}")
        _await_team(http, f"{urls.careplan}/people/{person_id}/team", {**supervisor, **correlation},
                    {"member_id": "alex-coordinator", "role": "care_coordinator"})
        print("supervisor added alex-coordinator to the care team")
        # Registration, then the screening (answers and score); the team hears of the positive screen.
        timeline = _await_json(http, f"{urls.careplan}/people/{person_id}/timeline", "entries", 2, coordinator)
        notifications = _await_json(http, f"{urls.notifications}/people/{person_id}/notifications", "due", 2,
                                    coordinator)
        refused = http.get(f"{urls.careplan}/people/{person_id}/timeline", headers=outsider)
        print("careplan timeline, as the care coordinator sees it:\n" + json.dumps(timeline["entries"], indent=2))
        print("notifications due to the team:\n" + json.dumps(notifications["due"], indent=2))
        print(f"a clinician outside the team asking for the timeline gets HTTP {refused.status_code}")
        play_care_plan(http, urls.intake, urls.careplan, person_id, dev_token, _await_ok)
    return 0


def _await_team(http: httpx.Client, url: str, headers: dict[str, str], member: dict[str, str],
                timeout: float = 15.0) -> None:
    """Careplan forms a team only for a person it knows, and hears of a registration through the broker."""
    deadline = time.monotonic() + timeout
    while (response := http.post(url, headers=headers, json=member)).status_code == 404:
        if time.monotonic() > deadline:
            raise SystemExit(f"{url}: careplan did not know the person within {timeout:.0f}s")
        time.sleep(0.1)
    response.raise_for_status()


def _await_ok(http: httpx.Client, url: str, headers: dict[str, str], timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = http.get(url, headers=headers)
        if response.status_code == 200:
            return response.json()
        time.sleep(0.1)
    raise SystemExit(f"{url} was not there within {timeout:.0f}s")


def _await_json(http: httpx.Client, url: str, key: str, count: int, headers: dict[str, str],
                timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = http.get(url, headers=headers)
        if response.status_code == 200 and len(response.json()[key]) >= count:
            return response.json()
        time.sleep(0.1)
    raise SystemExit(f"{url} did not show {count} {key} within {timeout:.0f}s")


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


if __name__ == "__main__":
    sys.exit(main())

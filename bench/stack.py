"""The benchmark's own database, vhost, secrets and service processes."""

from __future__ import annotations

import secrets
import sys

from shared.cipher import new_key
from shared.tokens import issue_token
from tests.support.processes import ServiceFailed, ServiceProcess, stop_all
from tests.support.servers import Isolation, Isolator

SERVICE_NAMES = ("intake", "careplan", "notifications")
BENCH_AGENCY = "bench"
READY_TIMEOUT = 60.0      # per service, from process start to /readyz 200
STOP_TIMEOUT = 15.0       # after SIGINT, before SIGKILL


class BenchError(RuntimeError):
    """A measurement could not be completed; the message says why."""


def release(isolator: Isolator, isolation: Isolation) -> None:
    try:
        isolator.destroy(isolation)
    except Exception as error:  # noqa: BLE001 - say what to drop by hand
        print(f"cleanup incomplete ({error}); drop database {isolation.database} and vhost "
              f"{isolation.vhost} by hand", file=sys.stderr)
    else:
        print(f"dropped database {isolation.database} and vhost {isolation.vhost}")


# This run's own secrets: HS256 tokens as an agency's identity provider would issue them, and the
# key that encrypts event state at rest (so the benchmark pays for encryption like production).
BENCH_JWT_SECRET = secrets.token_urlsafe(32)
BENCH_CIPHER_KEY = new_key()


def agency_token() -> str:
    return issue_token(BENCH_JWT_SECRET, "HS256", subject="bench-load-generator", role="agency_system",
                       audience="carecoord", issuer="carecoord-dev", lifetime_seconds=4 * 3600, agency=BENCH_AGENCY)


def bench_settings(log_level: str) -> dict[str, str]:
    return {"LOG_LEVEL": log_level, "JWT_DEV_SECRET": BENCH_JWT_SECRET, "EVENT_CIPHER_KEY": BENCH_CIPHER_KEY}


class ServiceGroup:
    """The services of a run: any one exiting fails the measurement under way."""

    def __init__(self, processes: list[ServiceProcess]) -> None:
        self.processes = processes
        self.by_name = {p.name: p for p in processes}

    def check_alive(self) -> None:
        try:
            for process in self.processes:
                process.check_running()
        except ServiceFailed as error:
            raise BenchError(str(error)) from error

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        # They were all launched before: waiting for each in turn costs no more than waiting at once.
        for process in self.processes:
            process.wait_ready(timeout)

    def stop_all(self) -> None:
        stop_all(self.processes, STOP_TIMEOUT)

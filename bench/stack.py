"""The benchmark's own database, vhost, secrets and service processes."""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import secrets
import signal
import sys
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path

from shared.cipher import new_key
from shared.tokens import issue_token
from tests.support.processes import ServiceFailed, ServiceProcess, stop_all
from tests.support.servers import Isolation, Isolator, Servers

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


def staff_token(role: str, subject: str) -> str:
    """A staff member's (or supervisor's) token, signed with this run's secret."""
    return issue_token(BENCH_JWT_SECRET, "HS256", subject=subject, role=role, audience="carecoord",
                       issuer="carecoord-dev", lifetime_seconds=4 * 3600)


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


RESULTS_DIR = Path(__file__).resolve().parent / "results"


def add_server_options(parser: argparse.ArgumentParser) -> None:
    """Where the benchmark makes its database and vhost, and the services' log level."""
    parser.add_argument("--postgres-url", default=os.environ.get(
        "CARECOORD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="an existing database to connect to while creating and dropping the benchmark's own")
    parser.add_argument("--amqp-url", default=os.environ.get("CARECOORD_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"))
    parser.add_argument("--rabbitmq-api", default=os.environ.get(
        "CARECOORD_TEST_RABBITMQ_API", "http://guest:guest@127.0.0.1:15672/api"))
    parser.add_argument("--log-level", default="INFO", help="the services' LOG_LEVEL")


def prepare_benchmark_process() -> None:
    """SIGTERM cleans up as Ctrl-C does; the benchmark's own garbage collector kept quiet.

    The benchmark's own full garbage collections (up to 135 ms by its third run, measured with
    gc.callbacks) stalled the load generator and the watchers, and were counted as the system's
    latency. Tuned as the services are (shared/runtime.py: quiet_garbage_collector).
    """
    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)
    gc.freeze()
    gc.set_threshold(10_000, 10, 100)


def run_benchmark_process(body: Callable[[], None], failures: tuple[type[Exception], ...] = ()) -> int:
    """A benchmark's exit status around its body (prepared as `prepare_benchmark_process` says):
    0 when it finished, 1 with the reason when a measurement failed (`BenchError`, a service that
    exited, or one of `failures`), 130 on Ctrl-C. The body's own context managers clean up."""
    prepare_benchmark_process()
    try:
        body()
        return 0
    except (BenchError, ServiceFailed, *failures) as error:
        print(f"\nbenchmark failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
        return 130


@contextlib.contextmanager
def running_services(args: argparse.Namespace,
                     env: Mapping[str, Mapping[str, str]] | None = None) -> Iterator[tuple[Isolation, ServiceGroup]]:
    """A database and vhost of its own (bench_<hex>, bench-<hex>, made as each test's are) and the
    three services running against them, ready; all stopped and removed afterwards, also on a
    failure or Ctrl-C. `env` adds settings per service name."""
    isolator = Isolator(Servers(args.postgres_url, args.amqp_url, args.rabbitmq_api), prefix="bench")
    isolation = isolator.create()
    print(f"database {isolation.database}, vhost {isolation.vhost}")
    log_dir = RESULTS_DIR / f"{datetime.now():%Y%m%d-%H%M%S}-{isolation.database}"
    services: ServiceGroup | None = None
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        processes: list[ServiceProcess] = []
        services = ServiceGroup(processes)
        settings = bench_settings(args.log_level)
        for name in SERVICE_NAMES:
            process = ServiceProcess(name, isolation, log_dir / f"{name}.log", (env or {}).get(name),
                                     settings=settings)
            # In the group before it starts: whatever fails next, the cleanup below stops it.
            processes.append(process)
            services.by_name[name] = process
            process.launch()
        print("waiting for the services' /readyz ...")
        services.wait_ready()
        print("  " + ", ".join(f"{p.name} pid {p.pid} on :{p.port}" for p in services.processes))
        yield isolation, services
    finally:
        # A second Ctrl-C must not cut the cleanup short and leave a database or processes behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if services is not None:
            print("stopping the services ...")
            services.stop_all()
            print(f"service logs: {log_dir}/")
        release(isolator, isolation)

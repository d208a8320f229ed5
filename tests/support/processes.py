"""Services run as real processes (`python -m services.<name>`): for the tests that kill -9 them
mid-stream or need all three as deployed, and for the benchmark (bench/backbone.py)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO

import httpx

from shared.settings import ServiceSettings
from tests.support.servers import Isolation

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 30.0  # from process start to /readyz 200
STOP_TIMEOUT = 15.0   # after SIGINT, before SIGKILL



class ServiceFailed(RuntimeError):
    """A service process exited or never became ready; the message shows the end of its log."""


def settings_for_tests() -> dict[str, str]:
    """What the tests' services share with the in-process ones."""
    # Imported here: tests.support.system imports every service, which the benchmark's load
    # generator, sharing the cores with what it measures, has no use for.
    from tests.support.system import TEST_CIPHER_KEY, TEST_JWT_SECRET, TEST_RETRY_DELAYS

    return {"RETRY_DELAYS": json.dumps(TEST_RETRY_DELAYS), "JWT_DEV_SECRET": TEST_JWT_SECRET,
            "EVENT_CIPHER_KEY": TEST_CIPHER_KEY,
            "WEBHOOK_ALLOW_LOOPBACK_HTTP": "true"}  # webhook receivers the tests start on 127.0.0.1


def free_port() -> int:
    # Not the services' default ports: a developer's own running services may hold them.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def service_environment(isolation: Isolation, port: int, settings: Mapping[str, str]) -> dict[str, str]:
    """The parent's environment without any carecoord setting (e.g. a stray SERVICE_NAME), plus ours."""
    settings_names = {name.upper() for name in ServiceSettings.model_fields}
    env = {key: value for key, value in os.environ.items() if key.upper() not in settings_names}
    env.update({
        "DATABASE_URL": isolation.database_url,
        "AMQP_URL": isolation.amqp_url,
        "HTTP_PORT": str(port),
        "LOG_JSON": "false",
        "PYTHONUNBUFFERED": "1",
        **settings,
    })
    return env


class ServiceProcess:
    """One service on a free port against `isolation`, its output appended to `log_path`.

    `settings` are the environment every start gets (`settings_for_tests()` unless given); `env` adds to them.
    """

    def __init__(self, name: str, isolation: Isolation, log_path: Path, env: Mapping[str, str] | None = None,
                 *, settings: Mapping[str, str] | None = None) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        settings = settings_for_tests() if settings is None else settings
        self._env = service_environment(isolation, self.port, {**settings, **(env or {})})
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None, f"{self.name} was never launched"
        return self._process.pid

    def start(self, timeout: float = READY_TIMEOUT) -> None:
        self.launch()
        self.wait_ready(timeout)

    def launch(self) -> None:
        """Start the process without waiting for it to be ready (see `wait_ready`)."""
        self._log_file = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [sys.executable, "-m", f"services.{self.name}"], cwd=REPO_ROOT, env=self._env,
            stdout=self._log_file, stderr=subprocess.STDOUT,
            # Its own session: a Ctrl-C in the terminal reaches only the parent, which stops it in order.
            start_new_session=True,
        )

    def exited(self) -> int | None:
        """The exit code, or None while it runs."""
        return None if self._process is None else self._process.poll()

    def check_running(self) -> None:
        if self.exited() is not None:
            raise ServiceFailed(f"service {self.name} (pid {self.pid}) exited with code {self.exited()}; "
                                f"last lines of {self.log_path}:\n{self.log_tail()}")

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Until /readyz answers 200; fails at once if the process exits, or after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                self.check_running()
                try:
                    response = client.get(f"{self.url}/readyz")
                    if response.status_code == 200:
                        return
                    last = f"{response.status_code} {response.text[:200]}"
                except httpx.HTTPError as error:
                    last = f"{type(error).__name__}: {error}"
                time.sleep(0.2)  # the poll's interval: the deadline above bounds the wait
        raise ServiceFailed(f"{self.name} not ready after {timeout:.0f}s (last /readyz: {last}); "
                            f"last lines of {self.log_path}:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, unacked deliveries are left with the broker."""
        assert self._process is not None, f"{self.name} was never launched"
        self._process.kill()
        self._process.wait(timeout=10)
        self._close_log()

    def interrupt(self) -> None:
        """SIGINT (uvicorn's graceful shutdown, which stops the service), without waiting."""
        if self.exited() is None and self._process is not None:
            try:
                self._process.send_signal(signal.SIGINT)
            except ProcessLookupError:
                pass

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGINT, then SIGKILL if it has not stopped within `timeout` seconds."""
        if self._process is None:
            return
        try:
            self.interrupt()
            try:
                self._process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                print(f"{self.name} did not stop within {timeout:.0f}s of SIGINT; killing it", file=sys.stderr)
                self._process.kill()
                self._process.wait(timeout=5)
        finally:
            self._close_log()

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError as error:
            return f"(cannot read {self.log_path}: {error})"
        return "\n".join(f"    {line}" for line in text[-lines:])

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


def stop_all(processes: Iterable[ServiceProcess], timeout: float = STOP_TIMEOUT) -> None:
    """Signal all first, so that they shut down in parallel, then wait for each."""
    processes = list(processes)
    for process in processes:
        process.interrupt()
    for process in processes:
        process.stop(timeout)

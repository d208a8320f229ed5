"""Services run as real processes, to kill -9 them mid-stream."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.servers import Isolation
from tests.support.system import TEST_CIPHER_KEY, TEST_JWT_SECRET, TEST_RETRY_DELAYS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServiceProcess:
    def __init__(self, name: str, isolation: Isolation, log_path: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log_path = log_path
        self._env = {
            **os.environ,
            "DATABASE_URL": isolation.database_url,
            "AMQP_URL": isolation.amqp_url,
            "HTTP_PORT": str(self.port),
            "LOG_JSON": "false",
            "RETRY_DELAYS": json.dumps(TEST_RETRY_DELAYS),
            "JWT_DEV_SECRET": TEST_JWT_SECRET,
            "EVENT_CIPHER_KEY": TEST_CIPHER_KEY,
            **(env or {}),
        }
        self._process: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> None:
        log = self._log_path.open("ab")
        self._process = subprocess.Popen([sys.executable, "-m", f"services.{self.name}"], env=self._env,
                                         stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise AssertionError(f"{self.name} exited: {self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.name} not ready after {timeout}s: {self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, unacked deliveries are left with the broker."""
        assert self._process is not None
        self._process.kill()
        self._process.wait(timeout=10)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self._log_path.read_text(errors="replace").splitlines()[-lines:])

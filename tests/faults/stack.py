"""The three services as processes, each reaching PostgreSQL and RabbitMQ only through TCP proxies
this test owns: a connection is cut at the proxy, never by touching the shared servers."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tests.support.processes import ServiceProcess, stop_all
from tests.support.system import System
from tests.support.tcp_proxy import TcpProxy

SERVICES = ("intake", "careplan", "notifications")
# Small pools: up to 8 helpers' tests share PostgreSQL's 100 connections.
POOL = {"DATABASE_POOL_SIZE": "2", "DATABASE_POOL_OVERFLOW": "3"}


def through(url: str, proxy: TcpProxy) -> str:
    """`url` with its host and port replaced by the proxy's (user, password and path kept)."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{proxy.port}" if credentials else f"127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=netloc))


class FaultStack:
    """Start with `async with FaultStack(system, logs) as stack`; the proxies run on this event loop,
    so every blocking call on a process (start, kill) runs in a thread."""

    def __init__(self, system: System, logs: Path) -> None:
        self.system = system
        self._logs = logs
        self.broker: TcpProxy | None = None
        self.database: TcpProxy | None = None
        self.processes: dict[str, ServiceProcess] = {}
        self._exit = AsyncExitStack()

    async def __aenter__(self) -> FaultStack:
        isolation = self.system.isolation
        amqp, database = urlsplit(isolation.amqp_url), urlsplit(isolation.database_url)
        self.broker = TcpProxy(amqp.hostname or "127.0.0.1", amqp.port or 5672)
        self.database = TcpProxy(database.hostname or "127.0.0.1", database.port or 5432)
        for proxy in (self.broker, self.database):
            await proxy.start()
            self._exit.push_async_callback(proxy.close)
        self._exit.push_async_callback(self._stop_processes)
        for name in SERVICES:
            environment = await self.system.process_environment(name)
            environment["AMQP_URL"] = through(environment["AMQP_URL"], self.broker)
            environment["DATABASE_URL"] = through(isolation.database_url, self.database)
            self.processes[name] = ServiceProcess(name, isolation, self._logs / f"{name}.log", {**environment, **POOL})
        # One at a time: each declares its own queues and schema, and the cores are shared.
        for process in self.processes.values():
            await asyncio.to_thread(process.start)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._exit.aclose()

    async def _stop_processes(self) -> None:
        await asyncio.to_thread(stop_all, self.processes.values())

    def url(self, name: str) -> str:
        return self.processes[name].url

    async def kill(self, name: str) -> None:
        """kill -9: no graceful shutdown; unacknowledged deliveries stay with the broker."""
        await asyncio.to_thread(self.processes[name].kill)

    async def restart(self, name: str) -> None:
        """Start it again (same port and settings) and wait until it is ready."""
        await asyncio.to_thread(self.processes[name].start)

    def check_running(self) -> None:
        for process in self.processes.values():
            process.check_running()

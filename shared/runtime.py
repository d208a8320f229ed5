"""One running service: its application, HTTP API, broker connection, relay and other tailers of
its event log (projections); started and stopped together. The broker may be down when the
service starts: HTTP commands are still accepted (they only touch PostgreSQL) and the relay
publishes once the broker is back."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, Protocol, TypeVar

import uvicorn
import uvloop
from fastapi import FastAPI
from opentelemetry import context as otel_context
from faststream.rabbit import RabbitBroker
from typing_extensions import TypeVar as TypeVarWithDefault

from shared.header_limits import bounded_head_protocol
from shared.eventstore import PostgresBatchProcessRecorder, ServiceApplication
from shared.metrics import ServiceMetrics, queue_depth_refresher
from shared.tracing import in_context, tracing_enabled, untraced_task
from shared.relay import LogListener, OutboxRelay
from shared.settings import ServiceSettings
from shared.stored_keys import unreadable_stores, written_with_another_key
from shared.topology import ConsumerTopology, declare_publishing

log = logging.getLogger(__name__)
T = TypeVar("T")
# The service's own application class; a plain `Foundation` has some ServiceApplication (a TypeVar
# default, PEP 696: typing_extensions' until Python 3.13).
ApplicationT = TypeVarWithDefault("ApplicationT", bound=ServiceApplication, default=ServiceApplication,
                                  covariant=True)


# How long stopping waits for each part (a connection attempt in progress, the service's tasks,
# then the broker connection).
STOP_TIMEOUT_SECONDS = 10.0


class LogTailer(Protocol):
    """A background task that tails the service's own event log (the relay, a projection): run
    while the service runs, woken whenever new events are recorded. Untraced, but for the relay
    (`tracing.untraced_task`): it serves no request or delivery."""

    name: str

    async def run(self) -> None: ...

    def wake(self, topics: frozenset[str] | None = None) -> None: ...


class Foundation(Generic[ApplicationT]):
    """What every part of a service is built on: its settings, its application, the bounded pool
    that runs the application's synchronous code, and the broker (routers are included in it as
    the parts are built). Readiness is decided here, so the HTTP API built on it can report it."""

    def __init__(self, settings: ServiceSettings, application: ApplicationT, executor: ThreadPoolExecutor,
                 broker: RabbitBroker, metrics: ServiceMetrics | None = None) -> None:
        self.settings = settings
        self.application = application
        self.executor = executor
        self.broker = broker
        self.metrics = metrics or ServiceMetrics(settings.service_name)
        self._traced = tracing_enabled()
        self.broker_ready = asyncio.Event()  # set by Service once the broker is connected

    @property
    def name(self) -> str:
        return self.settings.service_name

    async def run_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run synchronous (eventsourcing) code on the bounded pool, off the event loop."""
        loop = asyncio.get_running_loop()
        call = functools.partial(fn, *args, **kwargs)
        if self._traced:
            # Executor threads do not inherit the caller's context: carry the current span over,
            # so the database calls made there are part of the request's or delivery's trace.
            call = functools.partial(in_context, otel_context.get_current(), call)
        return await loop.run_in_executor(self.executor, call)

    async def readiness(self) -> dict[str, bool]:
        try:
            await self.run_sync(self.application.recorder.max_notification_id)
            database = True
        except Exception:  # noqa: BLE001 - any failure means not ready
            database = False
        return {"database": database, "broker": self.broker_connected()}

    def broker_connected(self) -> bool:
        # aio-pika's robust connection clears `connected` while it is reconnecting.
        connection = getattr(self.broker, "_connection", None)
        return bool(self.broker_ready.is_set() and connection is not None and connection.connected.is_set())


class Service:
    """A whole service, given every part finished (see each service's bootstrap.py:
    create_service); nothing is added to it afterwards."""

    def __init__(self, foundation: Foundation, *, http: FastAPI, topologies: Sequence[ConsumerTopology] = (),
                 relay: OutboxRelay | None = None, log_tailers: Sequence[LogTailer] = ()) -> None:
        self.foundation = foundation
        self.settings = foundation.settings
        self.application = foundation.application
        self.executor = foundation.executor
        self.broker = foundation.broker
        self.broker_ready = foundation.broker_ready
        self.http = http
        self.topologies = tuple(topologies)  # every queue it consumes, declared when it connects
        self.relay = relay
        self.log_tailers = tuple(log_tailers)  # besides the relay
        self._tasks: list[asyncio.Task[Any]] = []
        self._connecting: asyncio.Task[None] | None = None
        self._measure_at_scrape()

    def _measure_at_scrape(self) -> None:
        """What Prometheus reads when it scrapes: the log head and relay lag, and the depth of
        every queue the service consumes (its inboxes, retry and dead-letter queues)."""
        metrics, relay = self.foundation.metrics, self.relay

        async def log_head() -> None:
            head = await self.run_sync(self.application.recorder.max_notification_id) or 0
            metrics.log_head.set(head)
            if relay is not None:
                metrics.relay_published_position.labels(relay.name).set(relay.position)
                metrics.relay_lag.labels(relay.name).set(max(0, head - relay.position))

        metrics.refresh_with(log_head)
        queues = [(topology.inbox_name, "inbox") for topology in self.topologies]
        queues += [(topology.retry_name(step), "retry") for topology in self.topologies
                   for step in range(len(topology.retry_delays))]
        queues += [(topology.dead_letter_name, "dead_letter") for topology in self.topologies]
        if queues:
            metrics.refresh_with(queue_depth_refresher(
                metrics, lambda: getattr(self.broker, "_connection", None), queues))

    @property
    def name(self) -> str:
        return self.settings.service_name

    async def run_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await self.foundation.run_sync(fn, *args, **kwargs)

    async def readiness(self) -> dict[str, bool]:
        return await self.foundation.readiness()

    def broker_connected(self) -> bool:
        return self.foundation.broker_connected()

    async def start(self, run_relay: bool = True) -> None:
        """Start everything; `run_relay=False` leaves the relay to a test that drives it."""
        self._connecting = asyncio.create_task(self._connect_broker(), name=f"{self.name}-broker")
        self._tasks.append(self._connecting)
        relays = [self.relay] if self.relay is not None and run_relay else []
        tailers: list[LogTailer] = [*relays, *self.log_tailers]
        for relay in relays:  # its reads and positions untraced where made; its publishes continue each event's trace
            self._tasks.append(asyncio.create_task(relay.run(), name=relay.name))
        for tailer in self.log_tailers:  # pollers that serve no request or delivery: untraced throughout
            self._tasks.append(untraced_task(tailer.run(), name=tailer.name))
        if tailers:
            def wake_all(topics: frozenset[str] | None) -> None:
                for tailer in tailers:
                    tailer.wake(topics)

            recorder = self.application.recorder
            if not isinstance(recorder, PostgresBatchProcessRecorder):
                raise TypeError("followers are woken by PostgreSQL's NOTIFY: a service needs the PostgreSQL recorder")
            channel = recorder.channel_name
            listener = LogListener(self.settings.database_url, channel, wake_all)
            self._tasks.append(asyncio.create_task(listener.run(), name=f"{self.name}-listener"))

    async def stop(self) -> None:
        if self._connecting is not None and not self._connecting.done():
            # Cancelling aio-pika in the middle of connecting orphans its robust connection, whose
            # reconnect loop then outlives the service: let an attempt in progress finish first.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._connecting), timeout=STOP_TIMEOUT_SECONDS)
        for task in self._tasks:
            task.cancel()
        # Bounded: a stop that waits forever on one stuck task or connection would keep an
        # orchestrator's SIGTERM (and a test's teardown) waiting with it.
        if self._tasks:
            done, stuck = await asyncio.wait(self._tasks, timeout=STOP_TIMEOUT_SECONDS)
            for task in done:  # retrieved, so asyncio does not report them as never retrieved
                if not task.cancelled():
                    task.exception()
            if stuck:
                log.warning("stopping without waiting for %s", sorted(task.get_name() for task in stuck))
        self._tasks.clear()
        try:
            await asyncio.wait_for(self.broker.stop(), timeout=STOP_TIMEOUT_SECONDS)
        except TimeoutError:
            log.warning("the broker connection did not close within %s s", STOP_TIMEOUT_SECONDS)
        except Exception:  # noqa: BLE001 - stopping: a connection already broken is closed enough
            pass
        self.executor.shutdown(wait=True, cancel_futures=True)
        self.application.close()
        log.info("stopped")

    async def serve_http(self) -> None:
        """Serve the HTTP API until interrupted (Ctrl-C / SIGTERM), then stop everything."""
        server = _Server(self.http_config())
        await self.start()
        try:
            await server.serve()
        finally:
            await self.stop()

    def http_config(self, **overrides: Any) -> uvicorn.Config:
        """How uvicorn serves the HTTP API (tests serve it on a port of their own with `overrides`)."""
        options: dict[str, Any] = {
            "host": self.settings.http_host, "port": self.settings.http_port, "log_config": None,
            "access_log": False,
            # The C parser (h11 cost more CPU per request than the endpoint), with a bound on a
            # request's head that httptools lacks: 431 past MAX_HEADER_BYTES (shared/header_limits.py).
            "http": bounded_head_protocol(self.settings.max_header_bytes),
            # Requests still running at shutdown get this long; then their connections are closed.
            "timeout_graceful_shutdown": 15,
            **overrides,
        }
        return uvicorn.Config(self.http, **options)

    async def _connect_broker(self) -> None:
        delay = 0.5
        while True:
            try:
                await self.broker.connect()
                await declare_publishing(self.broker)
                for topology in self.topologies:
                    await topology.declare(self.broker)
                await self.broker.start()
                break
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - keep trying: the broker may be starting
                log.warning("broker not reachable (%s); retrying in %.1fs", error, delay)
                with contextlib.suppress(Exception):
                    await self.broker.stop()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        self.broker_ready.set()
        log.info("connected to the broker")


def run(service: Service) -> None:
    """Run `service` until interrupted, on uvloop: every request, delivery and publish crosses the
    event loop several times, and uvloop's loop and transports cost a fraction of asyncio's. A
    service whose store holds events its key cannot decrypt does not start (SystemExit, saying so)."""
    refuse_events_written_with_another_key(service)
    quiet_garbage_collector()
    uvloop.run(service.serve_http())


def refuse_events_written_with_another_key(service: Service) -> None:
    """Stop before serving if one stored event of each of the service's tables does not decrypt:
    started, the service would fail on every read and consumed message instead (shared/stored_keys.py)."""
    settings, cipher = service.settings, service.application.mapper.cipher
    if cipher is None:
        return
    if tables := unreadable_stores(settings.database_url, [settings.schema_name], cipher):
        service.application.close()
        raise SystemExit(f"{service.name}: " + written_with_another_key(
            settings.database_url, tables, "this service's EVENT_CIPHER_KEY", "in EVENT_CIPHER_KEY"))


def quiet_garbage_collector() -> None:
    """Make the cyclic garbage collector's full collections rare and small.

    A full collection walks every tracked object and stops the whole process meanwhile; with the
    default thresholds (700, 10, 10) the services ran one every few seconds under load, each
    longer as the aggregate caches grew: 100-230 ms by the benchmark's third run, most of its p99.
    What is built at start-up (~100,000 objects: modules, classes, FastAPI/pydantic/FastStream
    schemas) lives as long as the process, so it is frozen out of collections; and the young
    generation is collected every 10,000 allocations instead of 700, so full collections happen
    over a hundred times less often. Memory is unaffected: almost everything is freed by
    reference counting, and young cycles are still collected within 100,000 allocations.
    """
    gc.freeze()
    gc.set_threshold(10_000, 10, 100)


class _Server(uvicorn.Server):
    """uvicorn re-raises a captured SIGINT/SIGTERM as soon as it has stopped serving, which would
    cut short the rest of the service's shutdown (broker, relay, pools). Capture without re-raising."""

    @contextlib.contextmanager
    def capture_signals(self):
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        originals = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)

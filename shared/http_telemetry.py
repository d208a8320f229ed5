"""FastAPI's own server span, without work it repeats identically on every request.

FastAPI (0.13x, `fastapi.applications.FastAPI.__call__`) asks `_legacy_otel(middleware_stack)`
on each traced request whether opentelemetry-instrumentation-fastapi's middleware is in the
built stack, so as not to make a second server span. The stack is built once per application
(and rebuilt as a new object if it ever is), so the answer is fixed per stack object: walking
its ~10 layers again each request was ~10 us of intake's CPU per screening with tracing on
(bench/README.md, 2026-12-07, `intake_cpu.py --traced --profile`). The check here remembers
the answer per stack object and otherwise is FastAPI's own (tests/unit/test_http_telemetry.py
fails if the name it replaces moves).

Likewise its server span's `server.address`/`server.port`, which it derives from the Host header
by `urlsplit` on each request (~5 us): the answer depends only on that header, the scheme and the
server's address, so the last few answers are kept (a handful of entries: the Host header is the
client's to choose, so the table is bounded, and emptied when full).
"""

from __future__ import annotations

import threading
import weakref
from typing import Any, Callable

from fastapi import applications
from fastapi.telemetry import _asgi

_lock = threading.Lock()
KEPT_AUTHORITIES = 16


def remembering(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    """`check(stack)`, computed once per stack object (objects that cannot be weakly referenced
    are checked every time)."""
    answers: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()

    def remembered(stack: Any) -> bool:
        try:
            return answers[stack]
        except KeyError:
            pass
        except TypeError:
            return check(stack)
        answer = answers[stack] = check(stack)
        return answer

    remembered.__wrapped__ = check  # type: ignore[attr-defined]
    return remembered


def remember_legacy_instrumentation_check() -> None:
    """Point FastAPI's per-request check and server attributes at remembering ones (once per process)."""
    with _lock:
        current = applications._legacy_otel
        if not hasattr(current, "__wrapped__"):
            setattr(applications, "_legacy_otel", remembering(current))
        if not hasattr(_asgi._server_attributes, "__wrapped__"):
            setattr(_asgi, "_server_attributes", remembering_server_attributes(_asgi._server_attributes))


def remembering_server_attributes(compute: Callable[[Any], dict[str, Any]]) -> Callable[[Any], dict[str, Any]]:
    """`compute(scope)`, kept per (Host header, scheme, server address) for the last few of them.
    FastAPI merges the answer into a new dict, so one answer can be handed out many times."""
    answers: dict[tuple[Any, ...], dict[str, Any]] = {}

    def remembered(scope: Any) -> dict[str, Any]:
        host = None
        for name, value in scope.get("headers") or ():
            if name == b"host":
                host = value
                break
        server = scope.get("server")
        key = (host, scope.get("scheme", "http"), tuple(server) if server else None)
        answer = answers.get(key)
        if answer is None:
            if len(answers) >= KEPT_AUTHORITIES:
                answers.clear()
            answer = answers[key] = compute(scope)
        return answer

    remembered.__wrapped__ = compute  # type: ignore[attr-defined]
    return remembered

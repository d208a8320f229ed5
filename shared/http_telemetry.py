"""FastAPI's own server span, without re-walking the middleware stack on every request.

FastAPI (0.13x, `fastapi.applications.FastAPI.__call__`) asks `_legacy_otel(middleware_stack)`
on each traced request whether opentelemetry-instrumentation-fastapi's middleware is in the
built stack, so as not to make a second server span. The stack is built once per application
(and rebuilt as a new object if it ever is), so the answer is fixed per stack object: walking
its ~10 layers again each request was ~10 us of intake's CPU per screening with tracing on
(bench/README.md, 2026-12-07, `intake_cpu.py --traced --profile`). The check here remembers
the answer per stack object and otherwise is FastAPI's own (tests/unit/test_http_telemetry.py
fails if the name it replaces moves).
"""

from __future__ import annotations

import threading
import weakref
from typing import Any, Callable

from fastapi import applications

_lock = threading.Lock()


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
    """Point FastAPI's per-request check at a remembering one (once per process)."""
    with _lock:
        current = applications._legacy_otel
        if not hasattr(current, "__wrapped__"):
            setattr(applications, "_legacy_otel", remembering(current))

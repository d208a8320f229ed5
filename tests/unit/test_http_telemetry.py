from __future__ import annotations

from fastapi import applications
from fastapi.telemetry import _asgi

from shared.http_telemetry import remember_legacy_instrumentation_check, remembering


class Layer:
    def __init__(self, app: object = None) -> None:
        self.app = app


def test_fastapi_still_asks_its_module_level_legacy_check_per_request() -> None:
    # The name replaced here must be the one FastAPI.__call__ looks up on each request.
    assert "_legacy_otel(self.middleware_stack)" in __import__("inspect").getsource(applications.FastAPI.__call__)
    remember_legacy_instrumentation_check()
    remember_legacy_instrumentation_check()
    assert applications._legacy_otel.__wrapped__ is _asgi._legacy_otel  # type: ignore[attr-defined]


def test_the_answer_is_computed_once_per_stack_object_and_is_fastapis() -> None:
    calls: list[object] = []

    def check(stack: object) -> bool:
        calls.append(stack)
        return _asgi._legacy_otel(stack)

    remembered = remembering(check)
    stack = Layer(Layer(Layer()))
    assert remembered(stack) is False
    assert remembered(stack) is False
    assert calls == [stack]
    rebuilt = Layer(Layer())
    assert remembered(rebuilt) is False
    assert calls == [stack, rebuilt]


def test_a_legacy_middleware_in_the_stack_is_still_seen() -> None:
    legacy = type("OpenTelemetryMiddleware", (Layer,), {"__module__": "opentelemetry.instrumentation.asgi"})
    remembered = remembering(_asgi._legacy_otel)
    stack = Layer(legacy(Layer()))
    assert remembered(stack) is True
    assert remembered(stack) is True

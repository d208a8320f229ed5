from __future__ import annotations

from fastapi import applications
from fastapi.telemetry import _asgi

from shared.http_telemetry import (KEPT_AUTHORITIES, remember_legacy_instrumentation_check, remembering,
                                   remembering_server_attributes)


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


def test_fastapi_still_takes_its_server_attributes_from_the_module_level_name() -> None:
    assert "_server_attributes(scope)" in __import__("inspect").getsource(_asgi.NativeTelemetry.__call__)
    remember_legacy_instrumentation_check()
    assert _asgi._server_attributes.__wrapped__.__module__ == "fastapi.telemetry._asgi"  # type: ignore[attr-defined]


def scope(host: bytes | None, scheme: str = "http", server: tuple[str, int] | None = ("127.0.0.1", 8000)) -> dict:
    headers = [(b"content-type", b"application/json")] + ([(b"host", host)] if host is not None else [])
    return {"type": "http", "headers": headers, "scheme": scheme, "server": server}


def test_server_attributes_are_fastapis_for_each_host_scheme_and_server() -> None:
    original = _asgi._server_attributes
    original = getattr(original, "__wrapped__", original)
    remembered = remembering_server_attributes(original)
    for case in (scope(b"intake:8000"), scope(b"intake"), scope(b"intake", "https"), scope(None),
                 scope(None, server=("10.0.0.1", 81)), scope(b"user@intake"), scope(b"[::1]:9000"), scope(b"bad:port")):
        assert remembered(case) == original(case)
        assert remembered(case) == original(case)


def test_the_kept_answers_stay_few_whatever_hosts_clients_send() -> None:
    computed: list[object] = []

    def compute(scope: dict) -> dict:
        computed.append(scope)
        return {}

    remembered = remembering_server_attributes(compute)
    remembered(scope(b"a"))
    remembered(scope(b"a"))
    assert len(computed) == 1
    for number in range(KEPT_AUTHORITIES * 3):
        remembered(scope(f"host{number}".encode()))
    remembered(scope(b"a"))
    assert len(computed) == 2 + KEPT_AUTHORITIES * 3

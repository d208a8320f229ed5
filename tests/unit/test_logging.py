"""What the services' logs may carry: never a webhook URL (it may hold a credential)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from shared import hop_marks
from shared.telemetry import configure_logging


@contextmanager
def captured_logs(monkeypatch, *loggers: str) -> Iterator[io.StringIO]:
    """What the services' logging writes to stderr, with the root's handlers and level and the
    named loggers' levels put back afterwards (configure_logging sets them process-wide)."""
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in loggers}
    try:
        yield stream
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, before in levels.items():
            logging.getLogger(name).setLevel(before)


def test_an_httpx_request_logs_no_url_at_info(monkeypatch):
    with captured_logs(monkeypatch, "httpx") as stream:
        configure_logging("notifications", "INFO")

        def answer(request: httpx.Request) -> httpx.Response:
            return httpx.Response(204)

        with httpx.Client(transport=httpx.MockTransport(answer)) as client:
            client.post("https://receiver.example/hooks?token=s3cret", content=b"{}")
        logging.getLogger("services.notifications").info("webhook attempt")
    written = stream.getvalue()
    assert "webhook attempt" in written
    assert "s3cret" not in written and "receiver.example" not in written


def test_hop_marks_are_written_only_when_their_logger_is_at_debug(monkeypatch):
    with captured_logs(monkeypatch, "carecoord.hops") as stream:
        configure_logging("notifications", "WARNING", as_json=False)
        assert not hop_marks.marking()
        hop_marks.mark("matched", "person-1")
        configure_logging("notifications", "WARNING", as_json=False, levels={"carecoord.hops": "DEBUG"})
        assert hop_marks.marking()
        hop_marks.mark("matched", "person-2", at=1234.5)
    written = stream.getvalue()
    assert f"hop matched person {hop_marks.person_key('person-1')}" not in written
    assert f"hop matched person {hop_marks.person_key('person-2')} at 1234.500000" in written  # as bench/crisis_hops.py reads it
    assert "person-2" not in written and "person-1" not in written


def test_the_benchmark_takes_only_intakes_crisis_contacts_as_its_crises():
    assert hop_marks.is_crisis_event("carecoord.intake.crisis_contact_recorded")
    assert not hop_marks.is_crisis_event("carecoord.careplan.crisis_follow_ups.recorded")
    assert not hop_marks.is_crisis_event("carecoord.intake.screening_completed")

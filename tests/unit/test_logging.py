"""What the services' logs may carry: never a webhook URL (it may hold a credential)."""

from __future__ import annotations

import io
import logging

import httpx

from shared import hop_marks
from shared.telemetry import configure_logging


def test_a_webhook_request_logs_no_url_at_info(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    root, httpx_log = logging.getLogger(), logging.getLogger("httpx")
    before = (root.handlers[:], root.level, httpx_log.level)
    try:
        configure_logging("notifications", "INFO")

        def answer(request: httpx.Request) -> httpx.Response:
            return httpx.Response(204)

        with httpx.Client(transport=httpx.MockTransport(answer)) as client:
            client.post("https://receiver.example/hooks?token=s3cret", content=b"{}")
        logging.getLogger("services.notifications").info("webhook attempt")
    finally:
        root.handlers[:], _, _ = before
        root.setLevel(before[1])
        httpx_log.setLevel(before[2])
    written = stream.getvalue()
    assert "webhook attempt" in written
    assert "s3cret" not in written and "receiver.example" not in written


def test_hop_marks_are_written_only_when_their_logger_is_at_debug(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    root, hops = logging.getLogger(), logging.getLogger("carecoord.hops")
    before = (root.handlers[:], root.level, hops.level)
    try:
        configure_logging("notifications", "WARNING", as_json=False)
        assert not hop_marks.marking()
        hop_marks.mark("matched", "person-1")
        configure_logging("notifications", "WARNING", as_json=False, levels={"carecoord.hops": "DEBUG"})
        assert hop_marks.marking()
        hop_marks.mark("matched", "person-2", at=1234.5)
    finally:
        root.handlers[:], _, _ = before
        root.setLevel(before[1])
        hops.setLevel(before[2])
    written = stream.getvalue()
    assert "person-1" not in written
    assert f"hop matched person {hop_marks.person_key('person-2')} at 1234.500000" in written  # as bench/crisis_hops.py reads it
    assert "person-2" not in written and "person-1" not in written


def test_the_benchmark_takes_only_intakes_crisis_contacts_as_its_crises():
    assert hop_marks.is_crisis_event("carecoord.intake.crisis_contact_recorded")
    assert not hop_marks.is_crisis_event("carecoord.careplan.crisis_follow_ups.recorded")
    assert not hop_marks.is_crisis_event("carecoord.intake.screening_completed")

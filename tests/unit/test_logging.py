"""What the services' logs may carry: never a webhook URL (it may hold a credential)."""

from __future__ import annotations

import io
import logging

import httpx

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

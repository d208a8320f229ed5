"""The demo's webhook step: a ward-board app, registered by a supervisor for the care coordinator,
receives a crisis notice and verifies its signature as any receiver would."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from standardwebhooks import Webhook

from carecoord.dev import DEMO_AGENCY

PHQ9_WITH_SUICIDE_RISK = {"item1": 2, "item2": 2, "item3": 1, "item4": 2, "item5": 1, "item6": 1, "item7": 1,
                          "item8": 0, "item9": 1}


class _Inbox(BaseHTTPRequestHandler):
    received: list[tuple[bytes, dict[str, str]]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        type(self).received.append((body, {k.lower(): v for k, v in self.headers.items()}))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


def play_webhooks(http: httpx.Client, intake: str, notifications: str, person_id: str,
                  token: Callable[..., str], timeout: float = 15.0) -> None:
    supervisor = {"Authorization": f"Bearer {token('supervisor', subject='sam-supervisor')}"}
    agency = {"Authorization": f"Bearer {token('agency_system', agency=DEMO_AGENCY)}"}
    _Inbox.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Inbox)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        made = http.post(f"{notifications}/subscriptions", headers=supervisor, json={
            "url": f"http://127.0.0.1:{server.server_port}/hooks", "min_urgency": "urgent",
            "for_app": {"app": "ward-board", "members": ["alex-coordinator"]}})
        made.raise_for_status()
        secret = made.json()["secret"]
        print("supervisor registered the ward-board app's webhook for alex-coordinator (urgent notices only)")
        http.post(f"{intake}/people/{person_id}/screenings", headers=agency,
                  json={"instrument": "PHQ-9", "answers": PHQ9_WITH_SUICIDE_RISK}).raise_for_status()
        print("agency recorded a PHQ-9 showing suicide risk")
        deadline = time.monotonic() + timeout
        while not _Inbox.received:
            if time.monotonic() > deadline:
                raise SystemExit(f"the ward-board app received nothing within {timeout:.0f}s")
            time.sleep(0.1)
        body, headers = _Inbox.received[0]
        notice = Webhook(secret).verify(body, headers)
        print(f"the ward-board app received a signed {notice['urgency']} {notice['kind']} notice "
              f"(sequence {notice['sequence']}, webhook-id {headers['webhook-id']}): signature verified")
    finally:
        server.shutdown()
        server.server_close()

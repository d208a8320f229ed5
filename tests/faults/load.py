"""Steady load for the fault suite: crisis contacts at a fixed rate, each numbered per person.

Why not bench/load.py's client: it mints a new Idempotency-Key for every call, and here a
command must be retried with the *same* key until intake acknowledges it (a kill -9 or a cut
connection loses the answer, not necessarily the command); only then is "accepted" certain and
"applied exactly once" checkable. At 10-20 commands/s httpx's cost does not matter.

Each person's commands go one at a time, numbered 1, 2, ...; command k's follow-up is due k
minutes after FOLLOW_UP_BASE, and both consumers show that time (careplan's timeline summary,
notifications' notice), so what they applied can be read back as the person's numbers in the
order applied. The due time is far ahead so that no follow-up falls due during the run.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import httpx

from tests.support.system import TEST_AGENCY, bearer

FOLLOW_UP_BASE = datetime(2100, 1, 1, tzinfo=timezone.utc)
_DUE = re.compile(r"(2100-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00)")
RETRY_INTERVAL = 0.2     # between attempts of one command while intake is unreachable or failing
ACCEPT_TIMEOUT = 90.0    # a command still unacknowledged after this is counted as never accepted


def command_number(text: str) -> int | None:
    """The per-person number of the command a timeline summary or notice speaks of."""
    found = _DUE.search(text)
    if found is None:
        return None
    return int((datetime.fromisoformat(found.group(1)) - FOLLOW_UP_BASE) / timedelta(minutes=1))


def crisis_contact(number: int) -> dict[str, object]:
    return {"kind": "crisis_line_call", "occurred_at": "2026-01-01T12:00:00+00:00", "location": "phone",
            "responders": ["line"], "outcome": "resolved_in_community",
            "follow_up_due": (FOLLOW_UP_BASE + timedelta(minutes=number)).isoformat()}


@dataclass
class PersonLoad:
    person_id: str
    accepted: list[int] = field(default_factory=list)   # command numbers intake acknowledged (2xx)
    unacknowledged: int | None = None                   # a command never acknowledged (then the person stops)
    refused: list[str] = field(default_factory=list)    # 4xx answers: a bug in the suite or in intake


class CommandLoad:
    """`people` people, `rate` commands/s among them, until `stop()`; retries each command with its
    own Idempotency-Key until intake answers 2xx."""

    def __init__(self, intake_url: str, label: str, people: int, rate: float) -> None:
        self._client = httpx.AsyncClient(base_url=intake_url, headers=bearer("agency_system"), timeout=10.0)
        self._label = label
        self._count = people
        self._interval = 1.0 / rate
        self._next_slot = 0.0
        self._slot_lock = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.people: list[PersonLoad] = []
        self.transport_errors = 0
        self.server_errors = 0
        self.slowest = 0.0  # seconds from a command's first attempt to its acknowledgement

    async def start(self) -> None:
        """Register the people (retried like any command), then load them until stop()."""
        ids = await asyncio.gather(*(self._register(n) for n in range(self._count)))
        self.people = [PersonLoad(person_id) for person_id in ids]
        self._next_slot = time.monotonic()
        self._tasks = [asyncio.create_task(self._run(person)) for person in self.people]

    async def stop(self) -> None:
        """Stop sending; returns once every command in flight is acknowledged or given up."""
        self._stopping.set()
        await asyncio.gather(*self._tasks)
        await self._client.aclose()

    def accepted_now(self) -> dict[str, list[int]]:
        return {person.person_id: list(person.accepted) for person in self.people}

    @property
    def sent(self) -> int:
        return sum(len(person.accepted) for person in self.people)

    async def _register(self, n: int) -> str:
        body = {"agency": TEST_AGENCY, "agency_person_id": f"{self._label}-{n}", "preferred_name": f"Person {n}"}
        response = await self._until_answered("/people", body, idempotency_key=None)
        assert response is not None and response.status_code in (200, 201), \
            f"registration for {self._label}-{n} not accepted: {response and response.text}"
        return response.json()["person_id"]

    async def _run(self, person: PersonLoad) -> None:
        number = 0
        while not self._stopping.is_set():
            await self._wait_for_slot()
            if self._stopping.is_set():
                return
            number += 1
            key = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{person.person_id}/{number}"))
            began = time.monotonic()
            response = await self._until_answered(f"/people/{person.person_id}/crisis-contacts",
                                                  crisis_contact(number), idempotency_key=key)
            self.slowest = max(self.slowest, time.monotonic() - began)
            if response is None:
                person.unacknowledged = number
                return
            if response.status_code in (200, 201):
                person.accepted.append(number)
            else:
                person.refused.append(f"command {number}: {response.status_code} {response.text[:200]}")
                return

    async def _wait_for_slot(self) -> None:
        # Open loop at a fixed rate over all people: a slow or failing intake does not slow the
        # schedule, but each person still waits for their previous command (order is per person).
        async with self._slot_lock:
            slot, self._next_slot = self._next_slot, max(self._next_slot + self._interval, time.monotonic())
        delay = slot - time.monotonic()
        if delay > 0:
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=delay)
            except TimeoutError:
                pass

    async def _until_answered(self, path: str, body: dict[str, object],
                              idempotency_key: str | None) -> httpx.Response | None:
        """The first answer other than a 5xx, retrying transport errors and 5xx with the same key;
        None after ACCEPT_TIMEOUT seconds."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        deadline = time.monotonic() + ACCEPT_TIMEOUT
        while time.monotonic() < deadline:
            try:
                response = await self._client.post(path, json=body, headers=headers)
            except httpx.HTTPError:
                self.transport_errors += 1
            else:
                if response.status_code < 500:
                    return response
                self.server_errors += 1
            await asyncio.sleep(RETRY_INTERVAL)  # the retry's pace, bounded by the deadline above
        return None

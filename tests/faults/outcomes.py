"""What each consumer applied, read through its public API, against what intake accepted.

careplan: the person's timeline (one entry per intake event applied, in the order applied);
notifications: the person's due notices (one crisis follow-up notice per crisis contact, in the
order made due). Both name the command's per-person number (tests/faults/load.py).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import httpx

from tests.faults.load import command_number
from tests.support.system import bearer

CONSUMERS = ("careplan", "notifications")


@dataclass
class Tally:
    """One consumer's account of one fault: numbers over all of the fault's people."""

    sent: int = 0            # commands intake acknowledged
    applied: int = 0         # of those, how many the consumer shows (once or more)
    duplicates: int = 0      # entries beyond the first for the same command
    lost: int = 0            # acknowledged commands the consumer does not show
    out_of_order: int = 0    # entries that come after an entry with a higher number
    unexpected: int = 0      # entries for commands never acknowledged (or unreadable ones)
    problems: list[str] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return not (self.duplicates or self.lost or self.out_of_order or self.unexpected or self.problems)

    def add(self, person_id: str, accepted: list[int], shown: list[int | None],
            unacknowledged: int | None) -> None:
        counts = Counter(shown)
        self.sent += len(accepted)
        self.applied += sum(1 for number in accepted if counts[number])
        self.duplicates += sum(count - 1 for count in counts.values() if count > 1)
        self.lost += sum(1 for number in accepted if not counts[number])
        # A command intake never acknowledged may still have been recorded: once at most, last.
        self.unexpected += sum(1 for number in counts if number not in accepted and number != unacknowledged)
        highest = 0
        for number in shown:
            if number is not None and number < highest:
                self.out_of_order += 1
            highest = max(highest, number or 0)
        if self.lost or self.duplicates or self.out_of_order:
            self.problems.append(f"{person_id}: accepted {accepted}, shown in order {shown}")


async def shown_by(client: httpx.AsyncClient, consumer: str, person_id: str) -> list[int | None] | None:
    """The command numbers the consumer shows for the person, in its order; None if unreadable now."""
    if consumer == "careplan":
        response = await client.get(f"/people/{person_id}/timeline")
        if response.status_code != 200:
            return None
        return [command_number(entry["summary"]) for entry in response.json()["entries"]
                if entry["kind"] == "crisis_contact"]
    response = await client.get(f"/people/{person_id}/notifications")
    if response.status_code != 200:
        return None
    return [command_number(notice["message"]) for notice in response.json()["due"]
            if notice["kind"] == "crisis_follow_up"]


class Readers:
    """HTTP clients for the consumers' APIs, as an auditor (who may read every person's record)."""

    def __init__(self, urls: dict[str, str]) -> None:
        self._clients = {name: httpx.AsyncClient(base_url=urls[name], headers=bearer("auditor"), timeout=10.0)
                         for name in CONSUMERS}

    async def shown(self, consumer: str, person_id: str) -> list[int | None] | None:
        try:
            return await shown_by(self._clients[consumer], consumer, person_id)
        except httpx.HTTPError:
            return None  # restarting, or its database connection is cut: poll again

    async def caught_up(self, accepted: dict[str, list[int]]) -> bool:
        """Every consumer shows at least every command in `accepted`."""
        for consumer in CONSUMERS:
            for person_id, numbers in accepted.items():
                shown = await self.shown(consumer, person_id)
                if shown is None or not set(numbers) <= set(shown):
                    return False
        return True

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()

"""A consumer killed mid-stream and restarted: nothing lost, nothing applied twice, order kept."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import psycopg

from shared.domain import Provenance
from tests.support.polling import eventually
from tests.support.processes import ServiceProcess
from tests.support.system import System, bearer

PEOPLE, SCREENINGS_EACH = 10, 120  # 1,210 events: enough for the kill to land mid-stream
PROVENANCE = Provenance("load-generator", "agency_system", "corr-crash")


async def test_a_consumer_killed_mid_stream_and_restarted_loses_nothing_and_applies_nothing_twice(system: System, tmp_path):
    careplan = ServiceProcess("careplan", system.isolation, tmp_path / "careplan.log",
                              await system.process_environment("careplan"))
    careplan.start()
    try:
        intake = await system.start_connected("intake")
        # Written while careplan consumes, so that the kill lands mid-stream: written first, the
        # whole stream was sometimes applied between two polls (careplan batches its commits).
        writing = asyncio.ensure_future(intake.run_sync(_write_histories, intake.application))
        events_each = 1 + SCREENINGS_EACH  # registration, then one event per screening
        total = PEOPLE * events_each

        async def part_way_through():
            applied = await _tracked(system)
            return applied if applied >= total // 10 else None

        applied_before_kill = await eventually(part_way_through, timeout=60, what="careplan to be part-way through")
        careplan.kill()
        assert applied_before_kill < total, "the kill must land mid-stream for this test to mean anything"
        person_ids = await writing

        careplan.start()
        async with httpx.AsyncClient(base_url=careplan.url, headers=bearer("auditor")) as client:
            for person_id in person_ids:
                async def complete():
                    response = await client.get(f"/people/{person_id}/timeline")
                    entries = response.json()["entries"] if response.status_code == 200 else []
                    return entries if len(entries) >= events_each else None

                entries = await eventually(complete, timeout=120, what=f"person {person_id}'s whole history")
                assert [e["sequence"] for e in entries] == list(range(1, events_each + 1)), careplan.log_tail()
        assert await _tracked(system) == total, "each event applied exactly once"
    finally:
        careplan.stop()


def _write_histories(intake) -> list[uuid.UUID]:
    person_ids = []
    for p in range(PEOPLE):
        registration = intake.register_person("north", f"crash-{p}", f"Person {p}", None, PROVENANCE)
        person_ids.append(registration.person_id)
    for n in range(SCREENINGS_EACH):
        for person_id in person_ids:
            intake.record_screening(person_id, uuid.uuid4(), "GAD-7", {"item1": n % 4}, PROVENANCE)
    return person_ids


async def _tracked(system: System) -> int:
    """How many intake events careplan has applied: one tracking row each, written with the effect."""
    async with await psycopg.AsyncConnection.connect(system.isolation.database_url) as conn:
        try:
            row = await (await conn.execute("SELECT count(*) FROM careplan.careplan_tracking")).fetchone()
        except psycopg.errors.UndefinedTable:
            return 0
    return row[0]

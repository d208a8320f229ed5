"""What recording the live stream's reads costs: one batch recorded as a stream records it
(`StreamReads.record`: one AccessRecord per person, one group-commit transaction), on PostgreSQL,
for a batch of one notice (at 100 notices/s a page holds one or two) and a full page (200 notices
about 50 people). Wall-clock and this process's CPU per batch, median of the rounds.

    .venv/bin/python -m bench.stream_reads [--rounds 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

import psycopg

from services.notifications.application import NotificationsApplication
from services.notifications.stream import StreamedNotice
from services.notifications.stream_reads import StreamReads
from shared.access import Principal, Role
from shared.access_recording import AccessRecorder
from shared.domain import Provenance
from shared.eventstore import ensure_schema
from shared.settings import ServiceSettings
from tests.support.system import TEST_CIPHER_KEY

DATABASE = "postgresql://postgres@127.0.0.1:5432/carecoord_bench_stream_reads"


def notices(count: int, people: int) -> list[StreamedNotice]:
    ids = [uuid.uuid4() for _ in range(people)]
    return [StreamedNotice(position, ids[position % people], "crisis", {"kind": "crisis_follow_up"})
            for position in range(1, count + 1)]


async def measure(reads: StreamReads, batch: list[StreamedNotice], rounds: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        await reads.record(batch)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls) * 1000, statistics.median(cpus) * 1000


async def main(rounds: int) -> None:
    with psycopg.connect(DATABASE.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS carecoord_bench_stream_reads")
        admin.execute("CREATE DATABASE carecoord_bench_stream_reads")
    settings = ServiceSettings(service_name="notifications", database_url=DATABASE, event_cipher_key=TEST_CIPHER_KEY)
    ensure_schema(settings)
    application = NotificationsApplication(env=settings.eventsourcing_env())
    try:
        recorder = AccessRecorder(asyncio.to_thread, application)
        reads = StreamReads(recorder, Principal("casey", Role.CLINICIAN), Provenance("casey", "clinician", "bench"),
                            "TREAT")
        for name, batch in (("1 notice, 1 person", notices(1, 1)), ("200 notices, 50 people", notices(200, 50))):
            wall, cpu = await measure(reads, batch, rounds)
            print(f"{name:24} {wall:7.2f} ms wall  {cpu:7.2f} ms CPU per batch  "
                  f"({cpu / len(batch):.3f} ms CPU per notice)")
    finally:
        application.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200)
    asyncio.run(main(parser.parse_args().rounds))

"""How fast `carecoord audit verify` reads a service's log, and `carecoord audit history` a
person's history, each against reading the same rows alone, and whether their memory stays flat
as the log grows.

    .venv/bin/python bench/audit.py                      # 200,000 events (about a minute, mostly making the log)
    .venv/bin/python bench/audit.py --events 1000000     # longer

It creates a database of its own (bench_audit_<hex>, dropped at the end), records a few hundred
real events through intake's application (encrypted states, real topics), copies them in SQL
into a log of `--events` rows under new ids, and checkpoints it at `--small` events and at the end.
Then, in the same run and on the same rows: the raw read (the verifier's own query through the same
server-side cursor, rows fetched and dropped) and `verify` (the same rows hashed as RFC 9162 leaves,
the tree's root compared at both checkpoints), three times each, alternating, best of each; and the peak of Python's
heap (tracemalloc) while verifying the log at `--small` events and at `--events`.
Targets: verify at least 0.5x the raw read rate; peak at `--events` within 10% of the peak at `--small`.

History: every row of the log is indexed under one person (the copies keep their states, so each
decrypts and decodes as the real event it copies). The raw read is the history's own paged query
(the person index joined to the log, by position, `--page` rows a query) with rows fetched and
dropped; the history is what `carecoord audit history PERSON --service intake --format jsonl`
does: the same pages decrypted, their JSON decoded and made plain, made into lines, merged and
written as JSON lines (to /dev/null). Same targets. Beside the rates, the CPU time this process
spent per event in each (`time.process_time`, every thread's, median of the three passes): steadier
than wall-clock rates on a shared machine.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
import tracemalloc
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from carecoord.audit.checkpointing import make_checkpoint  # noqa: E402
from carecoord.audit.history import ServiceHistory  # noqa: E402
from carecoord.audit.history_output import write_history  # noqa: E402
from carecoord.audit.merging import merge_histories  # noqa: E402
from carecoord.audit.store import AuditStore  # noqa: E402
from carecoord.audit.verification import verify_log  # noqa: E402
from services.intake.application import IntakeApplication  # noqa: E402
from services.intake.bootstrap import IntakeSettings  # noqa: E402
from shared.checkpoints import NoteSigner  # noqa: E402
from shared.cipher import new_key  # noqa: E402
from shared.domain import Provenance  # noqa: E402
from shared.eventstore import ensure_schema  # noqa: E402
from shared.person_index import HistoryFilter  # noqa: E402

ORIGIN = "bench.local/intake"
SAMPLE_PEOPLE = 150  # each: registered, two screenings (three real events)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000, help="events in the log (default 200,000)")
    parser.add_argument("--small", type=int, default=50_000, help="the smaller log whose peak memory is compared "
                                                                  "(default 50,000)")
    parser.add_argument("--page", type=int, default=1000, help="history rows per query (the CLI's default)")
    parser.add_argument("--postgres-url", default=os.environ.get("CARECOORD_TEST_POSTGRES_URL",
                                                                 "postgresql://postgres@127.0.0.1:5432/postgres"))
    return parser.parse_args(argv)


def create_database(admin_url: str) -> tuple[str, str]:
    name = f"bench_audit_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name, urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def record_sample(database_url: str, settings: IntakeSettings) -> int:
    """Real events, through intake's application: what the copies are made of."""
    ensure_schema(settings)
    intake = IntakeApplication(env=settings.eventsourcing_env())
    provenance = Provenance("bench-agency", "agency_system", "bench-audit")
    try:
        for n in range(SAMPLE_PEOPLE):
            person = intake.register_person("bench", f"bench-{n}", f"Bench Person {n}", None, provenance)
            for instrument in ("PHQ-9", "GAD-7"):
                intake.record_screening(person.person_id, uuid.uuid4(), instrument, {"item1": 2}, provenance)
    finally:
        intake.close()
    return SAMPLE_PEOPLE * 3


def grow_log(database_url: str, to: int) -> None:
    """Copies of the sample (new ids, the stored states and topics as they are) up to `to` rows."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        have = conn.execute("SELECT count(*) FROM intake.intake_events").fetchone()[0]
        conn.execute(
            "WITH sample AS (SELECT row_number() OVER (ORDER BY notification_id) - 1 AS n, topic, state "
            "FROM intake.intake_events WHERE notification_id <= %(sample)s) "
            "INSERT INTO intake.intake_events (originator_id, originator_version, topic, state) "
            "SELECT gen_random_uuid(), 1, sample.topic, sample.state FROM generate_series(0, %(count)s - 1) AS g "
            "JOIN sample ON sample.n = g %% %(sample)s ORDER BY g",
            {"sample": SAMPLE_PEOPLE * 3, "count": to - have})
        conn.execute("VACUUM ANALYZE intake.intake_events")


def index_everything(database_url: str, person: uuid.UUID) -> None:
    """Every row of the log in the person's history (see the module's doc)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO intake.person_events (person_id, position, occurred_at) "
                     "SELECT %s, notification_id, now() FROM intake.intake_events ON CONFLICT DO NOTHING", (person,))
        conn.execute("VACUUM ANALYZE intake.person_events")


def history_reader(conn: psycopg.Connection, settings: IntakeSettings) -> ServiceHistory:
    return ServiceHistory(conn, settings)


def timed_raw_history(database_url: str, settings: IntakeSettings, person: uuid.UUID, page: int
                      ) -> tuple[int, float, float]:
    """Rows read, seconds, and this process's CPU seconds (every thread's: `time.process_time`)."""
    with read_only(database_url) as conn:
        reader = history_reader(conn, settings)
        started, cpu = time.perf_counter(), time.process_time()
        count, after = 0, 0
        while rows := reader.rows(HistoryFilter(person, after, limit=page)):
            count += len(rows)
            after = rows[-1][0]
            if len(rows) < page:
                break
        return count, time.perf_counter() - started, time.process_time() - cpu


def run_history(database_url: str, settings: IntakeSettings, person: uuid.UUID, page: int) -> int:
    with read_only(database_url) as conn, open(os.devnull, "w") as sink:
        reader = history_reader(conn, settings)
        return write_history(merge_histories({"intake": reader.lines(HistoryFilter(person, limit=page))}), sink,
                             "jsonl")


def timed_history(database_url: str, settings: IntakeSettings, person: uuid.UUID, page: int
                  ) -> tuple[int, float, float]:
    """Lines written, seconds, and CPU seconds (the prefetch thread's included)."""
    started, cpu = time.perf_counter(), time.process_time()
    count = run_history(database_url, settings, person, page)
    return count, time.perf_counter() - started, time.process_time() - cpu


def peak_history_memory(database_url: str, settings: IntakeSettings, person: uuid.UUID, page: int) -> int:
    # Python keeps freed tuples (psycopg's rows: up to 2,000 of a size) on free lists; one taken from
    # there is no allocation to tracemalloc. Emptied first, every run counts its rows alike,
    # whatever ran before it in this process (up to ~0.2 MB otherwise).
    gc.collect()
    tracemalloc.start()
    try:
        run_history(database_url, settings, person, page)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def read_only(database_url: str) -> psycopg.Connection:
    conn = psycopg.connect(database_url)
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    return conn


def timed_raw_read(database_url: str) -> tuple[int, float]:
    with read_only(database_url) as conn:
        started = time.perf_counter()
        count = sum(len(page) for page in AuditStore(conn, "intake").pages(prefetch=True))
        return count, time.perf_counter() - started


def timed_verify(database_url: str, signer: NoteSigner) -> tuple[int, float]:
    with read_only(database_url) as conn:
        started = time.perf_counter()
        verdict = verify_log(AuditStore(conn, "intake"), signer.verifier(), ORIGIN)
        elapsed = time.perf_counter() - started
    if not verdict.ok or verdict.log_size is None:
        raise SystemExit(f"the benchmark's own log does not verify: {verdict}")
    return verdict.log_size, elapsed


def peak_verify_memory(database_url: str, signer: NoteSigner) -> int:
    with read_only(database_url) as conn:
        store = AuditStore(conn, "intake")
        gc.collect()  # (see peak_history_memory)
        tracemalloc.start()
        try:
            verify_log(store, signer.verifier(), ORIGIN)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()


def checkpoint(database_url: str, signer: NoteSigner) -> tuple[int, float]:
    with psycopg.connect(database_url) as conn:
        started = time.perf_counter()
        made, _ = make_checkpoint(AuditStore(conn, "intake"), signer, ORIGIN)
        return made.size, time.perf_counter() - started


def median_cpu_us(passes: list[tuple[int, float, float]]) -> float:
    return statistics.median(cpu / count * 1e6 for count, _, cpu in passes)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.events < args.small or args.small < SAMPLE_PEOPLE * 3:
        raise SystemExit("--events must be at least --small, and --small at least the sample")
    signer = NoteSigner.generate("bench-audit")
    person = uuid.uuid4()
    name, url = create_database(args.postgres_url)
    settings = IntakeSettings(database_url=url, event_cipher_key=new_key())
    print(f"database {name}")
    try:
        sample = record_sample(url, settings)
        print(f"recorded {sample} real events through intake's application")
        grow_log(url, args.small)
        size, seconds = checkpoint(url, signer)
        print(f"checkpoint at {size:,}: {seconds:.1f} s ({size / seconds:,.0f} events/s, leaf hashes kept)")
        small_peak = peak_verify_memory(url, signer)
        index_everything(url, person)
        history_small_peak = peak_history_memory(url, settings, person, args.page)

        grow_log(url, args.events)
        size, seconds = checkpoint(url, signer)
        print(f"checkpoint at {size:,}: {seconds:.1f} s (the {size - args.small:,} new events, "
              f"{(size - args.small) / seconds:,.0f} events/s)")
        raw, verified = [], []
        for _ in range(3):
            raw.append(timed_raw_read(url))
            verified.append(timed_verify(url, signer))
        large_peak = peak_verify_memory(url, signer)
        index_everything(url, person)
        raw_history, histories = [], []
        for _ in range(3):
            raw_history.append(timed_raw_history(url, settings, person, args.page))
            histories.append(timed_history(url, settings, person, args.page))
        history_large_peak = peak_history_memory(url, settings, person, args.page)
    finally:
        drop_database(args.postgres_url, name)

    raw_rate = max(count / seconds for count, seconds in raw)
    verify_rate = max(count / seconds for count, seconds in verified)
    ratio, growth = verify_rate / raw_rate, large_peak / small_peak - 1
    print()
    print(f"events in the log              {args.events:>12,}")
    print(f"raw read (same rows, same run) {raw_rate:>12,.0f} rows/s   "
          f"({', '.join(f'{s:.2f} s' for _, s in raw)})")
    print(f"verify                         {verify_rate:>12,.0f} rows/s   "
          f"({', '.join(f'{s:.2f} s' for _, s in verified)})  = {ratio:.2f}x the raw read (target >= 0.5x)")
    print(f"peak memory at {args.small:>9,} events {small_peak / 1e6:>9.2f} MB (Python heap, tracemalloc)")
    print(f"peak memory at {args.events:>9,} events {large_peak / 1e6:>9.2f} MB   "
          f"{growth:+.1%} (target within 10%)")
    raw_history_rate = max(count / seconds for count, seconds, _ in raw_history)
    history_rate = max(count / seconds for count, seconds, _ in histories)
    history_ratio, history_growth = history_rate / raw_history_rate, history_large_peak / history_small_peak - 1
    print(f"history: raw read (same rows)  {raw_history_rate:>12,.0f} rows/s   "
          f"({', '.join(f'{s:.2f} s' for _, s, _ in raw_history)})")
    print(f"history (jsonl)                {history_rate:>12,.0f} rows/s   "
          f"({', '.join(f'{s:.2f} s' for _, s, _ in histories)})  = {history_ratio:.2f}x the raw read (target >= 0.5x)")
    print(f"CPU per event (this process, median of 3): raw read {median_cpu_us(raw_history):.1f} us, "
          f"history {median_cpu_us(histories):.1f} us")
    print(f"history peak at {args.small:>9,} events {history_small_peak / 1e6:>8.2f} MB (Python heap, tracemalloc)")
    print(f"history peak at {args.events:>9,} events {history_large_peak / 1e6:>8.2f} MB   "
          f"{history_growth:+.1%} (target within 10%)")
    if {count for count, _, _ in histories} != {args.events}:
        raise SystemExit(f"the history listed {histories[0][0]} events, not {args.events}")
    met = ratio >= 0.5 and abs(growth) <= 0.10
    history_met = history_ratio >= 0.5 and abs(history_growth) <= 0.10
    print(f"verify: {'targets met' if met else 'TARGETS MISSED'}; "
          f"history: {'targets met' if history_met else 'TARGETS MISSED'}")
    met = met and history_met
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

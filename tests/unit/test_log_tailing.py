"""A tailer of its service's log (shared/log_tailing.py) reads it once: what it does not want is read past,
not again; it is woken by commits of the topics it reads, and by news that arrives during a step."""

import asyncio
from uuid import uuid4

from eventsourcing.popo import POPOApplicationRecorder
from eventsourcing.persistence import StoredEvent

from shared.batch_recorders import notify_payload
from shared.log_tailing import LogTailLoop
from shared.log_reading import read_log


def record(recorder: POPOApplicationRecorder, *topics: str) -> None:
    recorder.insert_events([StoredEvent(uuid4(), 1, topic, b"{}") for topic in topics])


def test_a_tailer_reads_past_events_of_other_topics_to_the_end_of_the_log():
    recorder = POPOApplicationRecorder()
    record(recorder, "wanted", "other", "other", "other")

    notifications, read_to = read_log(recorder, 0, 10, ["wanted"])
    assert [n.id for n in notifications] == [1]
    assert read_to == 4, "the three other events are read past, not read again at the next wake-up"

    record(recorder, "other")
    assert read_log(recorder, read_to, 10, ["wanted"]) == ([], 5)
    assert read_log(recorder, 5, 10, ["wanted"]) == ([], 5)


def test_a_full_batch_stops_at_its_last_event_and_the_next_read_goes_on_from_there():
    recorder = POPOApplicationRecorder()
    record(recorder, "wanted", "other", "wanted", "other", "wanted")

    notifications, read_to = read_log(recorder, 0, 2, ["wanted"])
    assert ([n.id for n in notifications], read_to) == ([1, 3], 3)
    notifications, read_to = read_log(recorder, read_to, 2, ["wanted"])
    assert ([n.id for n in notifications], read_to) == ([5], 5)


def test_reading_stops_where_asked_even_if_more_was_recorded():
    recorder = POPOApplicationRecorder()
    record(recorder, "other", "other", "wanted")
    assert read_log(recorder, 0, 10, ["wanted"], stop=2) == ([], 2)


class Tailer(LogTailLoop):
    name, kind = "test-tailer", "test"
    wakes_for = frozenset({"wanted"})

    async def step(self) -> bool:
        return False


async def test_a_tailer_is_woken_only_by_commits_of_topics_it_reads():
    tailer = Tailer(idle_poll_seconds=1.0)
    tailer.wake(frozenset({"other"}))
    assert not tailer.is_awake, "a commit of other topics leaves it asleep"
    tailer.wake(frozenset({"other", "wanted"}))
    assert tailer.is_awake
    asleep = Tailer(idle_poll_seconds=1.0)
    asleep.wake(None)
    assert asleep.is_awake, "a notification without topics wakes everyone"


def test_the_commit_notification_names_each_topic_once_or_none_when_they_would_not_fit():
    events = [StoredEvent(uuid4(), 1, topic, b"") for topic in ("b", "a", "b")]
    assert notify_payload(events) == "a\nb"
    many = [StoredEvent(uuid4(), 1, f"services.x.domain:Aggregate.Event{n}", b"") for n in range(300)]
    assert notify_payload(many) == "", "PostgreSQL refuses payloads of 8000 bytes: wake everyone"


async def test_news_that_arrives_while_a_tailer_reads_wakes_it_for_another_step():
    class Reader(Tailer):
        wakes_for = None

        def __init__(self) -> None:
            super().__init__(idle_poll_seconds=3600)
            self.steps = 0
            self.second_step = asyncio.Event()

        async def step(self) -> bool:
            self.steps += 1
            if self.steps == 1:
                self.wake()  # committed while this step was reading: its events are not in this step
            else:
                self.second_step.set()
            return False

    reader = Reader()
    tailing = asyncio.ensure_future(reader.tail())
    try:
        await asyncio.wait_for(reader.second_step.wait(), timeout=5)
    finally:
        tailing.cancel()

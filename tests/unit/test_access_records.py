"""The record of one read, in memory: what it keeps, how it is stored, how reads are batched."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import pytest

from shared.access_recording import AccessNotRecorded, AccessRecorder, recorded_accesses
from shared.access_records import Access, AccessRecord, Outcome
from shared.disclosures import DEFAULT_PURPOSE, PURPOSES_OF_USE
from shared.domain import Provenance
from shared.eventstore import ServiceApplication
from shared.settings import ServiceSettings
from tests.unit.conftest import IN_MEMORY
from tests.support.system import TEST_CIPHER_KEY

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def access(person_id: uuid.UUID, reader: str = "casey", outcome: Outcome = Outcome.ALLOWED,
           purpose: str = DEFAULT_PURPOSE) -> Access:
    return Access(person_id=person_id, resource="care plan", route="/people/{person_id}/plan", outcome=outcome,
                  status=200 if outcome is Outcome.ALLOWED else 404, purpose=purpose,
                  provenance=Provenance(reader, "care_coordinator", "corr-7", traceparent=TRACEPARENT),
                  reader_agency="north-clinic", reader_app=None)


@pytest.fixture
def application():
    env = {**ServiceSettings(service_name="records", event_cipher_key=TEST_CIPHER_KEY).eventsourcing_env(), **IN_MEMORY}
    app = ServiceApplication(env={k: v for k, v in env.items() if not k.startswith("POSTGRES_")})
    yield app
    app.close()


def test_a_record_is_one_event_naming_the_person_the_reader_and_why():
    person_id = uuid.uuid4()
    record = AccessRecord.of(access(person_id, outcome=Outcome.REFUSED_404, purpose="ETREAT"))
    [recorded] = record.collect_events()
    assert isinstance(recorded, AccessRecord.Recorded) and recorded.originator_version == 1
    assert recorded.person_id == person_id  # what a person's history is indexed by
    assert (record.reader_id, record.reader_role, record.reader_agency, record.correlation_id) == (
        "casey", "care_coordinator", "north-clinic", "corr-7")
    assert (record.resource, record.route, record.outcome, record.status, record.purpose) == (
        "care plan", "/people/{person_id}/plan", Outcome.REFUSED_404, 404, "ETREAT")
    assert record.trace_id == "0af7651916cd43dd8448eb211c80319c"
    assert record.recorded_at == recorded.timestamp


def test_two_reads_of_the_same_person_are_two_records_that_never_contend():
    person_id = uuid.uuid4()
    first, second = AccessRecord.of(access(person_id)), AccessRecord.of(access(person_id))
    assert first.id != second.id and first.version == second.version == 1


def test_the_purposes_a_reader_may_state_are_hl7_codes_and_treatment_is_the_default():
    assert DEFAULT_PURPOSE == "TREAT"
    assert {"TREAT", "ETREAT", "HPAYMT", "HOPERAT", "PUBHLTH", "HRESCH", "HLEGAL", "PATRQT", "COC"} <= set(
        PURPOSES_OF_USE)


def test_a_stored_record_reads_back_as_it_was(application):
    person_id = uuid.uuid4()
    application.record_uncached(AccessRecord.of(access(person_id)), AccessRecord.of(access(uuid.uuid4())))
    [record] = recorded_accesses(application, person_id)
    assert (record.person_id, record.reader_id, record.outcome, record.purpose, record.trace_id) == (
        person_id, "casey", Outcome.ALLOWED, "TREAT", "0af7651916cd43dd8448eb211c80319c")


async def test_reads_arriving_together_are_recorded_in_fewer_transactions_than_reads(application):
    batches: list[int] = []
    recorder = AccessRecorder(asyncio.to_thread, application, observe_batch=batches.append)
    person_id = uuid.uuid4()
    ids = await asyncio.gather(*(recorder.record(access(person_id, reader=f"reader-{n}")) for n in range(50)))
    assert len(set(ids)) == 50
    assert sum(batches) == 50 and len(batches) < 50
    assert sorted(r.reader_id for r in recorded_accesses(application, person_id)) == sorted(
        f"reader-{n}" for n in range(50))


def test_one_record_can_name_the_items_sent_and_a_record_stored_before_items_existed_names_none(application):
    person_id = uuid.uuid4()
    streamed = dataclasses.replace(access(person_id), resource="notice stream", route="/stream",
                                   items=("17:crisis_follow_up", "18:plan_changed"))
    application.record_uncached(AccessRecord.of(streamed))
    [record] = recorded_accesses(application, person_id)
    assert (record.resource, record.route, record.items) == (
        "notice stream", "/stream", ("17:crisis_follow_up", "18:plan_changed"))
    assert AccessRecord.of(access(person_id)).items == ()

    stored_before = {"person_id": person_id, "resource": "care plan"}  # a version 1 event's state
    AccessRecord.Recorded.upcast_v1_v2(stored_before)
    assert stored_before["items"] == []


async def test_several_reads_are_recorded_together_or_the_caller_is_told_none_may_be_sent(application):
    recorder = AccessRecorder(asyncio.to_thread, application)
    people = [uuid.uuid4() for _ in range(3)]
    ids = await recorder.record_all([access(person_id) for person_id in people])
    assert len(set(ids)) == 3
    assert all(len(recorded_accesses(application, person_id)) == 1 for person_id in people)

    def refuse(*_):
        raise OSError("the store is gone")

    application.record_uncached = refuse
    with pytest.raises(AccessNotRecorded):
        await recorder.record_all([access(person_id) for person_id in people])

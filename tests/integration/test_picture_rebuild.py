"""A rebuild of the integrated pictures that is stopped half-way goes on from where it stopped when
started again (`PictureProjection.rebuild`, `carecoord rebuild-picture`), and ends equal to a
rebuild from scratch and to the live projection; the live pictures keep being served meanwhile."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest

from carecoord import cli
from services.careplan.application import CareplanApplication
from services.careplan.bootstrap import CareplanSettings
from services.careplan.picture.projection import picture_projection
from shared.domain import Provenance
from shared.eventstore import ensure_schema
from tests.support.system import TEST_CIPHER_KEY

BY = Provenance("alex-coordinator", "care_coordinator", "corr-rebuild")


class Interrupted(Exception):
    """Stands for a rebuild killed part-way (Ctrl-C, a lost connection, a crash)."""


def record_history(application: CareplanApplication, people: int, start: int = 0) -> None:
    for n in range(start, start + people):
        person = uuid4()
        application.add_team_member(person, f"member-{n}", "clinician", BY)
        for k in range(4):
            application.add_medication_note(person, f"n{k}", "effects_noticed", f"note {k} of {n}", None, None,
                                            "clinician", BY)


def stopping_after(position: int, seen: list[int]):  # noqa: ANN201
    """A progress callback that records each position reported and stops the rebuild past `position`."""
    def report(reached: int, last: int) -> None:
        seen.append(reached)
        if reached >= position and reached < last:
            raise Interrupted(f"stopped at {reached} of {last}")

    return report


def test_a_stopped_rebuild_goes_on_from_where_it_stopped_and_ends_as_a_clean_one(isolation, monkeypatch, capsys):
    settings = CareplanSettings(database_url=isolation.database_url, event_cipher_key=TEST_CIPHER_KEY)
    ensure_schema(settings)
    application = CareplanApplication(env=settings.eventsourcing_env())
    record_history(application, 6)

    async def scenario() -> None:
        live = picture_projection(application, isolation.database_url, "careplan", asyncio.to_thread)
        rebuilder = picture_projection(application, isolation.database_url, "careplan", asyncio.to_thread,
                                       batch_size=4)
        try:
            await live.catch_up()
            served = await live.store.all()
            assert len(served) == 6

            first: list[int] = []
            with pytest.raises(Interrupted):
                await rebuilder.rebuild(stopping_after(12, first))
            stopped_at = first[-1]
            assert 0 < stopped_at < application.recorder.max_notification_id()
            # Stopped half-way: the live pictures are untouched and still served, and still followed.
            assert await live.store.all() == served
            record_history(application, 2, start=6)
            await live.catch_up()
            assert len(await live.store.all()) == 8

            # Started again: it goes on from where it stopped, not from zero.
            second: list[int] = []
            replayed = await rebuilder.rebuild(lambda reached, last: second.append(reached))
            assert second[0] == stopped_at and second[-1] == application.recorder.max_notification_id()
            resumed = await live.store.all()
            assert 0 < replayed < application.recorder.max_notification_id()

            # ...and ends where a clean rebuild and the live projection end.
            await live.catch_up()
            assert await live.store.all() == resumed
            from_zero: list[int] = []
            await rebuilder.rebuild(lambda reached, last: from_zero.append(reached), from_scratch=True)
            assert from_zero[0] == 0
            assert await live.store.all() == resumed
            assert {str(p.team) for p in resumed.values()} == {str({f"member-{n}": "clinician"}) for n in range(8)}

            # Stopped again, then resumed by the command, which says where it resumed.
            stopped: list[int] = []
            with pytest.raises(Interrupted):
                await rebuilder.rebuild(stopping_after(8, stopped))
            return stopped[-1], resumed
        finally:
            await live.close()
            await rebuilder.close()

    try:
        stopped_at, resumed = asyncio.run(scenario())
    finally:
        application.close()
    monkeypatch.setenv("DATABASE_URL", isolation.database_url)
    monkeypatch.setenv("EVENT_CIPHER_KEY", TEST_CIPHER_KEY)
    capsys.readouterr()
    assert cli.main(["rebuild-picture"]) == 0
    out, err = capsys.readouterr()
    assert f"(resumed at position {stopped_at})" in out and "rebuilding pictures" in err

    async def stored() -> dict:
        reader = CareplanApplication(env=settings.eventsourcing_env())
        check = picture_projection(reader, isolation.database_url, "careplan", asyncio.to_thread)
        try:
            return await check.store.all()
        finally:
            await check.close()
            reader.close()

    assert asyncio.run(stored()) == resumed

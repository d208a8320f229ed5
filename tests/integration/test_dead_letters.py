"""`carecoord dead-letters`: parked messages listed with their reasons, and replayed through the
consumer once the cause is fixed, never lost.

The cause here is one an operator really meets: careplan started without intake's broker user in
EVENT_PUBLISHERS parks every event of intake's ("not a known source"); restarted with the right
setting, it accepts them when they are replayed. The replay is published as careplan's own user,
naming intake's user as the original publisher, which careplan believes only on its own messages.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from typer.testing import CliRunner

from carecoord.cli import app
from services.careplan.consumers import TOPOLOGY
from services.intake.domain.person import Person
from shared.dead_letters import DeadLetter, DeadLetterQueue
from tests.integration.test_agency_commands_amqp import AGENCY_TOKEN, send
from tests.integration.test_event_flow import _when_len, register, timeline_of
from tests.support.polling import eventually
from tests.support.system import TEST_AGENCY, System, envelope

NOT_A_KNOWN_SOURCE = "intake is not a known source of events"


async def start_careplan(system: System, publishers: dict[str, str] | None = None):
    """Careplan believing events from these users (by default, each service's own, as deployed)."""
    for service in ("intake", "careplan"):
        await system.service_amqp_url(service)
    overrides: dict[str, Any] = {} if publishers is None else {"event_publishers": publishers}
    return await system.start_connected("careplan", **overrides)


async def carecoord(system: System, *args: str) -> Any:
    """The command as an operator runs it beside careplan (its AMQP URL in the environment)."""
    env = {"CAREPLAN_AMQP_URL": await system.service_amqp_url("careplan")}
    result = await asyncio.to_thread(CliRunner().invoke, app, ["dead-letters", *args], env=env)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


async def parked(system: System, count: int) -> list[DeadLetter]:
    async def listed():
        async with DeadLetterQueue(await system.service_amqp_url("careplan"), TOPOLOGY) as queue:
            letters = await queue.list()
        return (letters,) if len(letters) == count else None  # a tuple: an empty list is an answer too

    [letters] = await eventually(listed, what=f"{count} parked in careplan.dead-letter")
    return letters


async def test_parked_events_are_listed_with_their_reason_and_applied_once_when_replayed(system: System):
    intake = await system.start_connected("intake")
    careplan = await start_careplan(system, publishers={"careplan": system.broker_user("careplan")})
    tap = await system.tap()
    async with system.client(intake, "agency_system") as i:
        first, second = await register(i, "p-1"), await register(i, "p-2")
    published = [envelope(m)["event_id"] for m in await system.collect(tap, 2, what="two registrations")]

    await parked(system, 2)
    listing = (await carecoord(system, "list", "careplan")).stdout
    assert "careplan.dead-letter: 2 messages" in listing
    lines = listing.splitlines()
    # Oldest first, each with its id, kind and reason; listing takes nothing away.
    assert [line.split()[0] for line in lines[1::2]] == published
    assert all("carecoord.intake.person_registered" in line for line in lines[1::2])
    assert all(NOT_A_KNOWN_SOURCE in line for line in lines[2::2])
    assert [letter.message_id for letter in await parked(system, 2)] == published

    await system.stop(careplan)
    careplan = await start_careplan(system)  # the cause fixed: intake's user is believed
    async with system.client(careplan, "auditor") as c, system.client(intake, "agency_system") as i:
        replayed = (await carecoord(system, "replay", "careplan", "--id", published[1])).stdout
        assert f"replayed {published[1]}" in replayed and "1 left in careplan.dead-letter" in replayed
        await eventually(lambda: _when_len(timeline_of(c, second), 1), what="the selected event applied")
        assert await timeline_of(c, first) == []
        assert [letter.message_id for letter in await parked(system, 1)] == [published[0]]

        everything = await carecoord(system, "replay", "careplan", "--all")
        assert "replayed 1 to careplan.inbox; 0 left" in everything.stdout
        assert "replaying careplan.dead-letter" in everything.stderr and "1/1" in everything.stderr  # progress
        await eventually(lambda: _when_len(timeline_of(c, first), 1), what="the rest applied")
        await parked(system, 0)

        # Exactly once, and in its place: the person's next event follows it.
        await i.post(f"/people/{first}/screenings", json={"instrument": "GAD-7", "answers": {"item1": 1}})
        entries = await eventually(lambda: _when_len(timeline_of(c, first), 2), what="the next event")
        assert [(e["sequence"], e["kind"]) for e in entries] == [(1, "person_registered"), (2, "screening_scored")]


async def test_a_replayed_event_that_fails_again_is_parked_again_with_its_new_reason(system: System):
    intake = await system.start_connected("intake")
    careplan = await start_careplan(system, publishers={"careplan": system.broker_user("careplan")})
    async with system.client(intake, "agency_system") as i:
        person = await register(i)
    [before] = await parked(system, 1)
    assert NOT_A_KNOWN_SOURCE in before.reason

    await system.stop(careplan)
    intake_user = system.broker_user("intake")
    careplan = await start_careplan(system, publishers={"intake": "someone-else"})  # fixed wrongly
    await carecoord(system, "replay", "careplan", "--all")

    async def parked_again():
        letters = await parked(system, 1)
        return letters if letters[0].replays == 1 else None

    [after] = await eventually(parked_again, what="the replay parked again")
    assert after.message_id == before.message_id
    # The new reason: the original publisher it still names is not the one now expected.
    assert after.reason == f"NotFromSource: not published by intake: published by broker user {intake_user!r}"
    assert after.failed_at > before.failed_at
    assert after.published_by == intake_user

    await system.stop(careplan)
    careplan = await start_careplan(system)
    await carecoord(system, "replay", "careplan", "--all")
    async with system.client(careplan, "auditor") as c:
        entries = await eventually(lambda: _when_len(timeline_of(c, person), 1), what="applied at last")
    assert [e["sequence"] for e in entries] == [1]


class ReplayerKilled(Exception):
    pass


async def test_a_replay_interrupted_between_publish_and_ack_loses_nothing_and_its_duplicate_is_harmless(
        system: System):
    intake = await system.start_connected("intake")
    careplan = await start_careplan(system, publishers={"careplan": system.broker_user("careplan")})
    async with system.client(intake, "agency_system") as i:
        person = await register(i)
    [letter] = await parked(system, 1)
    await system.stop(careplan)
    careplan = await start_careplan(system)

    async def killed(_: DeadLetter) -> None:
        raise ReplayerKilled  # after the broker confirmed the replay, before the parked copy is acked

    url = await system.service_amqp_url("careplan")
    async with DeadLetterQueue(url, TOPOLOGY, after_publish=killed) as doomed:
        try:
            await doomed.replay()
        except ReplayerKilled:
            pass
        else:
            raise AssertionError("the replayer should have died between publish and ack")
    async with system.client(careplan, "auditor") as c, system.client(intake, "agency_system") as i:
        await eventually(lambda: _when_len(timeline_of(c, person), 1), what="the replayed copy applied")
        # Nothing lost: the parked copy is still there, so the operator replays again.
        assert [still.message_id for still in await parked(system, 1)] == [letter.message_id]
        await carecoord(system, "replay", "careplan", "--all")
        await parked(system, 0)

        # The duplicate reached careplan before this screening (one active consumer, in order) and
        # changed nothing: the registration is on the timeline once, the screening right after it.
        await i.post(f"/people/{person}/screenings", json={"instrument": "GAD-7", "answers": {"item1": 2}})
        entries = await eventually(lambda: _when_len(timeline_of(c, person), 2), what="the next event")
        assert [(e["sequence"], e["kind"]) for e in entries] == [(1, "person_registered"), (2, "screening_scored")]
        await parked(system, 0)



async def test_an_agency_command_refused_before_its_person_existed_is_recorded_when_replayed(system: System):
    intake = await system.start_connected("intake")
    replies = await (await system.channel()).declare_queue(exclusive=True)
    person = str(Person.create_id(TEST_AGENCY, "late-1"))
    # The agency's screening overtook its registration (sent another way): refused, parked.
    await send(system, {"command": "record_screening", "person_id": person, "instrument": "GAD-7",
                        "answers": {"item1": 2}}, AGENCY_TOKEN, message_id="agency-msg-1", reply_to=replies.name)
    env = {"INTAKE_AMQP_URL": await system.service_amqp_url("intake")}

    async def command(*args: str) -> str:
        result = await asyncio.to_thread(CliRunner().invoke, app, ["dead-letters", *args], env=env)
        assert result.exit_code == 0, (result.output, result.exception)
        return result.stdout

    async def listed():
        listing = await command("list", "intake.commands")
        return listing if "1 message" in listing else None

    listing = await eventually(listed, what="the refused command parked")
    assert "agency-msg-1" in listing and "refused (404): not found" in listing

    async with system.client(intake, "agency_system") as i:
        response = await i.post("/people", json={"agency": TEST_AGENCY, "agency_person_id": "late-1",
                                                 "preferred_name": "Ari"})
        assert response.json()["person_id"] == person
    # The consumer that refused now accepts: the same message, its token and reply address kept.
    assert "replayed agency-msg-1" in await command("replay", "intake.commands", "--id", "agency-msg-1")
    [receipt] = [json.loads(m.body) for m in await system.collect(replies, 1, what="the screening's receipt")]
    assert receipt["person_id"] == person and receipt["result"]["instrument"] == "GAD-7"
    assert "0 messages" in await command("list", "intake.commands")


async def test_a_queue_never_declared_is_named_not_traced(system: System):
    env = {"NOTIFICATIONS_AMQP_URL": await system.service_amqp_url("notifications")}
    result = await asyncio.to_thread(CliRunner().invoke, app, ["dead-letters", "list", "notifications"], env=env)
    assert result.exit_code == 1
    assert "there is no queue notifications.dead-letter: has notifications run on this broker?" in result.stderr

"""`carecoord dead-letters`: what is parked in a consumer's dead-letter queue and why, and sending it
back through the consumer once the cause is fixed (shared/dead_letters.py does the broker's part).

    carecoord dead-letters list SERVICE
    carecoord dead-letters replay SERVICE (--id MESSAGE_ID ... | --all)

SERVICE names the consumed queue: careplan, notifications, intake (careplan's care-team events)
or intake.commands (agency systems' commands). The command connects as that service's broker
user, as the service itself does: <SERVICE>_AMQP_URL, else AMQP_URL (in the compose file, run it
in the service's container: `docker compose run --rm careplan carecoord dead-letters list careplan`);
with neither set, the user `carecoord run` gives the service on the local broker.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from carecoord.progress import RateColumn
from shared import broker_users
from shared.settings import ServiceSettings

if TYPE_CHECKING:
    from shared.dead_letters import DeadLetter
    from shared.topology import ConsumerTopology

# The dead-letter queues' names without ".dead-letter" (tests/unit/test_dead_letters.py checks them
# against the services' topologies, which are imported only when a command runs: `carecoord token`
# should not wait for the services' imports).
QUEUES = ("careplan", "notifications", "intake", "intake.commands")


def topologies() -> dict[str, ConsumerTopology]:
    from services.careplan.consumers import TOPOLOGY as CAREPLAN_EVENTS
    from services.intake.consumers import COMMANDS_TOPOLOGY as INTAKE_COMMANDS
    from services.intake.consumers import TOPOLOGY as INTAKE_TEAM_EVENTS
    from services.notifications.consumers import TOPOLOGY as NOTIFICATIONS_EVENTS

    return {topology.dead_letter_key: topology
            for topology in (CAREPLAN_EVENTS, NOTIFICATIONS_EVENTS, INTAKE_TEAM_EVENTS, INTAKE_COMMANDS)}

app = typer.Typer(name="dead-letters", help="List a consumer's dead letters and their reasons, or replay them.",
                  add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True)

ServiceArgument = Annotated[str, typer.Argument(
    metavar="SERVICE", help=f"the consumed queue: {', '.join(QUEUES)}", show_default=False)]


def topology_of(name: str) -> ConsumerTopology:
    if name not in QUEUES:
        raise typer.BadParameter(f"{name!r} is none of {', '.join(QUEUES)}", param_hint="SERVICE")
    return topologies()[name]


def amqp_url_for(topology: ConsumerTopology, environ: Mapping[str, str]) -> str:
    """The URL the consuming service connects with (as shared/settings.py picks it): replays must
    carry its user, the one the consumer believes a republished message from (shared/dead_letters.py)."""
    service = topology.service
    if own := environ.get(f"{service.upper()}_AMQP_URL") or environ.get("AMQP_URL"):
        return own
    local_broker = ServiceSettings.model_fields["amqp_url"].default
    return broker_users.service_amqp_urls(local_broker, dict(environ))[service]


T = TypeVar("T")


def run_against_broker(work: Coroutine[Any, Any, T], topology: ConsumerTopology) -> T:
    """Run `work`; a broker that cannot be reached or has no such queue ends the command with a
    sentence (never the URL, which holds a password) and status 1."""
    from aiormq.exceptions import AMQPError, ChannelNotFoundEntity

    try:
        return asyncio.run(work)
    except ChannelNotFoundEntity:
        print(f"there is no queue {topology.dead_letter_name}: has {topology.service} run on this broker?",
              file=sys.stderr)
    except (AMQPError, OSError) as error:
        print(f"cannot reach the broker as {topology.service}'s user: {type(error).__name__}", file=sys.stderr)
    raise typer.Exit(1)


def _describe(letter: DeadLetter) -> str:
    kind = letter.event_type or letter.routing_key or "(no type)"
    replays = f"  replayed {letter.replays}x" if letter.replays else ""
    return (f"{letter.message_id or '(no id)'}  {kind}  routing key {letter.routing_key or '-'}  "
            f"failed at {letter.failed_at or '?'}  published by {letter.published_by or '?'}{replays}\n"
            f"    reason: {letter.reason}")


@app.command("list")
def list_command(service: ServiceArgument) -> None:
    """Show every parked message, oldest first, with the reason it was parked (ids and kinds only)."""
    topology = topology_of(service)
    from shared.dead_letters import DeadLetterQueue

    async def listed() -> list[DeadLetter]:
        async with DeadLetterQueue(amqp_url_for(topology, os.environ), topology) as queue:
            return await queue.list()

    letters = run_against_broker(listed(), topology)
    print(f"{topology.dead_letter_name}: {len(letters)} message{'' if len(letters) == 1 else 's'}")
    for letter in letters:
        print(_describe(letter))


def replay_progress(console: Console) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), RateColumn("messages"),
                    TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), console=console)


@app.command("replay")
def replay_command(
    service: ServiceArgument,
    ids: Annotated[list[str] | None, typer.Option("--id", help="a message (event) id to replay; repeatable")] = None,
    replay_all: Annotated[bool, typer.Option("--all", help="replay every parked message, in order")] = False,
) -> None:
    """Send parked messages back through the consumer, in order.

    One that fails again is parked again with its new reason. Each is removed here only after the
    broker confirmed its replay, so an interrupted replay loses nothing."""
    topology = topology_of(service)
    if bool(ids) == replay_all:
        raise typer.BadParameter("give either --id (one or more) or --all", param_hint="--id / --all")
    from shared.dead_letters import DeadLetterQueue, ReplayRefused

    async def replayed(progress: Progress | None) -> tuple[list[DeadLetter], int]:
        report_progress = None
        if progress is not None:
            task = progress.add_task(f"replaying {topology.dead_letter_name}", total=None)
            def report_progress(done: int, total: int) -> None:
                progress.update(task, total=total, completed=done)
        async with DeadLetterQueue(amqp_url_for(topology, os.environ), topology) as queue:
            report = await queue.replay(None if replay_all else set(ids or ()), report_progress)
        return report.replayed, report.left

    try:
        if replay_all:
            with replay_progress(Console(stderr=True)) as progress:
                letters, left = run_against_broker(replayed(progress), topology)
        else:
            letters, left = run_against_broker(replayed(None), topology)
    except ReplayRefused as refused:
        print(f"not replayed: {refused}", flush=True)
        raise typer.Exit(1) from None
    for letter in letters:
        print(f"replayed {letter.message_id or '(no id)'}  {letter.event_type or letter.routing_key}")
    print(f"replayed {len(letters)} to {topology.inbox_name}; {left} left in {topology.dead_letter_name}")
    missing = sorted(set(ids or ()) - {letter.message_id for letter in letters if letter.message_id})
    if missing:
        print(f"not found in {topology.dead_letter_name}: {', '.join(missing)}")
        raise typer.Exit(1)

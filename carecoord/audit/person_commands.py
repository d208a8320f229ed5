"""`carecoord audit` commands on a person's records: the history across the services (and the
one-off indexing of events stored before the person index), the accounting of disclosures, and
careplan's record as it was at a moment."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timezone
from typing import Annotated
from uuid import UUID

import typer
from rich.console import Console

from carecoord.audit.command_options import OperatorName, Purpose, Service, check_service, counted, fail, operator_of, \
    record_or_exit
from carecoord.audit.disclosures import DISCLOSING_SERVICES, FORMATS, AccountingUnavailable, fetch_accounting, render
from carecoord.audit.history import PAGE as HISTORY_PAGE
from carecoord.audit.history import service_histories, service_settings
from carecoord.audit.history_output import FORMATS as HISTORY_FORMATS
from carecoord.audit.history_output import write_history
from carecoord.audit.keys import SERVICES
from carecoord.audit.merging import merge_histories
from carecoord.audit.reads import Read
from carecoord.dev import dev_token, kept_dev_value
from carecoord.progress import positions_progress, report_to
from shared.access_records import Outcome
from shared.disclosures import AUDIT_PURPOSE
from shared.person_index import HistoryFilter

commands = typer.Typer()


@commands.command()
def history(
    person: Annotated[str, typer.Argument(metavar="PERSON", help="the person's id")],
    form: Annotated[str, typer.Option("--format", "-f", help="table, jsonl or csv")] = "table",
    services: Annotated[list[str] | None, typer.Option("--service", "-s", help="only this service's events "
                                                                                "(repeatable; default all three)")] = None,
    since: Annotated[datetime | None, typer.Option(help="events at or after this time (ISO 8601; UTC if no zone)")] = None,
    until: Annotated[datetime | None, typer.Option(help="events before this time")] = None,
    types: Annotated[list[str] | None, typer.Option("--type", "-t", help="only this event type (repeatable): "
                                                                         "Person.ScreeningCompleted or ScreeningCompleted")] = None,
    page_size: Annotated[int, typer.Option(min=1, max=10_000, help="events read per query")] = HISTORY_PAGE,
    operator_name: OperatorName = None,
    purpose: Purpose = AUDIT_PURPOSE,
) -> None:
    """Every event about a person in intake, careplan and notifications, decrypted, in time order
    (an effect never before its cause), with actor, role, service and correlation id. The read is
    recorded in each service read first (and so is listed, with the earlier ones)."""
    try:
        person_id = UUID(person)
    except ValueError:
        raise typer.BadParameter(f"{person!r} is not a person's id (a UUID)", param_hint="PERSON") from None
    if form not in HISTORY_FORMATS:
        raise typer.BadParameter(f"{form!r} is not one of {', '.join(HISTORY_FORMATS)}", param_hint="--format")
    chosen = list(dict.fromkeys(services or SERVICES))
    for service in chosen:
        check_service(service)
    operator = operator_of(operator_name, purpose)
    query = HistoryFilter(person_id, 0, _aware(since), _aware(until), tuple(types or ()), page_size)
    for service in chosen:  # before the snapshots are taken: this read is in what it prints
        record_or_exit(service, operator, "history", [Read(person_id, "audit history")])
    with service_histories(chosen) as histories:
        missing = [service for service, reader in histories.items() if not reader.has_index()]
        if missing:
            fail(f"no person index in {', '.join(missing)} yet: start the service once with this version "
                  f"(and run `carecoord audit index-history` for events stored before)")
        written = write_history(merge_histories({s: r.lines(query) for s, r in histories.items()}),
                                sys.stdout, form)
    print(f"{counted(written, 'event')} about {person_id}", file=sys.stderr)


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=timezone.utc) if moment is not None and moment.tzinfo is None else moment


@commands.command("index-history")
def index_history(service: Service = "intake") -> None:
    """Add the events stored before the person index existed to it (one-off; safe to repeat)."""
    check_service(service)
    # Imported here: it decodes every service's domain events, which the other commands never do.
    from carecoord.audit.backfill import NoIndex, backfill_index

    try:
        with positions_progress(Console(stderr=True)) as progress:
            added = backfill_index(service_settings(service), report_to(progress, f"indexing {service}"))
    except NoIndex as error:
        fail(str(error))
    print(f"indexed {counted(added, 'event')} of {service} stored before the person index")


@commands.command("disclosures")
def disclosures_command(
    person: Annotated[UUID, typer.Argument(help="the person's id")],
    since: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"],
                                                   help="only disclosures on or after this day (YYYY-MM-DD)")] = None,
    output: Annotated[str, typer.Option("--format", "-f", help="json, csv, or fhir (AuditEvents, IHE BALP)")] = "json",
    token: Annotated[str | None, typer.Option(envvar="CARECOORD_TOKEN", show_envvar=True,
                                              help="an auditor's bearer token, or the person's own "
                                                   "(default: a development auditor token)")] = None,
    careplan: Annotated[str, typer.Option(envvar="CAREPLAN_URL", help="careplan's base URL")] =
        DISCLOSING_SERVICES["careplan"],
    notifications: Annotated[str, typer.Option(envvar="NOTIFICATIONS_URL", help="notifications' base URL")] =
        DISCLOSING_SERVICES["notifications"],
    purpose: Purpose = AUDIT_PURPOSE,
) -> None:
    """A person's accounting of disclosures: every disclosure outside the treating team (what
    support persons and outside agencies read through /shared, notices delivered to their
    webhooks or sent on their live stream), with date, recipient, what and why, over 6 years
    (45 CFR 164.528), 3 for substance-use information (42 CFR 2.25). Read from each service over
    HTTP and merged; each service records the read (the token's reader, `--purpose`) before it
    answers."""
    stated = operator_of(None, purpose).purpose
    if output not in FORMATS:
        raise typer.BadParameter(f"{output!r} is not one of {', '.join(FORMATS)}", param_hint="--format")
    if token is None:
        if not (os.environ.get("JWT_DEV_SECRET") or kept_dev_value("JWT_DEV_SECRET")):
            fail("no token: give --token (or CARECOORD_TOKEN), an auditor's or the person's own")
        token = dev_token("auditor")
    try:
        accounting = fetch_accounting(person, token, since.date() if since else None,
                                      {"careplan": careplan, "notifications": notifications}, purpose=stated)
    except AccountingUnavailable as error:
        fail(f"the accounting is incomplete, so none is given: {error}")
    print(render(accounting, output))


@commands.command("as-of")
def as_of(
    person: Annotated[str, typer.Argument(metavar="PERSON", help="the person's id")],
    moment: Annotated[str, typer.Argument(metavar="TIME", help="the moment, ISO 8601 with a zone "
                                                               "(2026-12-01T09:30:00+00:00)")],
    operator_name: OperatorName = None,
    purpose: Purpose = AUDIT_PURPOSE,
) -> None:
    """Print (JSON) careplan's record of a person as it was at TIME: care team, care plan, consent
    directives, safety plan and integrated picture, rebuilt from careplan's events up to TIME, as
    GET /audit/people/{id}/as-of answers. DATABASE_URL and EVENT_CIPHER_KEY as careplan has them.
    The read is recorded in careplan's store before it is printed."""
    operator = operator_of(operator_name, purpose)
    try:
        person_id = UUID(person)
    except ValueError:
        raise typer.BadParameter(f"{person!r} is not a person's id (a UUID)", param_hint="PERSON") from None
    try:
        at = datetime.fromisoformat(moment)
    except ValueError:
        raise typer.BadParameter(f"{moment!r} is not an ISO 8601 time", param_hint="TIME") from None
    if at.tzinfo is None:
        raise typer.BadParameter("give the time with its zone (+00:00 or Z)", param_hint="TIME")
    # Imported here: the other audit commands need none of careplan (see carecoord/cli.py).
    from carecoord.audit.as_of import record_as_of_document
    from carecoord.careplan_settings import NO_KEY, careplan_settings
    from services.careplan.as_of import InTheFuture

    settings = careplan_settings()
    if settings is None:
        fail(NO_KEY)
    assert settings is not None
    try:
        document = record_as_of_document(settings, person_id, at)
    except InTheFuture as error:
        raise typer.BadParameter(str(error), param_hint="TIME") from None
    record_or_exit("careplan", operator, "as-of", [Read(person_id, "record as of a past moment",
                                                   Outcome.ALLOWED if document is not None else Outcome.NOT_FOUND)])
    if document is None:
        fail(f"careplan had not heard of {person_id} by {at.isoformat()}")
    print(json.dumps(document, indent=2))

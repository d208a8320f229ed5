"""`carecoord audit ...`: checkpoint, export, verify and prove a service's event log; a person's
history across the services (`history`, and `index-history` for events stored before the index);
rebuild a person's record in careplan as it was at a moment (`as-of`); a person's accounting of
disclosures (`disclosures`).

Exit status: 0 when all is well, 1 when verification fails (what failed first is printed), 2 when
the command could not do its work (no checkpoint yet, no such record, a malformed key)."""

from __future__ import annotations

import json
import os
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Iterator
from uuid import UUID

import psycopg
import typer
from rich.console import Console

from carecoord.audit.disclosures import DISCLOSING_SERVICES, FORMATS, AccountingUnavailable, fetch_accounting, render
from carecoord.audit.checkpointing import CheckpointRefused, make_checkpoint
from carecoord.audit.history import PAGE as HISTORY_PAGE
from carecoord.audit.history import service_histories, service_settings
from carecoord.audit.history_output import FORMATS as HISTORY_FORMATS
from carecoord.audit.history_output import write_history
from carecoord.audit.keys import SERVICES, AuditSettings
from carecoord.audit.proving import NothingToProve, Target, check_proofs, people_proven, prove, prove_consistency
from carecoord.audit.reads import Operator, Read, ReadNotRecorded, record_reads
from carecoord.audit.merging import merge_histories
from carecoord.audit.store import AuditStore
from carecoord.audit.verification import verify_log
from carecoord.dev import dev_token, kept_dev_value
from carecoord.progress import positions_progress, report_to
from shared.access_records import Outcome
from shared.checkpoints import CheckpointError, NoteSigner
from shared.disclosures import AUDIT_PURPOSE, PURPOSES_OF_USE, UnknownPurpose
from shared.person_index import HistoryFilter

app = typer.Typer(name="audit", help="Checkpoint, verify and prove each service's event log (RFC 9162, C2SP "
                                     "signed checkpoints); a person's history across the services; a record as of a "
                                     "moment; a person's accounting of disclosures.", add_completion=False,
                  pretty_exceptions_enable=False,
                  no_args_is_help=True)

Service = Annotated[str, typer.Option("--service", "-s", help=f"whose log: one of {', '.join(SERVICES)}")]
# Who reads and why, recorded in each service read before anything is printed (carecoord/audit/reads.py).
OperatorName = Annotated[str | None, typer.Option("--as", help="who is reading, recorded with the read "
                                                               "(default: the operating-system user)")]
Purpose = Annotated[str, typer.Option(help="why (an HL7 PurposeOfUse code), recorded with the read: "
                                           + ", ".join(PURPOSES_OF_USE))]


def _check_service(service: str) -> None:
    if service not in SERVICES:
        raise typer.BadParameter(f"{service!r} is not one of {', '.join(SERVICES)}", param_hint="--service")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _fail(message: str, code: int = 2) -> None:
    print(message, file=sys.stderr)
    raise typer.Exit(code)


def _operator(name: str | None, purpose: str) -> Operator:
    try:
        return Operator.of(name, purpose)
    except UnknownPurpose as error:
        raise typer.BadParameter(str(error), param_hint="--purpose") from None


def _recorded(service: str, operator: Operator, command: str, reads: list[Read]) -> None:
    """Record the reads in the service's store, or print nothing and exit 2."""
    try:
        record_reads(service, operator, command, reads)
    except ReadNotRecorded as error:
        _fail(f"this read could not be recorded, so nothing of it is printed: {error}")


@contextmanager
def _store(settings: AuditSettings, service: str, read_only: bool = False) -> Iterator[AuditStore]:
    with psycopg.connect(settings.database_url) as conn:
        if read_only:
            # One snapshot for the whole verification: the passes see the same log.
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
        store = AuditStore(conn, service)
        if not store.has_log():
            _fail(f"there is no event log of {service} in this database ({service}.{service}_events)")
        yield store


@app.command()
def checkpoint(
    service: Service = "intake",
    out: Annotated[Path | None, typer.Option(help="also write the signed checkpoint to this file")] = None,
    every: Annotated[float | None, typer.Option(help="keep making one every so many seconds, until Ctrl-C")] = None,
) -> None:
    """Sign a checkpoint (tree size and root) of the log as it is now, and keep it beside the log."""
    _check_service(service)
    settings = AuditSettings()
    signer = settings.signer()
    while True:
        with _store(settings, service) as store, positions_progress(Console(stderr=True)) as progress:
            try:
                made, new = make_checkpoint(store, signer, settings.origin(service),
                                            report_to(progress, f"checkpointing {service}"))
            except (CheckpointRefused, CheckpointError) as error:
                _fail(f"refused: {error}")
        print(f"{'signed' if new else 'unchanged since'} checkpoint of {service} at size {made.size}", file=sys.stderr)
        if out is not None:
            out.write_text(made.note)
        if every is None:
            print(made.note, end="")
            return
        time.sleep(every)


@app.command()
def export(
    service: Service = "intake",
    out: Annotated[Path | None, typer.Option(help="a directory: every checkpoint, one file each "
                                                  "(<service>-<size>.checkpoint); default: the latest on stdout")] = None,
) -> None:
    """Export signed checkpoints, to be kept where whoever can write the database cannot."""
    _check_service(service)
    with _store(AuditSettings(), service, read_only=True) as store:
        stored = store.checkpoints()
    if not stored:
        _fail("no checkpoint yet: run `carecoord audit checkpoint` first")
    if out is None:
        print(stored[-1].note, end="")
        return
    out.mkdir(parents=True, exist_ok=True)
    for kept in stored:
        (out / f"{service}-{kept.size}.checkpoint").write_text(kept.note)
    print(f"wrote {_count(len(stored), 'checkpoint')} to {out}", file=sys.stderr)


VerifierKey = Annotated[str | None, typer.Option("--key", help="the verifier key (<name>+<hash>+<base64>); "
                                                               "default AUDIT_VERIFIER_KEY, else the signing key's")]


@app.command()
def verify(
    service: Service = "intake",
    checkpoints: Annotated[list[Path] | None, typer.Option("--checkpoint", "-c", help="a checkpoint kept elsewhere "
                                                            "(repeatable); those stored beside the log count too")] = None,
    key: VerifierKey = None,
) -> None:
    """Recompute the log's tree and check it against every checkpoint; name the first record that
    was edited, deleted, inserted or reordered, or that the log was cut back below a checkpoint."""
    _check_service(service)
    settings = AuditSettings()
    notes = {str(path): path.read_text() for path in checkpoints or []}
    try:
        verifier = settings.verifier(key)
    except CheckpointError as error:
        _fail(f"the verifier key: {error}")
    with _store(settings, service, read_only=True) as store, positions_progress(Console(stderr=True)) as progress:
        verdict = verify_log(store, verifier, settings.origin(service), notes,
                             report_to(progress, f"verifying {service}"))
    for problem in verdict.problems:
        print(f"checkpoint refused: {problem}")
    for finding in verdict.findings:
        print(f"FAILED {service}: {finding.sentence()}")
    if not verdict.ok:
        raise typer.Exit(1)
    sizes = verdict.verified_sizes
    covered = f"consistent with {_count(len(sizes), 'checkpoint')} (largest size {max(sizes)})" if sizes else \
        "no checkpoint to verify against"
    print(f"OK {service}: {verdict.log_size} records, {covered}; {verdict.uncovered} records after the last "
          f"checkpoint")


@app.command("prove")
def prove_command(
    target: Annotated[str, typer.Argument(metavar="PERSON|EVENT", help="a person's (aggregate's) id: all its events; "
                                                                       "<id>:<version>: one event; #<position>")],
    service: Service = "intake",
    against: Annotated[Path | None, typer.Option("--checkpoint", "-c", help="prove against this checkpoint "
                                                                           "(default: the latest stored)")] = None,
    key: VerifierKey = None,
    operator_name: OperatorName = None,
    purpose: Purpose = AUDIT_PURPOSE,
) -> None:
    """Print inclusion proofs (JSON) that an outsider checks against a signed checkpoint. Proving
    a person's records is a read of them: recorded in the service's store first (which needs
    its event key), for each person whose records are proven."""
    _check_service(service)
    operator = _operator(operator_name, purpose)
    settings = AuditSettings()
    try:
        parsed = Target.parse(target)
        with _store(settings, service, read_only=True) as store:
            document = prove(store, parsed, settings.verifier(key), settings.origin(service),
                             against.read_text() if against else None)
            people = people_proven(store, document)
    except (ValueError, NothingToProve) as error:  # a malformed target or key, a checkpoint not ours
        _fail(f"cannot prove {target}: {error}")
    _recorded(service, operator, "prove", [Read(person_id, "inclusion proof") for person_id in people])
    print(json.dumps(document, indent=2))


@app.command()
def consistency(
    old: Annotated[Path, typer.Argument(help="a checkpoint kept earlier")],
    service: Service = "intake",
    against: Annotated[Path | None, typer.Option("--checkpoint", "-c", help="the newer checkpoint "
                                                                           "(default: the latest stored)")] = None,
    key: VerifierKey = None,
) -> None:
    """Print a consistency proof (JSON) that a newer checkpoint's tree extends an older one's."""
    _check_service(service)
    settings = AuditSettings()
    try:
        with _store(settings, service, read_only=True) as store:
            document = prove_consistency(store, old.read_text(), settings.verifier(key), settings.origin(service),
                                         against.read_text() if against else None)
    except (ValueError, NothingToProve) as error:
        _fail(f"cannot prove consistency: {error}")
    print(json.dumps(document, indent=2))


@app.command("check-proof")
def check_proof(
    proof: Annotated[Path, typer.Argument(help="the output of `carecoord audit prove`")],
    key: Annotated[str, typer.Option("--key", help="the log's verifier key (<name>+<hash>+<base64>)")],
) -> None:
    """Check a proof as an outsider would: the checkpoints' signatures, then each leaf's path to the
    signed root (inclusion), or the old root and the new one from one path (consistency)."""
    try:
        from shared.checkpoints import NoteVerifier

        problems = check_proofs(proof.read_text(), NoteVerifier.from_vkey(key))
    except (ValueError, KeyError) as error:
        _fail(f"not a proof document signed by that key: {error}", 1)
    for problem in problems:
        print(f"FAILED: {problem}")
    if problems:
        raise typer.Exit(1)
    print("OK: the newer tree extends the older one" if "consistency_path" in proof.read_text()
          else "OK: every record is in the signed tree")


@app.command()
def key(name: Annotated[str, typer.Option(help="the key's name in signature lines")] = "carecoord-audit") -> None:
    """Print a new signing key (AUDIT_SIGNING_KEY) and, on stderr, its verifier key."""
    signer = NoteSigner.generate(name)
    print(signer.text())
    print(f"verifier key (AUDIT_VERIFIER_KEY): {signer.verifier().vkey()}", file=sys.stderr)


@app.command()
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
        _check_service(service)
    operator = _operator(operator_name, purpose)
    query = HistoryFilter(person_id, 0, _aware(since), _aware(until), tuple(types or ()), page_size)
    for service in chosen:  # before the snapshots are taken: this read is in what it prints
        _recorded(service, operator, "history", [Read(person_id, "audit history")])
    with service_histories(chosen) as histories:
        missing = [service for service, reader in histories.items() if not reader.has_index()]
        if missing:
            _fail(f"no person index in {', '.join(missing)} yet: start the service once with this version "
                  f"(and run `carecoord audit index-history` for events stored before)")
        written = write_history(merge_histories({s: r.lines(query) for s, r in histories.items()}),
                                sys.stdout, form)
    print(f"{_count(written, 'event')} about {person_id}", file=sys.stderr)


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=timezone.utc) if moment is not None and moment.tzinfo is None else moment


@app.command("index-history")
def index_history(service: Service = "intake") -> None:
    """Add the events stored before the person index existed to it (one-off; safe to repeat)."""
    _check_service(service)
    # Imported here: it decodes every service's domain events, which the other commands never do.
    from carecoord.audit.backfill import NoIndex, backfill_index

    try:
        with positions_progress(Console(stderr=True)) as progress:
            added = backfill_index(service_settings(service), report_to(progress, f"indexing {service}"))
    except NoIndex as error:
        _fail(str(error))
    print(f"indexed {_count(added, 'event')} of {service} stored before the person index")


@app.command("disclosures")
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
    stated = _operator(None, purpose).purpose
    if output not in FORMATS:
        raise typer.BadParameter(f"{output!r} is not one of {', '.join(FORMATS)}", param_hint="--format")
    if token is None:
        if not (os.environ.get("JWT_DEV_SECRET") or kept_dev_value("JWT_DEV_SECRET")):
            _fail("no token: give --token (or CARECOORD_TOKEN), an auditor's or the person's own")
        token = dev_token("auditor")
    try:
        accounting = fetch_accounting(person, token, since.date() if since else None,
                                      {"careplan": careplan, "notifications": notifications}, purpose=stated)
    except AccountingUnavailable as error:
        _fail(f"the accounting is incomplete, so none is given: {error}")
    print(render(accounting, output))


@app.command("as-of")
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
    operator = _operator(operator_name, purpose)
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
        _fail(NO_KEY)
    assert settings is not None
    try:
        document = record_as_of_document(settings, person_id, at)
    except InTheFuture as error:
        raise typer.BadParameter(str(error), param_hint="TIME") from None
    _recorded("careplan", operator, "as-of", [Read(person_id, "record as of a past moment",
                                                   Outcome.ALLOWED if document is not None else Outcome.NOT_FOUND)])
    if document is None:
        _fail(f"careplan had not heard of {person_id} by {at.isoformat()}")
    print(json.dumps(document, indent=2))

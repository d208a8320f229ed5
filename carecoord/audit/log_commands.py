"""`carecoord audit` commands on a service's event log: sign checkpoints of it, export them, verify
the log against them, prove records and consistency to an outsider, check such proofs, make a key."""

from __future__ import annotations

import json
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Iterator

import psycopg
import typer
from rich.console import Console

from carecoord.audit.checkpointing import CheckpointRefused, make_checkpoint
from carecoord.audit.command_options import OperatorName, Purpose, Service, check_service, counted, fail, operator_of, \
    record_or_exit
from carecoord.audit.keys import AuditSettings
from carecoord.audit.proving import NothingToProve, Target, check_proofs, people_proven, prove, prove_consistency
from carecoord.audit.reads import Read
from carecoord.audit.store import AuditStore
from carecoord.audit.verification import verify_log
from carecoord.progress import positions_progress, report_to
from shared.checkpoints import CheckpointError, NoteSigner
from shared.disclosures import AUDIT_PURPOSE

commands = typer.Typer()


@contextmanager
def _store(settings: AuditSettings, service: str, read_only: bool = False) -> Iterator[AuditStore]:
    with psycopg.connect(settings.database_url) as conn:
        if read_only:
            # One snapshot for the whole verification: the passes see the same log.
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
        store = AuditStore(conn, service)
        if not store.has_log():
            fail(f"there is no event log of {service} in this database ({service}.{service}_events)")
        yield store


@commands.command()
def checkpoint(
    service: Service = "intake",
    out: Annotated[Path | None, typer.Option(help="also write the signed checkpoint to this file")] = None,
    every: Annotated[float | None, typer.Option(help="keep making one every so many seconds, until Ctrl-C")] = None,
) -> None:
    """Sign a checkpoint (tree size and root) of the log as it is now, and keep it beside the log."""
    check_service(service)
    settings = AuditSettings()
    signer = settings.signer()
    while True:
        with _store(settings, service) as store, positions_progress(Console(stderr=True)) as progress:
            try:
                made, new = make_checkpoint(store, signer, settings.origin(service),
                                            report_to(progress, f"checkpointing {service}"))
            except (CheckpointRefused, CheckpointError) as error:
                fail(f"refused: {error}")
        print(f"{'signed' if new else 'unchanged since'} checkpoint of {service} at size {made.size}", file=sys.stderr)
        if out is not None:
            out.write_text(made.note)
        if every is None:
            print(made.note, end="")
            return
        time.sleep(every)


@commands.command()
def export(
    service: Service = "intake",
    out: Annotated[Path | None, typer.Option(help="a directory: every checkpoint, one file each "
                                                  "(<service>-<size>.checkpoint); default: the latest on stdout")] = None,
) -> None:
    """Export signed checkpoints, to be kept where whoever can write the database cannot."""
    check_service(service)
    with _store(AuditSettings(), service, read_only=True) as store:
        stored = store.checkpoints()
    if not stored:
        fail("no checkpoint yet: run `carecoord audit checkpoint` first")
    if out is None:
        print(stored[-1].note, end="")
        return
    out.mkdir(parents=True, exist_ok=True)
    for kept in stored:
        (out / f"{service}-{kept.size}.checkpoint").write_text(kept.note)
    print(f"wrote {counted(len(stored), 'checkpoint')} to {out}", file=sys.stderr)


VerifierKey = Annotated[str | None, typer.Option("--key", help="the verifier key (<name>+<hash>+<base64>); "
                                                               "default AUDIT_VERIFIER_KEY, else the signing key's")]


@commands.command()
def verify(
    service: Service = "intake",
    checkpoints: Annotated[list[Path] | None, typer.Option("--checkpoint", "-c", help="a checkpoint kept elsewhere "
                                                            "(repeatable); those stored beside the log count too")] = None,
    key: VerifierKey = None,
) -> None:
    """Recompute the log's tree and check it against every checkpoint; name the first record that
    was edited, deleted, inserted or reordered, or that the log was cut back below a checkpoint."""
    check_service(service)
    settings = AuditSettings()
    notes = {str(path): path.read_text() for path in checkpoints or []}
    try:
        verifier = settings.verifier(key)
    except CheckpointError as error:
        fail(f"the verifier key: {error}")
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
    covered = f"consistent with {counted(len(sizes), 'checkpoint')} (largest size {max(sizes)})" if sizes else \
        "no checkpoint to verify against"
    print(f"OK {service}: {verdict.log_size} records, {covered}; {verdict.uncovered} records after the last "
          f"checkpoint")


@commands.command("prove")
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
    check_service(service)
    operator = operator_of(operator_name, purpose)
    settings = AuditSettings()
    try:
        parsed = Target.parse(target)
        with _store(settings, service, read_only=True) as store:
            document = prove(store, parsed, settings.verifier(key), settings.origin(service),
                             against.read_text() if against else None)
            people = people_proven(store, document)
    except (ValueError, NothingToProve) as error:  # a malformed target or key, a checkpoint not ours
        fail(f"cannot prove {target}: {error}")
    record_or_exit(service, operator, "prove", [Read(person_id, "inclusion proof") for person_id in people])
    print(json.dumps(document, indent=2))


@commands.command()
def consistency(
    old: Annotated[Path, typer.Argument(help="a checkpoint kept earlier")],
    service: Service = "intake",
    against: Annotated[Path | None, typer.Option("--checkpoint", "-c", help="the newer checkpoint "
                                                                           "(default: the latest stored)")] = None,
    key: VerifierKey = None,
) -> None:
    """Print a consistency proof (JSON) that a newer checkpoint's tree extends an older one's."""
    check_service(service)
    settings = AuditSettings()
    try:
        with _store(settings, service, read_only=True) as store:
            document = prove_consistency(store, old.read_text(), settings.verifier(key), settings.origin(service),
                                         against.read_text() if against else None)
    except (ValueError, NothingToProve) as error:
        fail(f"cannot prove consistency: {error}")
    print(json.dumps(document, indent=2))


@commands.command("check-proof")
def check_proof(
    proof: Annotated[Path, typer.Argument(help="the output of `carecoord audit prove`", exists=True,
                                          dir_okay=False, readable=True)],
    key: Annotated[str, typer.Option("--key", help="the log's verifier key (<name>+<hash>+<base64>)")],
) -> None:
    """Check a proof as an outsider would: the checkpoints' signatures, then each leaf's path to the
    signed root (inclusion), or the old root and the new one from one path (consistency)."""
    try:
        from shared.checkpoints import NoteVerifier

        problems = check_proofs(proof.read_text(), NoteVerifier.from_vkey(key))
    except (ValueError, KeyError) as error:
        fail(f"not a proof document signed by that key: {error}", 1)
    for problem in problems:
        print(f"FAILED: {problem}")
    if problems:
        raise typer.Exit(1)
    print("OK: the newer tree extends the older one" if "consistency_path" in proof.read_text()
          else "OK: every record is in the signed tree")


@commands.command()
def key(name: Annotated[str, typer.Option(help="the key's name in signature lines")] = "carecoord-audit") -> None:
    """Print a new signing key (AUDIT_SIGNING_KEY) and, on stderr, its verifier key."""
    signer = NoteSigner.generate(name)
    print(signer.text())
    print(f"verifier key (AUDIT_VERIFIER_KEY): {signer.verifier().vkey()}", file=sys.stderr)

"""What the `carecoord audit` commands share: the options naming a service and who reads why, and
how a command refuses, fails and records its reads.

Exit status: 0 when all is well, 1 when verification fails (what failed first is printed), 2 when
the command could not do its work (no checkpoint yet, no such record, a malformed key)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from carecoord.audit.keys import SERVICES
from carecoord.audit.reads import Operator, Read, ReadNotRecorded, record_reads
from shared.disclosures import PURPOSES_OF_USE, UnknownPurpose

Service = Annotated[str, typer.Option("--service", "-s", help=f"whose log: one of {', '.join(SERVICES)}")]
# Who reads and why, recorded in each service read before anything is printed (carecoord/audit/reads.py).
OperatorName = Annotated[str | None, typer.Option("--as", help="who is reading, recorded with the read "
                                                               "(default: the operating-system user)")]
Purpose = Annotated[str, typer.Option(help="why (an HL7 PurposeOfUse code), recorded with the read: "
                                           + ", ".join(PURPOSES_OF_USE))]


def check_service(service: str) -> None:
    if service not in SERVICES:
        raise typer.BadParameter(f"{service!r} is not one of {', '.join(SERVICES)}", param_hint="--service")


def counted(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def fail(message: str, code: int = 2) -> None:
    print(message, file=sys.stderr)
    raise typer.Exit(code)


def operator_of(name: str | None, purpose: str) -> Operator:
    try:
        return Operator.of(name, purpose)
    except UnknownPurpose as error:
        raise typer.BadParameter(str(error), param_hint="--purpose") from None


def record_or_exit(service: str, operator: Operator, command: str, reads: list[Read]) -> None:
    """Record the reads in the service's store, or print nothing and exit 2."""
    try:
        record_reads(service, operator, command, reads)
    except ReadNotRecorded as error:
        fail(f"this read could not be recorded, so nothing of it is printed: {error}")

"""An auditor's reads through `carecoord audit`, recorded in each service's own store before
anything is printed.

`audit history`, `audit as-of` and `audit prove` read people's records from the services'
databases directly, not through their APIs, so no service sees those reads: the command records
them itself, as `AccessRecord`s written with the services' own recording code
(`shared.access_recording.record_accesses`) into the store of each service it read, with that
service's database and event key (`<SERVICE>_DATABASE_URL`, `<SERVICE>_EVENT_CIPHER_KEY`, else
`DATABASE_URL`, `EVENT_CIPHER_KEY`: the settings `audit history` already reads with). Each service
keeps owning its data: intake's store records the reads of intake's records, and so on. The
records are indexed by person like every record, so the person's history lists them.

The reader is the operator (`--as NAME`, else the operating-system user) in the `auditor` role,
the purpose `--purpose` (an HL7 PurposeOfUse code, `HCOMPL` compliance by default), the route the
command (`carecoord audit history`), one correlation id per run. If a record cannot be written
the command prints nothing of what it read and exits 2 (`ReadNotRecorded`).

(`audit disclosures` reads over HTTP with the caller's token, so the services record its reads
themselves, with the `--purpose` it sends as `X-Purpose-Of-Use`.)
"""

from __future__ import annotations

import getpass
from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID, uuid4

from carecoord.audit.history import service_settings
from shared.access import Role
from shared.access_recording import record_accesses
from shared.access_records import Access, Outcome
from shared.disclosures import AUDIT_PURPOSE, purpose_of_use
from shared.domain import Provenance
from shared.eventstore import ServiceApplication

COMMAND_ROUTE = "carecoord audit {command}"
# One connection, a short wait for it, and no DDL: the command writes into a service's tables and
# never creates or changes them (a service that never started has no store to record in).
RECORDING_ENV = {"POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "0", "POSTGRES_CONNECT_TIMEOUT": "5",
                 "CREATE_TABLE": "no"}


class ReadNotRecorded(Exception):
    """A read could not be recorded: nothing of it may be printed."""


@dataclass(frozen=True)
class Operator:
    """Who runs the command, and why: the reader every record of this run names."""

    name: str
    purpose: str
    correlation_id: str = field(default_factory=lambda: f"carecoord-audit-{uuid4()}")

    @classmethod
    def of(cls, name: str | None, purpose: str | None) -> Operator:
        """`--as` (else the operating-system user) and `--purpose` (raises UnknownPurpose)."""
        return cls(name=(name or getpass.getuser()).strip(), purpose=purpose_of_use(purpose or AUDIT_PURPOSE))

    def provenance(self) -> Provenance:
        return Provenance(actor_id=self.name, actor_role=Role.AUDITOR.value, correlation_id=self.correlation_id)


@dataclass(frozen=True)
class Read:
    """One read of one person's record in one service, as the command is about to show it."""

    person_id: UUID
    resource: str  # the same stable name the service's endpoint records ("audit history")
    outcome: Outcome = Outcome.ALLOWED

    @property
    def status(self) -> int:
        return 200 if self.outcome is Outcome.ALLOWED else 404  # what the endpoint would have answered


def record_reads(service: str, operator: Operator, command: str, reads: Sequence[Read]) -> list[UUID]:
    """Record these reads in `service`'s own store, in one transaction; the records' ids, or
    ReadNotRecorded (whatever went wrong: no key, no database, no tables, a refused write)."""
    if not reads:
        return []
    route = COMMAND_ROUTE.format(command=command)
    accesses = [Access(person_id=read.person_id, resource=read.resource, route=route, outcome=read.outcome,
                       status=read.status, purpose=operator.purpose, provenance=operator.provenance())
                for read in reads]
    try:
        application = _recording_application(service)
    except Exception as error:  # noqa: BLE001 - a missing key or an unreachable database alike
        raise ReadNotRecorded(f"{service}: {type(error).__name__}: {error}") from error
    try:
        return record_accesses(application, accesses)
    except Exception as error:  # noqa: BLE001 - whatever the store said, nothing is printed
        raise ReadNotRecorded(f"{service}: {type(error).__name__}: {error}") from error
    finally:
        application.close()


def _recording_application(service: str) -> ServiceApplication:
    """The service's event store as its application opens it (its tables, its key, its person
    index), with none of its domain: access records are all this writes."""
    settings = service_settings(service)
    # eventsourcing names the tables after the application (`Intake` -> intake.intake_events).
    application_class = type(f"{service.capitalize()}Reads", (ServiceApplication,), {"name": service.capitalize()})
    return application_class(env={**settings.eventsourcing_env(), **RECORDING_ENV})

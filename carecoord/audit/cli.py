"""`carecoord audit ...`: checkpoint, export, verify and prove a service's event log
(log_commands.py); a person's history across the services (`history`, and `index-history` for
events stored before the index), rebuild a person's record in careplan as it was at a moment
(`as-of`), a person's accounting of disclosures (`disclosures`) (person_commands.py). Exit statuses:
command_options.py."""

from __future__ import annotations

import typer

from carecoord.audit import log_commands, person_commands

app = typer.Typer(name="audit", help="Checkpoint, verify and prove each service's event log (RFC 9162, C2SP "
                                     "signed checkpoints); a person's history across the services; a record as of a "
                                     "moment; a person's accounting of disclosures.", add_completion=False,
                  pretty_exceptions_enable=False,
                  no_args_is_help=True)
# Without a name, their commands are this app's own, listed in this order.
app.add_typer(log_commands.commands)
app.add_typer(person_commands.commands)

"""`carecoord`: run the whole system locally, or play the demo scenario against it.

    carecoord run [--demo] [--reset-demo-database]
                             start intake, careplan and notifications; Ctrl-C stops all three
                             (the reset first drops the local demo database and creates it empty)
    carecoord demo           an agency registers a person and records a screening; show what
                             careplan and notifications now know
    carecoord docs           write the OpenAPI and AsyncAPI documents under docs/
    carecoord token ROLE     print a development token (HS256, JWT_DEV_SECRET) for a role
    carecoord key            print a new key for encrypting events at rest (EVENT_CIPHER_KEY)
    carecoord rebuild-picture [--from-scratch]
                             rebuild careplan's integrated pictures from its events (safe while
                             the services run; a stopped rebuild resumes where it stopped)
    carecoord audit ...      checkpoint, export, verify and prove each service's event log;
                             `audit as-of PERSON TIME`: careplan's record of a person as it was then;
                             `audit disclosures PERSON`: the person's accounting of disclosures
    carecoord dead-letters list SERVICE
    carecoord dead-letters replay SERVICE (--id ID ... | --all)
                             what a consumer parked and why; send it back once the cause is fixed
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from carecoord.audit.cli import app as audit_app
from carecoord import dead_letters
from carecoord.demo import play_demo
from carecoord.dev import dev_token
from carecoord.run import run_all
from shared.access import Role
from shared.cipher import new_key
from shared.eventstore import ensure_database
from shared.settings import ServiceSettings

# Tracebacks stay plain: rich's, with local variables, would print secrets and tokens.
app = typer.Typer(name="carecoord", help="Run the whole system locally, or play the demo scenario against it.",
                  add_completion=False, pretty_exceptions_enable=False)
app.add_typer(audit_app)

app.add_typer(dead_letters.app)


def _exit_with(code: int) -> None:
    if code:
        raise typer.Exit(code)


@app.command()
def run(demo: Annotated[bool, typer.Option("--demo", help="play the demo scenario once they are ready")] = False,
        reset_demo_database: Annotated[bool, typer.Option(
            "--reset-demo-database", help="first drop DATABASE_URL's database, with every event in it, and create "
                                          "it empty (only a local one holding nothing but carecoord's tables)")] = False,
        ) -> None:
    """Run all three services until Ctrl-C.

    Stops first, starting nothing (exit status 2), if the database holds events that the event key
    cannot decrypt (written with another clone's development key, say): the message says what to do."""
    _exit_with(run_all(with_demo=demo, reset_database=reset_demo_database))


@app.command()
def demo() -> None:
    """Play the demo scenario against running services."""
    _exit_with(play_demo())


@app.command()
def docs() -> None:
    """Write each service's OpenAPI and AsyncAPI documents under docs/."""
    from carecoord.docs import write_docs  # see rebuild_picture_command

    settings = ServiceSettings()
    ensure_database(settings.database_url)
    for path in write_docs(settings.database_url):
        print(f"wrote {path}")


@app.command()
def token(
    role: Annotated[Role, typer.Argument(help="the role the token carries")],
    subject: Annotated[str | None, typer.Option(help="the user id (default: dev-<role>)")] = None,
    agency: Annotated[str | None, typer.Option(help="for agency_system: the agency")] = None,
    person_id: Annotated[str | None, typer.Option(help="for person: who they are")] = None,
    minutes: Annotated[int, typer.Option(help="how long the token is valid")] = 60,
    app_name: Annotated[str | None, typer.Option("--app", help="for care_team_app: which app")] = None,
) -> None:
    """Print a development token for a role (and nothing else on stdout)."""
    print(dev_token(role.value, subject=subject, agency=agency, person_id=person_id, minutes=minutes, app=app_name))


@app.command()
def key() -> None:
    """Print a new EVENT_CIPHER_KEY (256-bit, base64)."""
    print(new_key())


@app.command("rebuild-picture")
def rebuild_picture_command(
    from_scratch: Annotated[bool, typer.Option("--from-scratch", help="start over, even if a rebuild was "
                                                                      "stopped half-way")] = False,
) -> None:
    """Rebuild careplan's integrated pictures from its events (safe while the services run).

    A progress bar on stderr shows the positions replayed, their rate and the time left. A rebuild
    that was stopped (Ctrl-C, killed) goes on from where it stopped when started again."""
    # Building the services takes a second of imports; `carecoord token`, often run inside
    # `$(...)`, should not wait for them.
    from carecoord.rebuild import rebuild_picture

    _exit_with(rebuild_picture(from_scratch))


def main(argv: list[str] | None = None) -> int:
    """The console script; the command's exit status (a SystemExit with a message propagates)."""
    try:
        app(args=argv, prog_name="carecoord")
    except SystemExit as stop:
        if stop.code is None or isinstance(stop.code, int):
            return stop.code or 0
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())

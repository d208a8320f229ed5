"""The `carecoord` command as a user types it: tokens the services accept, keys the cipher takes,
every command in the help, and a progress bar that shows rate and time left."""

from __future__ import annotations

import base64
import io
from uuid import uuid4

import pytest
from rich.console import Console
from typer.testing import CliRunner

from carecoord.cli import app
from carecoord.rebuild import picture_progress, report_to
from shared.access import Role
from shared.settings import ServiceSettings
from shared.tokens import TokenVerifier

SECRET = "carecoord-cli-unit-tests-hs256-secret"


@pytest.fixture
def runner(monkeypatch, tmp_path) -> CliRunner:
    monkeypatch.chdir(tmp_path)  # any .dev/ the command keeps stays out of the worktree
    monkeypatch.setenv("JWT_DEV_SECRET", SECRET)
    return CliRunner()


def test_token_prints_only_a_token_the_services_accept(runner):
    person = uuid4()
    result = runner.invoke(app, ["token", "person", "--subject", "jordan", "--person-id", str(person)])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert result.stdout == token + "\n"  # `$(carecoord token ...)` takes all of stdout
    principal = TokenVerifier(ServiceSettings().token_settings()).verify(token)
    assert (principal.subject, principal.role, principal.person_id) == ("jordan", Role.PERSON, person)


def test_an_agency_system_token_names_the_demo_agency_unless_told(runner):
    default = runner.invoke(app, ["token", "agency_system"]).stdout.strip()
    named = runner.invoke(app, ["token", "agency_system", "--agency", "northside"]).stdout.strip()
    verifier = TokenVerifier(ServiceSettings().token_settings())
    assert verifier.verify(default).agency == "riverside-community-health"
    assert verifier.verify(default).subject == "dev-agency_system"
    assert verifier.verify(named).agency == "northside"


def test_token_refuses_a_role_that_does_not_exist(runner):
    result = runner.invoke(app, ["token", "superuser"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "superuser" in result.stderr


def test_key_prints_a_256_bit_base64_key(runner):
    result = runner.invoke(app, ["key"])
    assert result.exit_code == 0
    assert len(base64.b64decode(result.stdout.strip(), validate=True)) == 32


def test_help_lists_every_command(runner):
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("run", "demo", "docs", "token", "key", "rebuild-picture", "audit"):
        assert f" {command} " in result.stdout, command


def test_rebuild_progress_shows_positions_rate_and_time_left():
    now = [0.0]
    shown = io.StringIO()
    console = Console(file=shown, width=120, force_terminal=False)
    progress = picture_progress(console, get_time=lambda: now[0])
    report = report_to(progress, "rebuilding pictures")
    for second, position in enumerate((0, 200, 400)):  # a batch of 200 positions a second
        now[0] = float(second)
        report(position, 1000)
    task = progress.tasks[0]
    assert (task.completed, task.total) == (400, 1000)
    console.print(progress.get_renderable())
    middle = shown.getvalue()
    assert "rebuilding pictures" in middle and " 400/1000 " in middle
    assert "200 positions/s" in middle
    assert "eta 0:00:03" in middle  # 600 positions to go
    report(1000, 1000)
    assert progress.finished


def test_audit_key_prints_a_signing_key_and_its_verifier_key(runner):
    from shared.checkpoints import NoteSigner, NoteVerifier

    result = runner.invoke(app, ["audit", "key", "--name", "county-audit"])
    assert result.exit_code == 0
    signer = NoteSigner.from_text(result.stdout)
    vkey = result.stderr.strip().rsplit(" ", 1)[1]
    assert NoteVerifier.from_vkey(vkey).vkey() == vkey
    assert signer.verifier().vkey() == vkey and vkey.startswith("county-audit+")


def test_a_resumed_rebuilds_progress_counts_only_its_own_work():
    now = [0.0]
    shown = io.StringIO()
    console = Console(file=shown, width=120, force_terminal=False)
    progress = picture_progress(console, get_time=lambda: now[0])
    report = report_to(progress, "rebuilding pictures")
    for second, position in enumerate((600, 700, 800)):  # resumed at 600: 100 positions a second since
        now[0] = float(second)
        report(position, 1000)
    console.print(progress.get_renderable())
    assert " 800/1000 " in shown.getvalue() and "100 positions/s" in shown.getvalue()
    assert "eta 0:00:02" in shown.getvalue()


def test_audit_as_of_refuses_what_is_not_a_person_or_a_moment_with_its_zone(runner):
    for argv, named in ((["not-a-uuid", "2026-12-01T09:30:00+00:00"], "PERSON"),
                        ([str(uuid4()), "yesterday"], "TIME"),
                        ([str(uuid4()), "2026-12-01T09:30:00"], "TIME")):
        result = runner.invoke(app, ["audit", "as-of", *argv])
        assert result.exit_code == 2, result.output
        assert named in result.stderr, result.stderr

"""Who may be sent a notification about a person, decided from the team and consent as they are
at the moment of sending (services/notifications/domain/disclosure.py), and the consent directives
notifications follows from intake's events."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest

from services.notifications.application import NotificationsApplication
from services.notifications.domain.disclosure import TEAM_ONLY, TEAM_ONLY_PART2, refusal
from shared.access import Principal, Role
from shared.consent import ConsentDirective
from shared.contracts.intake import ConsentGrantedV1, ConsentRevokedV1
from shared.part2 import Program
from tests.unit.conftest import IN_MEMORY
from tests.unit.test_following import upstream

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)
CLINICIAN = Principal("casey", Role.CLINICIAN)
AUNT = Principal("aunt-ro", Role.SUPPORT_PERSON)
CLINIC = Principal("clinic-app", Role.OUTSIDE_AGENCY, agency="eastside-clinic")


def shares(recipient_kind: str, recipient_id: str | None, *categories: str, revoked_at=None) -> ConsentDirective:
    return ConsentDirective("d1", recipient_kind, recipient_id, categories, NOW - timedelta(days=1), None, revoked_at)


def test_staff_on_the_team_receive_every_category_and_a_member_who_left_receives_nothing():
    team = {"casey": "clinician"}
    assert refusal(CLINICIAN, "substance_use", team, [], NOW) is None
    assert refusal(CLINICIAN, TEAM_ONLY, team, [], NOW) is None
    assert refusal(CLINICIAN, "crisis", {}, [], NOW) == "not on the person's care team"


def test_a_support_person_receives_only_what_a_directive_shares_with_them_now():
    directive = shares("named_person", "aunt-ro", "crisis")
    assert refusal(AUNT, "crisis", {}, [directive], NOW) is None
    assert "mental_health" in refusal(AUNT, "mental_health", {}, [directive], NOW)
    assert refusal(AUNT, "crisis", {}, [shares("named_person", "someone-else", "crisis")], NOW) is not None
    revoked = shares("named_person", "aunt-ro", "crisis", revoked_at=NOW - timedelta(minutes=1))
    assert refusal(AUNT, "crisis", {}, [revoked], NOW) is not None


def test_substance_use_goes_outside_the_team_only_when_a_directive_names_it():
    general = shares("outside_agency", "eastside-clinic", "general", "mental_health", "crisis")
    assert "substance_use" in refusal(CLINIC, "substance_use", {}, [general], NOW)
    named = shares("outside_agency", "eastside-clinic", "substance_use")
    assert refusal(CLINIC, "substance_use", {}, [named], NOW) is None


def test_team_only_notices_and_non_care_roles_are_never_sent_outside():
    everything = shares("named_person", "aunt-ro", "general", "mental_health", "substance_use", "crisis")
    assert refusal(AUNT, TEAM_ONLY, {}, [everything], NOW) is not None
    assert refusal(Principal("audit", Role.AUDITOR), "general", {"audit": "auditor"}, [], NOW) is not None
    assert refusal(Principal("sys", Role.AGENCY_SYSTEM, agency="a"), "general", {}, [], NOW) is not None


HOUSING = Principal("hana", Role.CARE_COORDINATOR)
SPANNING_TEAM = {"casey": "clinician", "hana": "care_coordinator"}
PROGRAMS = {"casey": Program("recovery-clinic", "part2"), "hana": Program("housing-first", "other")}


@pytest.mark.parametrize(("recipient", "category", "directives", "sent"), [
    (HOUSING, "substance_use", [], False),  # another program, no consent
    (HOUSING, TEAM_ONLY_PART2, [], False),  # a Part 2 program's medication note or decision
    (HOUSING, "substance_use", [shares("program", "housing-first", "substance_use")], True),
    (HOUSING, TEAM_ONLY_PART2, [shares("care_team", None, "substance_use")], True),
    (HOUSING, "substance_use", [shares("program", "primary-care", "substance_use")], False),
    (HOUSING, "crisis", [], True),  # a crisis is never withheld
    (HOUSING, TEAM_ONLY, [], True),
    (HOUSING, "mental_health", [], True),
    (CLINICIAN, "substance_use", [], True),  # in the Part 2 program
    (CLINICIAN, TEAM_ONLY_PART2, [], True),
    (AUNT, TEAM_ONLY_PART2, [shares("named_person", "aunt-ro", "substance_use")], False),  # never outside the team
])
def test_within_a_team_spanning_programs_substance_use_reaches_other_programs_by_consent(
        recipient, category, directives, sent):
    assert (refusal(recipient, category, SPANNING_TEAM, directives, NOW, PROGRAMS) is None) is sent


@pytest.fixture
def notifications():
    application = NotificationsApplication(env=IN_MEMORY)
    yield application
    application.close()


def test_notifications_follows_consent_and_a_revocation_takes_effect_from_its_time(notifications):
    person = uuid4()
    granted, revoked = upstream(person, 1), upstream(person, 2)
    grant = ConsentGrantedV1(directive_id="d1", recipient_kind="named_person", recipient_id="aunt-ro",
                             categories=["crisis"], starts_at=NOW - timedelta(days=2), expires_at=None)
    notifications.apply_change(notifications.consent_noted(granted, grant))
    assert notifications.refusal(AUNT, person, "crisis", NOW) is None

    revocation = ConsentRevokedV1(directive_id="d1", revoked_at=NOW)
    notifications.apply_change(notifications.consent_revocation_noted(revoked, revocation))
    assert notifications.refusal(AUNT, person, "crisis", NOW - timedelta(seconds=1)) is None
    assert notifications.refusal(AUNT, person, "crisis", NOW) is not None


def test_an_unknown_person_is_refused_with_a_reason(notifications):
    assert notifications.refusal(CLINICIAN, uuid4(), "general", NOW) == "no such person is known here"

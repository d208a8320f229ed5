"""Who may do what to whose record. Plain Python: the HTTP layer turns refusals into 403 / 404.

A staff member sees the people whose care team they are on; an auditor reads everything and changes
nothing; an agency system publishes to intake and reads only what it registered; the person served
reads their own record. Refusing someone outside the team says "not found" (404), so that a record's
existence does not leak; refusing a known reader a right they lack names the right (403).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID


class Role(StrEnum):
    AGENCY_SYSTEM = "agency_system"
    CARE_COORDINATOR = "care_coordinator"
    CLINICIAN = "clinician"
    PRESCRIBER = "prescriber"
    PEER_SPECIALIST = "peer_specialist"
    CASE_MANAGER = "case_manager"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    PERSON = "person"
    # Outside the care team: they see only what the person's consent directives share with them.
    SUPPORT_PERSON = "support_person"  # family or a natural support the person names
    OUTSIDE_AGENCY = "outside_agency"  # another agency (its token names it: `agency`)
    # Software the care team uses (its token names it: `app`): it holds the webhook subscriptions
    # a supervisor registered for it, and receives what the members it acts for may be sent.
    CARE_TEAM_APP = "care_team_app"


STAFF = frozenset({Role.CARE_COORDINATOR, Role.CLINICIAN, Role.PRESCRIBER, Role.PEER_SPECIALIST,
                   Role.CASE_MANAGER, Role.SUPERVISOR})


class Right(StrEnum):
    REGISTER_PERSON = "register people"
    AMEND_PERSON = "amend a person's details"
    RECORD_SCREENING = "record screenings"
    RECORD_CRISIS_CONTACT = "record crisis contacts"
    RECORD_CONSENT = "record consent directives"
    MERGE_PEOPLE = "merge duplicate records"
    READ_INTAKE_RECORD = "read intake records"
    READ_TIMELINE = "read care timelines"
    READ_NOTIFICATIONS = "read team notifications"
    MANAGE_TEAM = "manage care teams"
    READ_CARE_PLAN = "read care plans"
    WRITE_CARE_PLAN = "write care plans"
    REVIEW_CARE_PLAN = "review care plans"
    RECORD_AGREEMENT = "record agreement to a care plan"
    ADD_MEDICATION_NOTE = "add medication collaboration notes"
    RECORD_PRESCRIBING_DECISION = "record prescribing decisions"
    REVISE_SAFETY_PLAN = "revise safety plans"
    FOLLOW_UP_CRISIS = "record crisis follow-ups"
    READ_SHARED_RECORD = "read what a person shares by consent"
    READ_RECORD_AS_OF = "read a record as it was at a past moment"
    MANAGE_SUBSCRIPTIONS = "manage webhook subscriptions"
    READ_DISCLOSURES = "read accountings of disclosures"


# Which roles hold each right at all; whose records they may use it on is decided by `check_may_see`.
RIGHTS: dict[Right, frozenset[Role]] = {
    Right.REGISTER_PERSON: frozenset({Role.AGENCY_SYSTEM, Role.CARE_COORDINATOR, Role.SUPERVISOR}),
    Right.AMEND_PERSON: frozenset({Role.PERSON, Role.AGENCY_SYSTEM, Role.CARE_COORDINATOR, Role.SUPERVISOR}),
    Right.RECORD_SCREENING: frozenset({Role.AGENCY_SYSTEM} | STAFF),
    Right.RECORD_CRISIS_CONTACT: frozenset({Role.AGENCY_SYSTEM} | STAFF),
    # The person's own decision: recorded by them, or for them by their coordinator or agency.
    Right.RECORD_CONSENT: frozenset({Role.PERSON, Role.AGENCY_SYSTEM, Role.CARE_COORDINATOR, Role.SUPERVISOR}),
    # Deciding two records are one person is a coordination decision, made by someone who can see both.
    Right.MERGE_PEOPLE: frozenset({Role.CARE_COORDINATOR, Role.SUPERVISOR}),
    Right.READ_INTAKE_RECORD: frozenset({Role.AGENCY_SYSTEM, Role.AUDITOR, Role.PERSON} | STAFF),
    Right.READ_TIMELINE: frozenset({Role.AUDITOR, Role.PERSON} | STAFF),
    Right.READ_NOTIFICATIONS: frozenset({Role.AUDITOR} | STAFF),
    Right.MANAGE_TEAM: frozenset({Role.CARE_COORDINATOR, Role.SUPERVISOR}),
    Right.READ_CARE_PLAN: frozenset({Role.AUDITOR, Role.PERSON} | STAFF),
    # The plan is the person's and the team's together: the person adds goals and setbacks in
    # their own words, as the team does.
    Right.WRITE_CARE_PLAN: frozenset({Role.PERSON} | STAFF),
    Right.REVIEW_CARE_PLAN: frozenset(STAFF),
    Right.RECORD_AGREEMENT: frozenset({Role.PERSON, Role.CARE_COORDINATOR, Role.SUPERVISOR}),
    Right.ADD_MEDICATION_NOTE: frozenset({Role.PERSON} | STAFF),
    # Which staff may actually decide is scope of practice: their role on the person's care team
    # must be a prescribing one (services/careplan/domain/medication.py).
    Right.RECORD_PRESCRIBING_DECISION: frozenset(STAFF),
    Right.REVISE_SAFETY_PLAN: frozenset({Role.PERSON} | STAFF),
    Right.FOLLOW_UP_CRISIS: frozenset(STAFF),
    # Whose record, and which parts, is decided by consent directives, not by the care team.
    Right.READ_SHARED_RECORD: frozenset({Role.SUPPORT_PERSON, Role.OUTSIDE_AGENCY}),
    # Auditing: the record rebuilt as it stood at a moment. Auditors, and the person their own;
    # the team works from the record as it is now.
    Right.READ_RECORD_AS_OF: frozenset({Role.AUDITOR, Role.PERSON}),
    # Each for their own subscriptions (what they are sent is decided at each send); supervisors
    # also register care-team apps' subscriptions and operate everyone's.
    Right.MANAGE_SUBSCRIPTIONS: frozenset({Role.SUPPORT_PERSON, Role.OUTSIDE_AGENCY, Role.CARE_TEAM_APP} | STAFF),
    # The accounting of disclosures (45 CFR 164.528, 42 CFR 2.25): the person's own, and auditors'.
    Right.READ_DISCLOSURES: frozenset({Role.AUDITOR, Role.PERSON}),
}


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    subject: str
    role: Role
    agency: str | None = None  # which agency: for agency systems, outside agencies, and staff (optional)
    person_id: UUID | None = None  # for the person served: who they are
    app: str | None = None  # for a care-team app: which app


class MissingRight(Exception):
    def __init__(self, right: Right) -> None:
        super().__init__(f"your role lacks the right to {right.value}")
        self.right = right


class NotVisible(Exception):
    """The record is outside what the caller may see; said as 'not found'."""


@dataclass(frozen=True)
class RecordContext:
    """What decides visibility of one person's record."""

    person_id: UUID
    team: frozenset[str]  # subjects currently on the person's care team
    registered_by: str | None = None  # the agency that registered the person, where known
    # Agencies whose records of the same person were merged into this one: they see it too.
    also_registered_by: frozenset[str] = frozenset()
    # Records of the same person merged into this one: the person's token for any of them reads it.
    also_person_ids: frozenset[UUID] = frozenset()


def check_has_right(principal: Principal, right: Right) -> None:
    if principal.role not in RIGHTS[right]:
        raise MissingRight(right)


def check_may_see(principal: Principal, record: RecordContext) -> None:
    """Raise NotVisible unless the caller's relation to this person lets them see the record."""
    if principal.role is Role.AUDITOR:
        return
    if principal.role is Role.PERSON:
        if principal.person_id == record.person_id or principal.person_id in record.also_person_ids:
            return
    elif principal.role is Role.AGENCY_SYSTEM:
        if principal.agency is not None and (principal.agency == record.registered_by
                                             or principal.agency in record.also_registered_by):
            return
    elif principal.subject in record.team:
        return
    raise NotVisible(f"no record {record.person_id}")


class MayNotRegister(Exception):
    """Registering this agency's record is not the caller's to do (403, naming why)."""


def check_may_register(principal: Principal, agency: str, staff_registration_agencies: frozenset[str]) -> None:
    """An agency's records are registered by its own system, or by its staff where the agency lets
    them (a setting), never by anyone else: a registration keeps the name it was given, and
    answers with the person's id. Decided from the token and the request alone, before anything
    is looked up, so a refusal says nothing about whether the record exists."""
    if principal.role is Role.AGENCY_SYSTEM:
        if agency != principal.agency:
            raise MayNotRegister("an agency system registers people for its own agency only")
        return
    if principal.agency != agency:
        raise MayNotRegister("staff register people only for the agency their token names")
    if agency not in staff_registration_agencies:
        raise MayNotRegister(f"agency {agency!r} does not let its staff register people; its own system does")


def authorize(principal: Principal, right: Right, record: RecordContext) -> None:
    check_has_right(principal, right)
    if right is Right.MANAGE_TEAM and principal.role is Role.SUPERVISOR:
        return  # supervisors form and staff teams, including ones they are not on
    check_may_see(principal, record)

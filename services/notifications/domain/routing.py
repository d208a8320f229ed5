"""Who a notification is for: an audience kept as data on the notification, resolved to members
only when it is delivered, with the care team as it is then (people join and leave the team
between the moment a notification is due and the moment it is sent).

    crisis contacts, suicide-risk and high-risk screenings  -> CARE_TEAM (urgent)
    positive screenings, plan changes                       -> COORDINATOR_AND_PLAN_MEMBERS
    medication questions, the person's medication choices   -> PRESCRIBERS
    an overdue crisis follow-up                             -> COORDINATOR, then SUPERVISORS
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum


class Audience(StrEnum):
    CARE_TEAM = "care_team"
    COORDINATOR_AND_PLAN_MEMBERS = "coordinator_and_plan_members"
    PRESCRIBERS = "prescribers"
    COORDINATOR = "coordinator"
    SUPERVISORS = "supervisors"


# Team roles (careplan's TEAM_ROLES) as they are spelt on the care-team stream.
CARE_COORDINATOR = "care_coordinator"
SUPERVISOR = "supervisor"
# Prescribing roles on the team (careplan's ScopeOfPractice default; an agency may add more).
PRESCRIBING_ROLES = frozenset({"prescriber", "physician", "nurse_practitioner"})
# On the team by the person's consent, but not staff: team notifications are for the staff who act
# on them (family hear what the person's directives share, from careplan, not from these alerts).
NOT_NOTIFIED_ROLES = frozenset({"family_or_natural_support"})


class UnknownAudience(ValueError):
    pass


def recipients(audience: str, team: Mapping[str, str], named: Iterable[str] = (), *,
               agency_supervisors: Iterable[str] = (),
               prescribing_roles: frozenset[str] = PRESCRIBING_ROLES) -> frozenset[str]:
    """The members (subjects) a notification for `audience` goes to, given the team as it is now
    (member id -> team role) and the members it names (`named`, e.g. those a plan names).

    Named members are notified only while they are on the team, so that someone who has left it
    hears nothing more about the person. Agency supervisors (a setting) are the exception: they
    supervise every team without being on it, and hear what is escalated to supervisors.
    An audience with no one in it is empty; delivery decides what to do about that.
    """
    staff = {member: role for member, role in team.items() if role not in NOT_NOTIFIED_ROLES}
    match audience:
        case Audience.CARE_TEAM:
            return frozenset(staff)
        case Audience.COORDINATOR:
            return _with_role(staff, {CARE_COORDINATOR})
        case Audience.COORDINATOR_AND_PLAN_MEMBERS:
            return _with_role(staff, {CARE_COORDINATOR}) | (frozenset(named) & frozenset(staff))
        case Audience.PRESCRIBERS:
            return _with_role(staff, prescribing_roles)
        case Audience.SUPERVISORS:
            return _with_role(staff, {SUPERVISOR}) | frozenset(agency_supervisors)
    raise UnknownAudience(f"no audience {audience!r}; known: {', '.join(Audience)}")


def _with_role(team: Mapping[str, str], roles: set[str] | frozenset[str]) -> frozenset[str]:
    return frozenset(member for member, role in team.items() if role in roles)

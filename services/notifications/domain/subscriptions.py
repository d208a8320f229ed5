"""Webhook subscriptions: who asked to be told about which notices, where, and with which secrets.

A subscription belongs to whoever created it (its `Owner`): a staff member, a support person or
an outside agency for themselves, or a care-team app that a supervisor registered for named team
members. What it is sent is decided at each send (domain/delivery.py), never at registration.

Its `NoticeMatched` events are the subscription's own gap-free sequence (`events_since_start`):
each delivery carries its number, and an app that missed some asks for them by number.
"""

from __future__ import annotations

import base64
import secrets as random_bytes
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from collections.abc import Iterable, Mapping

from eventsourcing.domain import Aggregate, event

from services.notifications.domain.disclosure import refusal
from services.notifications.domain.routing import recipients
from shared.access import STAFF, Principal, Role
from shared.consent import ConsentDirective
from shared.domain import InvalidField
from shared.part2 import Program

ROUTINE, URGENT = "routine", "urgent"
URGENCIES = (ROUTINE, URGENT)
ID_ONLY, SUMMARY = "id-only", "summary"
CONTENTS = (ID_ONLY, SUMMARY)
ACTIVE, DISABLED = "active", "disabled"
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # the Standard Webhooks specification asks for at least 24
DEFAULT_ROTATION_OVERLAP = timedelta(hours=24)
# A subscription whose every delivery failed for this long is disabled.
FAILING_LIMIT = timedelta(days=5)


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(random_bytes.token_bytes(SECRET_BYTES)).decode()


@dataclass(frozen=True)
class Owner:
    """Whose subscription it is; deliveries are checked against their access at each send.

    `app` with `members`: a care-team app acting for those team members (registered by a
    supervisor); otherwise the person named by `subject`, `role` and `agency`."""

    subject: str
    role: str
    agency: str | None = None
    app: str | None = None
    members: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {"subject": self.subject, "role": self.role, "agency": self.agency, "app": self.app,
                "members": list(self.members)}

    @classmethod
    def from_dict(cls, data: dict) -> Owner:
        return cls(data["subject"], data["role"], data.get("agency"), data.get("app"), tuple(data.get("members", ())))


@dataclass(frozen=True)
class Filters:
    """Which notices a subscription wants: kinds (none: every kind), people (none: everyone the
    owner may be told about), people whose care team includes `team_member`, minimum urgency."""

    kinds: tuple[str, ...] = ()
    person_ids: tuple[str, ...] = ()
    team_member: str | None = None
    min_urgency: str = ROUTINE

    def wants(self, kind: str, urgent: bool, person_id: str, team: set[str] | frozenset[str]) -> bool:
        if self.kinds and kind not in self.kinds:
            return False
        if self.min_urgency == URGENT and not urgent:
            return False
        if self.person_ids and person_id not in self.person_ids:
            return False
        return self.team_member is None or self.team_member in team

    def as_dict(self) -> dict[str, object]:
        return {"kinds": list(self.kinds), "person_ids": list(self.person_ids), "team_member": self.team_member,
                "min_urgency": self.min_urgency}

    @classmethod
    def from_dict(cls, data: dict) -> Filters:
        return cls(tuple(data.get("kinds", ())), tuple(data.get("person_ids", ())), data.get("team_member"),
                   data.get("min_urgency", ROUTINE))


@dataclass(frozen=True)
class QuietHours:
    """Hours (UTC, start inclusive, end exclusive, may wrap midnight) when routine items wait."""

    start_hour: int
    end_hour: int

    def holds(self, at: datetime) -> bool:
        hour = at.hour
        if self.start_hour <= self.end_hour:
            return self.start_hour <= hour < self.end_hour
        return hour >= self.start_hour or hour < self.end_hour

    def ends_after(self, at: datetime) -> datetime:
        """When routine items held at `at` may go."""
        end = at.replace(hour=self.end_hour, minute=0, second=0, microsecond=0)
        return end if end > at else end + timedelta(days=1)

    def as_dict(self) -> dict[str, int]:
        return {"start_hour": self.start_hour, "end_hour": self.end_hour}

    @classmethod
    def from_dict(cls, data: dict | None) -> QuietHours | None:
        return None if data is None else cls(data["start_hour"], data["end_hour"])


@dataclass(frozen=True)
class SigningSecret:
    secret: str
    valid_until: datetime | None = None  # set when rotated out: it still signs until then


def check_choice(field: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InvalidField(field, f"must be one of {', '.join(allowed)}")


def check_settings(filters: Filters, content: str) -> None:
    check_choice("min_urgency", filters.min_urgency, URGENCIES)
    check_choice("content", content, CONTENTS)


class Subscription(Aggregate):
    """Its events hold owner, filters and quiet hours as plain dicts (what the store encodes);
    its state holds them as the dataclasses above."""

    if TYPE_CHECKING:  # The classes @event("...") defines as the class body runs, for mypy
        Created: ClassVar[type[Any]]
        Changed: ClassVar[type[Any]]
        Enabled: ClassVar[type[Any]]
        Disabled: ClassVar[type[Any]]
        Deleted: ClassVar[type[Any]]
        NoticeMatched: ClassVar[type[Any]]

    @classmethod
    def open(cls, subscription_id: UUID, owner: Owner, url: str, filters: Filters, content: str, secret: str,
             created_at: datetime, quiet_hours: QuietHours | None = None) -> Subscription:
        check_settings(filters, content)
        return cls(subscription_id=subscription_id, owner=owner.as_dict(), url=url, filters=filters.as_dict(),
                   content=content, secret=secret, created_at=created_at,
                   quiet_hours=None if quiet_hours is None else quiet_hours.as_dict())

    @event("Created")
    def __init__(self, subscription_id: UUID, owner: dict, url: str, filters: dict, content: str,
                 secret: str, created_at: datetime, quiet_hours: dict | None = None) -> None:
        self.owner = Owner.from_dict(owner)
        self.url = url
        self.filters = Filters.from_dict(filters)
        self.content = content
        self.quiet_hours = QuietHours.from_dict(quiet_hours)
        self.secrets = [SigningSecret(secret)]
        self.created_at = created_at
        self.status = ACTIVE
        self.disabled_reason: str | None = None
        self.failing_since: datetime | None = None
        self.events_since_start = 0
        self.people: set[str] = set()  # whose notices it has matched: where its deliveries are
        self.deleted = False

    @classmethod
    def create_id(cls, subscription_id: UUID, **_: object) -> UUID:
        return subscription_id

    def change(self, url: str, filters: Filters, content: str, quiet_hours: QuietHours | None) -> None:
        check_settings(filters, content)
        self._changed(url=url, filters=filters.as_dict(), content=content,
                      quiet_hours=None if quiet_hours is None else quiet_hours.as_dict())

    @event("Changed")
    def _changed(self, url: str, filters: dict, content: str, quiet_hours: dict | None) -> None:
        self.url, self.filters, self.content = url, Filters.from_dict(filters), content
        self.quiet_hours = QuietHours.from_dict(quiet_hours)

    @event("Enabled")
    def enable(self) -> None:
        self.status, self.disabled_reason, self.failing_since = ACTIVE, None, None

    @event("Disabled")
    def disable(self, reason: str, at: datetime) -> None:
        self.status, self.disabled_reason = DISABLED, reason

    @event("Deleted")
    def delete(self, at: datetime) -> None:
        self.deleted = True
        self.status, self.disabled_reason = DISABLED, "deleted"

    @event("SecretRotated")
    def rotate_secret(self, new_secret: str, at: datetime, overlap_ends: datetime) -> None:
        kept = [replace(s, valid_until=overlap_ends) if s.valid_until is None else s
                for s in self.secrets if s.valid_until is None or s.valid_until > at]
        self.secrets = [SigningSecret(new_secret), *kept]

    def signing_secrets(self, at: datetime) -> list[str]:
        """The secrets that sign now: the current one, and those rotated out whose overlap lasts."""
        return [s.secret for s in self.secrets if s.valid_until is None or s.valid_until > at]

    @property
    def active(self) -> bool:
        return self.status == ACTIVE and not self.deleted

    @event("NoticeMatched")
    def match(self, sequence: int, notification_id: str, person_id: str, kind: str, urgent: bool,
              category: str, occurred_at: datetime) -> None:
        """A notice this subscription wants: the next number of its own sequence."""
        self.events_since_start = sequence
        self.people.add(person_id)

    def next_sequence(self) -> int:
        return self.events_since_start + 1

    # Continuous failure: set at the first failure after a success, cleared by a success.

    @event("Failing")
    def failing(self, since: datetime) -> None:
        self.failing_since = since

    @event("Recovered")
    def recovered(self, at: datetime) -> None:
        self.failing_since = None

    def note_failure(self, at: datetime) -> None:
        if self.failing_since is None:
            self.failing(since=at)
        elif self.active and at - self.failing_since >= FAILING_LIMIT:
            self.disable(reason=f"every delivery failed for {FAILING_LIMIT.days} days", at=at)

    def note_success(self, at: datetime) -> None:
        if self.failing_since is not None:
            self.recovered(at=at)


def principals_of(owner: Owner) -> list[Principal]:
    """Whose access a delivery to `owner` is checked against. A care-team app acts for the team
    members a supervisor named (staff: a staff role stands for them, since for staff only being
    on the person's team and in the notice's audience counts)."""
    if owner.app is not None:
        return [Principal(subject=member, role=Role.CARE_COORDINATOR) for member in owner.members]
    return [Principal(subject=owner.subject, role=Role(owner.role), agency=owner.agency)]


def owner_refusal(owner: Owner, category: str, audience: str, named: Iterable[str], team: Mapping[str, str],
                  consents: Iterable[ConsentDirective], at: datetime,
                  agency_supervisors: Iterable[str] = (), programs: Mapping[str, Program] | None = None) -> str | None:
    """Why `owner` may not be sent this notice now (None: they may). Staff must be on the team
    (disclosure.refusal) and among those the notice's audience names now (routing.recipients: a
    medication question goes to prescribers, an escalation to the coordinator); support persons
    and outside agencies get what consent directives share with them. An app is sent the notice
    when at least one of its members may be."""
    consents = list(consents)
    reasons: list[str] = []
    for principal in principals_of(owner):
        reason = refusal(principal, category, team, consents, at, programs)
        if reason is None and principal.role in STAFF and principal.subject not in recipients(
                audience, team, named, agency_supervisors=agency_supervisors):
            reason = f"the notice is for the {audience.replace('_', ' ')}, not this member"
        if reason is None:
            return None
        reasons.append(reason)
    return "; ".join(dict.fromkeys(reasons)) or "the app acts for no team member"

"""What the dispatcher reads of a person's notices at each send: whether the subscription's owner
may be sent the notice now (from the person's team, consent directives and the notice's audience
as they are at this moment), and the notice's message.

A mixin of WebhookSubscriptions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from services.notifications.application import NotificationsApplication, person_facts
from services.notifications.domain.subscriptions import Owner, owner_refusal


class NoticeAccess:
    application: NotificationsApplication

    def refusal(self, owner: Owner, person_id: str, notification_id: str, category: str,
                at: datetime) -> str | None:
        """Why the owner may not be sent this notice now (None: they may), from the person's team,
        consent directives and the notice's audience as they are at this moment."""
        return self.refusals([(owner, person_id, notification_id, category)], at)[0]

    def refusals(self, sends: Sequence[tuple[Owner, str, str, str]], at: datetime) -> list[str | None]:
        """`refusal` of each (owner, person id, notification id, category), the people's followers
        read with one query (the kept copies brought up to date, not a replay of each history)."""
        application = self.application
        wanted: dict[str, set[str]] = {}
        for _, person_id, notification_id, _ in sends:
            wanted.setdefault(person_id, set()).add(notification_id)
        follower_ids = {person_id: application.follower_class.create_id(person_id=UUID(person_id))
                        for person_id in wanted}
        people = application.read_current_many({follower_ids[person_id]: facts_for(notices)
                                                for person_id, notices in wanted.items()})
        refusals: list[str | None] = []
        for owner, person_id, notification_id, category in sends:
            found = people.get(follower_ids[person_id])
            if found is None:
                refusals.append("no such person is known here")
                continue
            notices, known = found
            audience, named = notices.get(notification_id, ("care_team", ()))
            team, consents, programs = application.as_one_person(known)  # merges followed (the survivor's team)
            refusals.append(owner_refusal(owner, category, audience, named, team, consents, at,
                                          getattr(application, "agency_supervisors", ()), programs))
        return refusals

    def notice_message(self, person_id: str, notification_id: str) -> str | None:
        due = self.application.due_notifications(UUID(person_id)) or []
        return next((n.message for n in due if n.notification_id == notification_id), None)


def facts_for(notification_ids: set[str]) -> Callable[[Any], tuple[dict[str, tuple[str, tuple[str, ...]]], Any]]:
    """A view of a person's follower for access checks: the audience of these notices, and the
    person's facts (copied out: the view runs under the kept copy's lock)."""
    def facts(person: Any) -> tuple[dict[str, tuple[str, tuple[str, ...]]], Any]:
        notices = {n.notification_id: (n.audience, tuple(n.named)) for n in person.due
                   if n.notification_id in notification_ids}
        return notices, person_facts(person)
    return facts

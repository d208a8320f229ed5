"""What upstream events do to the person's crisis follow-ups, besides the notice they make due:
intake's crisis contact makes one expected, careplan's record of it closes it."""

from __future__ import annotations

from collections.abc import Callable

from services.notifications.domain.notifications import PersonNotifications
from shared.contracts.base import Payload
from shared.contracts.careplan import CrisisFollowUpRecordedV1
from shared.contracts.intake import CrisisContactRecordedV1


def follow_up_change(payload: Payload) -> Callable[[PersonNotifications], None] | None:
    match payload:
        case CrisisContactRecordedV1():
            return lambda person: person.crisis_follow_up_expected(
                str(payload.contact_id), payload.kind, payload.follow_up_due)
        case CrisisFollowUpRecordedV1():
            return lambda person: person.crisis_follow_up_recorded(payload.contact_id, payload.followed_up_on)
    return None

"""What intake's rules refuse about a person's record, for its callers to answer (HTTP statuses,
AMQP dead-letter reasons): raised before a command changes anything."""

from __future__ import annotations

from uuid import UUID

from shared.domain import InvalidField


class UnknownDetail(ValueError):
    """Only how the person is named and addressed can be amended; agency ids never change."""


class NoAnswers(ValueError):
    """A screening with no items at all is not a screening."""


class CannotMerge(InvalidField):
    """A merge the rules refuse for what was asked; `field` names the request field at fault."""


class UnknownMerge(LookupError):
    """No such merge into this record (answered as not found)."""


class IdempotencyKeyReused(ValueError):
    """A screening, crisis contact or consent directive takes its id from the caller's idempotency
    key; that key was first used for a request with other content. Taking it as a repeat would
    answer with the first result and silently drop the new data."""

    def __init__(self, request_id: UUID | str) -> None:
        super().__init__("the idempotency key is already used for a different request payload")
        self.request_id = request_id


class MergedAway(ValueError):
    """This person's record was merged into `survivor_id`: it records nothing new, address the survivor.

    `field` names what the caller addressed: the person of a command, or one side of a merge.
    """

    def __init__(self, person_id: UUID, survivor_id: UUID, field: str = "person_id") -> None:
        super().__init__(f"person {person_id} was merged into {survivor_id}")
        self.person_id = person_id
        self.survivor_id = survivor_id
        self.field = field

"""The shared record: what the person's consent directives let someone outside the team see now
(the `/shared` read), and its disclosure, recorded in the person's accounting before it is returned.

A mixin of CareplanApplication: it relies on the application's timeline followers (`follower`),
the person's plans (`care_plan`, `safety_plan`) and their directives (`_consents`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID, uuid4

from services.careplan.aggregate_writes import AggregateWrites, TooManyConflicts
from services.careplan.domain.plan import CarePlan
from services.careplan.domain.safety_plan import SafetyPlan
from services.careplan.domain.sharing import SharedRecord, shared_record, shared_record_disclosure
from services.careplan.domain.timeline import Timeline
from shared.consent import ConsentDirective, categories_allowed
from shared.disclosures import DisclosureLedger
from shared.domain import Provenance


class DisclosureNotRecorded(Exception):
    """A disclosure could not be recorded in the accounting, so nothing was disclosed; the same
    request may be sent again shortly."""

    retry_after_seconds = 1


class SharedRecordUseCases(AggregateWrites):
    follower: Callable[[UUID], Timeline | None]
    care_plan: Callable[[UUID], CarePlan | None]
    safety_plan: Callable[[UUID], SafetyPlan | None]
    _consents: Callable[[UUID], dict[str, ConsentDirective]]

    def shared_record(self, person_id: UUID, recipient_kind: str, recipient_id: str | None,
                      at: datetime) -> SharedRecord | None:
        """What the person's consent directives let this recipient see now (None: nothing)."""
        # Decided from the directives alone first: someone they share nothing with is refused after
        # the same one read whether or not the person exists, and nothing else is loaded for them.
        directives = list(self._consents(person_id).values())
        if not categories_allowed(directives, recipient_kind, recipient_id, at):
            return None
        timeline = self.follower(person_id)
        if timeline is None:
            return None
        plan = self.care_plan(person_id)
        safety = self.safety_plan(person_id)
        # The timeline at hand gives the review prompts: no second read of it.
        due = plan.next_review(timeline.review_prompts()).due_on if plan is not None else None
        return shared_record(timeline, plan, safety.current if safety else None, due, recipient_kind,
                             recipient_id, at, directives)

    def disclose_shared_record(self, person_id: UUID, recipient_kind: str, recipient_id: str | None,
                               recipient_agency: str | None, purpose: str, provenance: Provenance,
                               at: datetime) -> SharedRecord | None:
        """`shared_record`, recorded in the person's accounting of disclosures before it is
        returned: what cannot be recorded is not disclosed (DisclosureNotRecorded)."""
        record = self.shared_record(person_id, recipient_kind, recipient_id, at)
        if record is None:
            return None
        disclosure = shared_record_disclosure(record, str(uuid4()), self._consents(person_id).values(),
                                              recipient_kind, recipient_id, recipient_agency, purpose, at)
        try:
            self._change(DisclosureLedger.create_id(person_id), lambda: DisclosureLedger(person_id, provenance),
                         lambda ledger: ledger.record(disclosure, provenance))
        except TooManyConflicts:
            raise
        except Exception as error:  # the database away, a pool exhausted: nothing leaves unrecorded
            raise DisclosureNotRecorded(f"the disclosure could not be recorded ({type(error).__name__})") from error
        return record

"""Careplan's application: its use cases on its own event store. Synchronous, like all
eventsourcing code.

Each person has a timeline (built from intake's events), a care team, a care plan, medication
collaboration notes and a safety plan: one aggregate each, so that a note and a goal written at the
same moment never conflict. Commands load an aggregate (from the cache), change it and save it
(aggregate_writes.py: one command per aggregate at a time here, retried when another replica
changed it meanwhile).

The timeline, the care plan and the safety plan are here; the other use cases are mixins, one
module each: the plan's goals and supports (plan_use_cases.py), the care team and the person's
consents (team_use_cases.py), medication collaboration (medication_use_cases.py), the shared
record (sharing_use_cases.py) and which records are one person (merged_records.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from services.careplan.aggregate_writes import AggregateWrites
from services.careplan.medication_use_cases import MedicationUseCases
from services.careplan.merged_records import MergedRecords
from services.careplan.plan_use_cases import CarePlanUseCases
from services.careplan.sharing_use_cases import SharedRecordUseCases
from services.careplan.team_use_cases import CareTeamUseCases
from services.careplan.domain.crisis_follow_ups import CrisisFollowUps
from services.careplan.domain.medication import ScopeOfPractice
from services.careplan.domain.merged_history import MergedPlan, merged_plan
from services.careplan.domain.plan import CarePlan, InvalidPlanChange
from services.careplan.domain.plan_changes import PlanChanges, plan_changes
from services.careplan.domain.reviews import NextReview, ReviewPrompt
from services.careplan.domain.safety_plan import SafetyPlan, SafetyPlanVersion, needs_review
from services.careplan.domain.timeline import Timeline, TimelineEntry
from shared.domain import Provenance, UpstreamRef
from shared.eventstore import KeyedThreadLocks
from shared.following import FollowerApplication, UpstreamChange

T = TypeVar("T")


class CareplanApplication(CarePlanUseCases, CareTeamUseCases, MedicationUseCases, SharedRecordUseCases,
                          MergedRecords, AggregateWrites, FollowerApplication[Timeline]):
    name = "Careplan"
    follower_class = Timeline

    def __init__(self, env: Mapping[str, str] | None = None,
                 scope_of_practice: ScopeOfPractice = ScopeOfPractice()) -> None:
        """`scope_of_practice`: who may record prescribing decisions (the agency may add roles)."""
        super().__init__(env=env)
        self.scope_of_practice = scope_of_practice
        self._writing = KeyedThreadLocks()  # one per aggregate being changed here (aggregate_writes.py)

    # -- the timeline, from intake's events --------------------------------------------------------

    @staticmethod
    def timeline_entry(upstream: UpstreamRef, kind: str, summary: str, occurred_at: datetime) -> UpstreamChange:
        return UpstreamChange(upstream, lambda timeline: timeline.add_entry(upstream, kind, summary, occurred_at))

    def add_to_timeline(self, upstream: UpstreamRef, kind: str, summary: str, occurred_at: datetime) -> bool:
        return self.apply_change(self.timeline_entry(upstream, kind, summary, occurred_at))

    def timeline(self, person_id: UUID) -> list[TimelineEntry] | None:
        found = self.follower(person_id)
        return None if found is None else list(found.entries)

    def merged_timeline(self, records: list[UUID]) -> list[tuple[UUID, TimelineEntry]] | None:
        """The timelines of a survivor and the records merged into it (`records_of`), as one, in
        time order, each entry with the record it came from (None: the survivor has none)."""
        timelines = [(record, self.timeline(record)) for record in records]
        if timelines[0][1] is None:
            return None
        entries = [(record, entry) for record, found in timelines for entry in found or []]
        if len(records) == 1:
            return entries  # one record: in the order careplan applied them, as always
        return sorted(entries, key=lambda pair: pair[1].occurred_at)  # stable: each record's order stays

    # -- the care plan -----------------------------------------------------------------------------

    def change_plan(self, person_id: UUID, change: Callable[[CarePlan], T], provenance: Provenance,
                    today: date | None = None) -> T:
        """Apply `change` to the person's care plan, starting the plan if there is none yet."""
        started_on = today or date.today()
        return self._change_published(
            person_id, CarePlan.create_id(person_id), lambda: CarePlan.start(person_id, started_on, provenance),
            change, provenance)

    def care_plan(self, person_id: UUID) -> CarePlan | None:
        return self._stored(CarePlan.create_id(person_id))

    def merged_care_plan(self, records: list[UUID]) -> MergedPlan | None:
        """The plan of a survivor shown with the records merged into it (`records_of`, survivor
        first): the survivor's current, the others' goals carried over (domain/merged_history.py)."""
        return merged_plan([(record, self.care_plan(record)) for record in records])

    def review_plan(self, person_id: UUID, review_id: str, reviewed_on: date, what_changed: str, why: str,
                    provenance: Provenance) -> bool:
        """Record a review; it answers the prompts that made it due (or the schedule)."""
        prompts = self._review_prompts(person_id)

        def review(plan: CarePlan) -> bool:
            due = plan.next_review(prompts)
            return plan.record_review(review_id, reviewed_on, what_changed, why, list(due.prompted_by), provenance)

        return self.change_plan(person_id, review, provenance)

    def next_review(self, plan: CarePlan) -> NextReview:
        return plan.next_review(self._review_prompts(plan.person_id))

    def record_crisis_follow_up(self, person_id: UUID, contact_id: str, followed_up_on: date, note: str | None,
                                provenance: Provenance) -> bool:
        timeline = self.follower(person_id)
        if timeline is None or all(contact.contact_id != contact_id for contact in timeline.crisis_contacts):
            raise InvalidPlanChange("contact_id", f"no crisis contact {contact_id} has reached this person's timeline")
        plan_id, published_id = CarePlan.create_id(person_id), CrisisFollowUps.create_id(person_id)

        def record(plan: CarePlan | None, published: CrisisFollowUps | None) -> tuple[bool, list[Aggregate]]:
            plan = plan or CarePlan.start(person_id, date.today(), provenance)
            if not plan.record_crisis_follow_up(contact_id, followed_up_on, note, provenance):
                return False, []
            # The plan keeps the note; the published stream only the fact (notifications closes the
            # contact's escalation on it). One transaction: neither is recorded without the other.
            if published is None:
                published = CrisisFollowUps(person_id, contact_id, followed_up_on, provenance)
            else:
                published.record(contact_id, followed_up_on, provenance)
            return True, [plan, published]

        return self._change_together((plan_id, published_id), record)

    def _review_prompts(self, person_id: UUID) -> list[ReviewPrompt]:
        timeline = self.follower(person_id)
        return timeline.review_prompts() if timeline else []

    # -- the safety plan ---------------------------------------------------------------------------

    def revise_safety_plan(self, person_id: UUID, sections: dict[str, list[str]], based_on_version: int,
                           written_at: datetime, provenance: Provenance) -> int:
        return self._change_published(person_id, SafetyPlan.create_id(person_id), lambda: SafetyPlan(person_id, provenance),
                                      lambda plan: plan.revise(sections, based_on_version, written_at, provenance),
                                      provenance)

    def safety_plan(self, person_id: UUID) -> SafetyPlan | None:
        return self._stored(SafetyPlan.create_id(person_id))

    def safety_plan_version(self, person_id: UUID, number: int | None = None,
                            ) -> tuple[SafetyPlanVersion, int, bool] | None:
        """A version (the current one by default), the latest version's number, and whether a crisis
        contact since that version was written marks it for review."""
        plan = self.safety_plan(person_id)
        if plan is None:
            return None
        revision = plan.current if number is None else plan.revision(number)
        if revision is None:
            return None
        timeline = self.follower(person_id)
        crises = [contact.occurred_at for contact in timeline.crisis_contacts] if timeline else []
        return revision, plan.current_number, needs_review(revision.written_at, crises)

    # -- what the plans' changes publish ---------------------------------------------------------

    def _change_published(self, person_id: UUID, plan_id: UUID, start: Callable[[], Any], change: Callable[[Any], T],
                          provenance: Provenance) -> T:
        """`_change` for one of the person's plans, with what it changed (kinds and ids) recorded on
        the published `PlanChanges` in the same transaction: a change that changes nothing (a
        request repeated) records nothing there."""
        changes_id = PlanChanges.create_id(person_id)

        def apply(plan: Any, published: PlanChanges | None) -> tuple[T, list[Aggregate]]:
            plan = plan or start()
            outcome = change(plan)  # a domain refusal raises here, and nothing is saved
            changes = plan_changes(plan.pending_events, plan if isinstance(plan, CarePlan) else None,
                                   lambda: self.care_team(person_id))
            if not changes:
                return outcome, [plan] if plan.pending_events else []
            if published is None:
                published = PlanChanges.first(person_id, changes, provenance)
            else:
                published.record(changes, provenance)
            return outcome, [plan, published]

        return self._change_together((plan_id, changes_id), apply)

"""Care plan use cases. Synchronous, like all eventsourcing code.

Each person has a timeline (built from intake's events), a care team, a care plan, medication
collaboration notes and a safety plan: one aggregate each, so that a note and a goal written at the
same moment never conflict. Commands load an aggregate (from the cache), change it and save it.
Commands on one aggregate in this process take turns (a lock per aggregate), so they never conflict
with each other; a conflict means another replica changed it meanwhile, and the command is retried
on what is stored, after a jittered, growing pause.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from datetime import date, datetime, timezone
from typing import Any, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import RecordConflictError

from services.careplan.merged_records import MergedRecords
from services.careplan.plan_use_cases import CarePlanUseCases
from services.careplan.domain.care_team import CareTeam, Membership, memberships
from services.careplan.domain.crisis_follow_ups import CrisisFollowUps
from services.careplan.domain.medication import MedicationCollaboration, ScopeOfPractice
from services.careplan.domain.merged_history import MedicationHistory, MergedPlan, medication_history, merged_plan
from services.careplan.domain.plan import CarePlan, InvalidPlanChange
from services.careplan.domain.plan_changes import PlanChanges, plan_changes
from services.careplan.domain.reviews import NextReview, ReviewPrompt
from services.careplan.domain.safety_plan import SafetyPlan, SafetyPlanVersion, needs_review
from services.careplan.domain.sharing import (
    CONSENT_EVENTS, SharedRecord, directives_from, shared_record, shared_record_disclosure)
from services.careplan.domain.timeline import Timeline, TimelineEntry
from shared.consent import ConsentDirective, categories_allowed
from shared.disclosures import DisclosureLedger
from shared.domain import Provenance, UpstreamRef
from shared.eventstore import KeyedThreadLocks
from shared.part2 import Program, made_by_part2, may_see_part2
from shared.following import FollowerApplication, UpstreamChange

T = TypeVar("T")

# Conflicts come only from other replicas (see `_change`): a few retries, each after a random pause
# up to a cap that doubles from 10 ms to 500 ms (about 1.5 s in all at worst), so that replicas
# writing the same plan spread out rather than collide again in step.
CHANGE_ATTEMPTS = 8
FIRST_BACKOFF = 0.01
MAX_BACKOFF = 0.5


class TooManyConflicts(Exception):
    """Other replicas kept changing the aggregate while this command tried to: nothing was saved,
    and the same command may be sent again shortly."""

    retry_after_seconds = 1


class DisclosureNotRecorded(Exception):
    """A disclosure could not be recorded in the accounting, so nothing was disclosed; the same
    request may be sent again shortly."""

    retry_after_seconds = 1


class CareplanApplication(CarePlanUseCases, MergedRecords, FollowerApplication[Timeline]):
    name = "Careplan"
    follower_class = Timeline

    def __init__(self, env: Mapping[str, str] | None = None,
                 scope_of_practice: ScopeOfPractice = ScopeOfPractice()) -> None:
        """`scope_of_practice`: who may record prescribing decisions (the agency may add roles)."""
        super().__init__(env=env)
        self.scope_of_practice = scope_of_practice
        self._writing = KeyedThreadLocks()  # one per aggregate being changed here (see `_change`)

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

    # -- the care team -----------------------------------------------------------------------------

    def add_team_member(self, person_id: UUID, member_id: str, role: str, provenance: Provenance,
                        program: Program | None = None) -> bool:
        """Add someone to the team (or change their role or program): checked before anything is loaded."""
        self.scope_of_practice.check_may_assign(role, provenance.actor_role)
        consented = bool(categories_allowed(
            self._consents(person_id).values(), "named_person", member_id, datetime.now(timezone.utc)))
        return self._change(CareTeam.create_id(person_id), lambda: CareTeam(person_id, provenance),
                            lambda team: team.add_member(member_id, role, provenance, consented, program))

    def remove_team_member(self, person_id: UUID, member_id: str, provenance: Provenance) -> None:
        self._change(CareTeam.create_id(person_id), lambda: CareTeam(person_id, provenance),
                     lambda team: team.remove_member(member_id, provenance))

    def care_team(self, person_id: UUID) -> dict[str, str]:
        """Member id -> role, as stored now (empty if no team was formed)."""
        team = self._stored(CareTeam.create_id(person_id))
        return dict(team.members) if team else {}

    def joined_through_merge(self, person_id: UUID) -> dict[str, str]:
        """Member id -> the duplicate record whose team they came from when intake merged it."""
        team = self._stored(CareTeam.create_id(person_id))
        return dict(team.joined_through_merge) if team else {}

    def team_programs(self, person_id: UUID) -> dict[str, Program]:
        """Member id -> the program they work in, for members who gave one."""
        team = self._stored(CareTeam.create_id(person_id))
        return dict(team.programs) if team else {}

    def may_see_part2(self, person_id: UUID, reader_id: str, at: datetime) -> bool:
        """Whether this reader (on the team, or the person, an auditor...) may see the person's
        Part 2 records now (shared/part2.py): only a member from another program may not, unless
        a directive in force names their program or the team."""
        program = self.team_programs(person_id).get(reader_id)
        if program is None or program.is_part2:
            return True  # decided without reading the consents
        return may_see_part2(program, self._consents(person_id).values(), at)

    def team_history(self, person_id: UUID) -> list[Membership]:
        """Who was on the team in which role, from when until when (None: still on it)."""
        return memberships(self.events.get(CareTeam.create_id(person_id)))

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

    def shared_record(self, person_id: UUID, recipient_kind: str, recipient_id: str | None,
                      at: datetime) -> SharedRecord | None:
        """What the person's consent directives let this recipient see now (None: nothing)."""
        # Decided from the directives alone first: someone they share nothing with is refused after
        # the same one read whether or not the person exists, and nothing else is loaded for them.
        if not categories_allowed(self._consents(person_id).values(), recipient_kind, recipient_id, at):
            return None
        timeline = self.follower(person_id)
        if timeline is None:
            return None
        plan = self.care_plan(person_id)
        safety = self.safety_plan(person_id)
        # The timeline at hand gives the review prompts: no second read of it.
        due = plan.next_review(timeline.review_prompts()).due_on if plan is not None else None
        return shared_record(timeline, plan, safety.current if safety else None, due, recipient_kind,
                             recipient_id, at)

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

    def _consents(self, person_id: UUID) -> dict[str, ConsentDirective]:
        return directives_from(self.follower_events(person_id, *CONSENT_EVENTS))

    def _review_prompts(self, person_id: UUID) -> list[ReviewPrompt]:
        timeline = self.follower(person_id)
        return timeline.review_prompts() if timeline else []

    # -- medication collaboration ------------------------------------------------------------------

    def add_medication_note(self, person_id: UUID, note_id: str, kind: str, text: str, medication: str | None,
                            choice: str | None, author_role: str, provenance: Provenance) -> bool:
        part2 = self._made_by_part2(person_id, provenance)
        return self._change_medication(person_id, provenance, lambda record: record.add_note(
            note_id, kind, text, medication, choice, author_role, provenance, part2=part2))

    def record_prescribing_decision(self, person_id: UUID, decision_id: str, decision: str, medication: str,
                                    dose: str | None, rationale: str, discussed_with_person: bool,
                                    author_role: str, provenance: Provenance) -> bool:
        # Checked before anything is loaded or started: a refusal leaves no trace in the record.
        self.scope_of_practice.check_may_prescribe(author_role)
        part2 = self._made_by_part2(person_id, provenance)
        return self._change_medication(person_id, provenance, lambda record: record.record_decision(
            decision_id, decision, medication, dose, rationale, discussed_with_person, author_role,
            self.scope_of_practice, provenance, part2=part2))

    def _made_by_part2(self, person_id: UUID, provenance: Provenance) -> bool:
        """A note or decision is a Part 2 record when its author is on the team for a Part 2
        program as they write it (marked on the record: it stays so if they later leave)."""
        return made_by_part2(self.team_programs(person_id).get(provenance.actor_id))

    def medication_record(self, person_id: UUID) -> MedicationCollaboration | None:
        return self._stored(MedicationCollaboration.create_id(person_id))

    def medication_history(self, records: list[UUID]) -> MedicationHistory | None:
        """The notes and decisions of a survivor and the records merged into it (`records_of`),
        in time order, each with its record (domain/merged_history.py)."""
        return medication_history([(record, self.medication_record(record)) for record in records])

    def _change_medication(self, person_id: UUID, provenance: Provenance,
                           change: Callable[[MedicationCollaboration], T]) -> T:
        return self._change(MedicationCollaboration.create_id(person_id),
                            lambda: MedicationCollaboration(person_id, provenance), change)

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

    # -- plumbing ----------------------------------------------------------------------------------

    def _change(self, aggregate_id: UUID, start: Callable[[], Aggregate], change: Callable[[Any], T]) -> T:
        """Run `change` on the aggregate and save it, one command per aggregate at a time here."""
        with self._writing.hold(aggregate_id):
            for attempt in range(CHANGE_ATTEMPTS):
                try:
                    return self._change_once(aggregate_id, start, change)
                except RecordConflictError:
                    if attempt + 1 < CHANGE_ATTEMPTS:
                        time.sleep(random.uniform(0, min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** attempt)))
            raise TooManyConflicts(f"{aggregate_id} kept changing elsewhere; nothing was saved")

    def _change_once(self, aggregate_id: UUID, start: Callable[[], Aggregate], change: Callable[[Any], T]) -> T:
        try:
            aggregate: Aggregate = self.repository.get(aggregate_id)  # a private copy, from the cache
        except AggregateNotFoundError:
            aggregate = start()
        outcome = change(aggregate)  # a domain refusal raises here, and nothing is saved
        try:
            self.save(aggregate)
        except RecordConflictError:
            self.forget([aggregate_id])  # another replica changed it: reload it on retry
            raise
        return outcome

    def _change_together(self, aggregate_ids: tuple[UUID, ...],
                         change: Callable[..., tuple[T, list[Aggregate]]]) -> T:
        """`_change` for several aggregates saved in one transaction: `change` is given each one
        (None where it does not exist yet) and returns its outcome and the aggregates to save."""
        with ExitStack() as held:
            for aggregate_id in sorted(aggregate_ids):  # one order: two commands never wait on each other
                held.enter_context(self._writing.hold(aggregate_id))
            for attempt in range(CHANGE_ATTEMPTS):
                outcome, changed = change(*(self._checked_out_copy(i) for i in aggregate_ids))
                try:
                    if changed:
                        self.save(*changed)
                    return outcome
                except RecordConflictError:
                    self.forget(aggregate_ids)  # another replica changed one: reload them on retry
                    if attempt + 1 < CHANGE_ATTEMPTS:
                        time.sleep(random.uniform(0, min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** attempt)))
            raise TooManyConflicts(f"{', '.join(map(str, aggregate_ids))} kept changing elsewhere; nothing was saved")

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

    def _checked_out_copy(self, aggregate_id: UUID) -> Any:
        try:
            return self.repository.get(aggregate_id)  # a private copy, from the cache
        except AggregateNotFoundError:
            return None

    def _stored(self, aggregate_id: UUID) -> Any:
        try:
            return self.read(aggregate_id)
        except AggregateNotFoundError:
            return None

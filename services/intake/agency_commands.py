"""The one handler behind intake's HTTP API and its AMQP command queue.

Each method authorizes the caller, turns the request into an application command, runs it in the
next group-commit batch and says what came of it. Entry points only translate: HTTP turns a
`Refused` into its status code, AMQP into a dead-lettered message with the same reason.

The caller's role is checked at once (403); whether they may act on the person's record (404
otherwise) is checked in the batch that runs the command (`AccessCheck`), against the store as
it is then: one thread hop and, for the whole batch, one query.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any, overload
from uuid import UUID, uuid4, uuid5

from pydantic import BaseModel

from services.intake.application import (
    AccessCheck,
    AmendDetails,
    Amendment,
    Command,
    CommandFailed,
    ConsentReceipt,
    CrisisContactReceipt,
    GrantConsent,
    RevokeConsent,
    IntakeApplication,
    MergePeople,
    MergeReceipt,
    PersonNotFound,
    UndoMerge,
    RecordCrisisContact,
    RecordScreening,
    RegisterPerson,
    Registration,
    Result,
    ScreeningReceipt,
)
from services.intake.domain.consent import InvalidConsent
from services.intake.domain.crisis import InvalidCrisisContact
from services.intake.domain.refusals import CannotMerge, IdempotencyKeyReused, MergedAway, UnknownMerge
from services.intake.domain.scoring import InvalidAnswers
from shared.access import (
    MayNotRegister,
    MissingRight,
    NotVisible,
    Principal,
    Right,
    authorize,
    check_has_right,
    check_may_register,
)
from shared.contracts.intake import AgencyIdentity
from shared.contracts.intake_commands import (
    AmendDetailsRequest,
    ConsentRecorded,
    CrisisContactRecorded,
    DetailsAmended,
    GrantConsentRequest,
    MergePeopleRequest,
    MergeUndone,
    PeopleMerged,
    PersonRegistration,
    RecordCrisisContactRequest,
    RecordScreeningRequest,
    RegisterPersonRequest,
    RevokeConsentRequest,
    ScreeningRecorded,
    ScreeningResultView,
    UndoMergeRequest,
)
from shared.domain import Provenance
from shared.group_commit import GroupCommit
from shared.runtime import Foundation

SCREENING_NAMESPACE = UUID("8e3f4b0a-2d6c-4f57-b1c9-0a7e5d3c2b14")
CRISIS_CONTACT_NAMESPACE = UUID("5a1e9c7d-7b2f-4e0a-9c3d-1f8e6b4a2c90")
CONSENT_NAMESPACE = UUID("2f6c1b9e-84d3-4a57-9e21-6b0d7c3a5f18")


class Refused(Exception):
    """The command was not carried out: `status` is the HTTP status that says why."""

    def __init__(self, status: int, detail: Any, absent: bool = False) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail
        # A 404 because there is no such person, not because the caller may not see them: the
        # caller is told the same, the access record says which (shared/recorded_reads.py).
        self.absent = absent


def _invalid(loc: list[str], message: str) -> Refused:
    # The same shape as FastAPI's own 422s, naming the field.
    return Refused(422, [{"loc": loc, "msg": message, "type": "value_error"}])


def _merged_away(away: MergedAway) -> Refused:
    """409: the record addressed was merged into another; names the survivor so the caller can re-point."""
    return Refused(409, [{
        "loc": ["body" if away.field == "duplicate_id" else "path", away.field],
        "msg": f"person {away.person_id} was merged into {away.survivor_id}: address {away.survivor_id} instead",
        "type": "merged_away", "merged_into": str(away.survivor_id),
    }])


def _fingerprint(request: BaseModel, contract: type[BaseModel]) -> str:
    """SHA-256 of the request's content as validated: defaults filled in, key order and spacing
    gone. Only the fields of the HTTP contract count, so the same request over HTTP and AMQP (whose
    body also names the command and the person) has the same fingerprint."""
    content = request.model_dump(mode="json", include=set(contract.model_fields))
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _key_reused() -> Refused:
    # The IETF Idempotency-Key draft's answer to a key reused with another payload.
    return Refused(422, [{
        "loc": ["header", "Idempotency-Key"], "type": "idempotency_key_reused",
        "msg": "the idempotency key is already used for a different request payload; use a new key for a new request",
    }])


class AgencyCommands:
    def __init__(self, foundation: Foundation, application: IntakeApplication,
                 staff_registration_agencies: frozenset[str] = frozenset()) -> None:
        self._foundation = foundation
        self._application = application
        # Agencies whose staff (with the agency in their token) may register its people; by
        # default only the agency's own system registers its records.
        self._staff_registration_agencies = staff_registration_agencies
        # Each command travels with its access check, run in the same batch (see AccessCheck).
        self._commits: GroupCommit[tuple[Command, AccessCheck | None], Result] = GroupCommit(
            foundation.run_sync, application.execute_checked_batch,
            observe_batch=foundation.metrics.batch_observer("commands"))

    async def register(self, principal: Principal, request: RegisterPersonRequest,
                       provenance: Provenance) -> tuple[PersonRegistration, bool]:
        self._check_right(principal, Right.REGISTER_PERSON)
        try:
            # From the token and the request alone, before any lookup: the refusal is the same
            # whether the agency's record exists or not.
            check_may_register(principal, request.agency, self._staff_registration_agencies)
        except MayNotRegister as refusal:
            raise Refused(403, str(refusal)) from None
        registration = await self._submit(RegisterPerson(
            request.agency, request.agency_person_id, request.preferred_name, request.date_of_birth, provenance,
            request.pronouns, request.preferred_language,
        ))
        return PersonRegistration(person_id=registration.person_id), registration.created

    async def amend_details(self, principal: Principal, person_id: UUID, request: AmendDetailsRequest,
                            provenance: Provenance) -> tuple[DetailsAmended, bool]:
        # Checked before the batch: the body check below answers 422 only to callers who may see the record.
        await self.authorize(principal, Right.AMEND_PERSON, person_id)
        changes = request.changes()
        if changes.get("preferred_name", "") is None:
            raise _invalid(["body", "preferred_name"], "a person always has a preferred name")
        amendment = await self._submit(AmendDetails(person_id, changes, provenance))
        return DetailsAmended(person_id=person_id, changed=amendment.changed), True

    async def record_screening(self, principal: Principal, person_id: UUID, request: RecordScreeningRequest,
                               idempotency_key: str | None, provenance: Provenance) -> tuple[ScreeningRecorded, bool]:
        check = self._check(principal, Right.RECORD_SCREENING, person_id)
        screening_id = uuid5(SCREENING_NAMESPACE, f"{person_id}/{idempotency_key}") if idempotency_key else uuid4()
        answers = {item: None if answer == "declined" else answer for item, answer in request.answers.items()}
        fingerprint = _fingerprint(request, RecordScreeningRequest) if idempotency_key else None
        try:
            receipt = await self._submit(RecordScreening(
                person_id, screening_id, request.instrument, answers, provenance, request.sex, fingerprint), check)
        except InvalidAnswers as invalid:
            where = ["body", invalid.item] if invalid.item in ("instrument", "sex") else ["body", "answers", invalid.item]
            raise _invalid(where, invalid.message) from None
        result = receipt.result
        view = None if result is None else ScreeningResultView(
            instrument=result.instrument, domain=result.domain, total=result.total, band=result.band,
            positive=result.positive, flags=list(result.flags), complete=result.complete, urgent=result.urgent,
        )
        return ScreeningRecorded(person_id=person_id, screening_id=screening_id, result=view), receipt.created

    async def record_crisis_contact(
        self, principal: Principal, person_id: UUID, request: RecordCrisisContactRequest,
        idempotency_key: str | None, provenance: Provenance,
    ) -> tuple[CrisisContactRecorded, bool]:
        check = self._check(principal, Right.RECORD_CRISIS_CONTACT, person_id)
        contact_id = uuid5(CRISIS_CONTACT_NAMESPACE, f"{person_id}/{idempotency_key}") if idempotency_key else uuid4()
        try:
            receipt = await self._submit(RecordCrisisContact(
                person_id, contact_id, request.kind, request.occurred_at, request.location, request.responders,
                request.what_helped, request.outcome, request.follow_up_due, provenance,
                _fingerprint(request, RecordCrisisContactRequest) if idempotency_key else None,
            ), check)
        except InvalidCrisisContact as invalid:
            raise _invalid(["body", invalid.field], invalid.message) from None
        recorded = CrisisContactRecorded(person_id=person_id, contact_id=contact_id, follow_up_due=receipt.follow_up_due)
        return recorded, receipt.created

    async def grant_consent(self, principal: Principal, person_id: UUID, request: GrantConsentRequest,
                            idempotency_key: str | None, provenance: Provenance) -> tuple[ConsentRecorded, bool]:
        check = self._check(principal, Right.RECORD_CONSENT, person_id)
        directive_id = str(uuid5(CONSENT_NAMESPACE, f"{person_id}/{idempotency_key}") if idempotency_key else uuid4())
        starts_at = request.starts_at or datetime.now(timezone.utc)
        return await self._consent(GrantConsent(
            person_id, directive_id, request.recipient_kind, request.recipient_id, list(request.categories),
            starts_at, request.expires_at, provenance,
            _fingerprint(request, GrantConsentRequest) if idempotency_key else None), check)

    async def revoke_consent(self, principal: Principal, person_id: UUID, directive_id: str,
                             request: RevokeConsentRequest, provenance: Provenance) -> tuple[ConsentRecorded, bool]:
        check = self._check(principal, Right.RECORD_CONSENT, person_id)
        revoked_at = request.revoked_at or datetime.now(timezone.utc)
        return await self._consent(RevokeConsent(person_id, directive_id, revoked_at, provenance), check)

    async def _consent(self, command: GrantConsent | RevokeConsent, check: AccessCheck) -> tuple[ConsentRecorded, bool]:
        try:
            receipt = await self._submit(command, check)
        except InvalidConsent as invalid:
            if invalid.field == "directive_id":
                raise Refused(404, "no such consent directive") from None
            raise _invalid(["body", invalid.field], invalid.message) from None
        return ConsentRecorded(person_id=command.person_id, directive_id=command.directive_id), receipt.created

    async def merge_people(self, principal: Principal, survivor_id: UUID, request: MergePeopleRequest,
                           provenance: Provenance) -> tuple[PeopleMerged, bool]:
        """Merge a duplicate into the survivor; the caller must see both records (else 404)."""
        check = self._check(principal, Right.MERGE_PEOPLE, survivor_id, request.duplicate_id)
        try:
            receipt = await self._submit(MergePeople(survivor_id, request.duplicate_id, request.reason, provenance),
                                         check)
        except CannotMerge as invalid:
            raise _invalid(["body", invalid.field], invalid.message) from None
        assert receipt.merge_id is not None  # a merge that stands has its id
        merged = PeopleMerged(
            merge_id=receipt.merge_id, survivor_id=receipt.survivor_id, duplicate_id=receipt.duplicate_id, reason=receipt.reason,
            agency_identities=[AgencyIdentity(agency=agency, agency_person_id=record)
                               for agency, record in receipt.agency_identities],
        )
        return merged, receipt.created

    async def undo_merge(self, principal: Principal, survivor_id: UUID, merge_id: UUID, request: UndoMergeRequest,
                         provenance: Provenance) -> tuple[MergeUndone, bool]:
        """Undo a merge into the survivor; the caller must see both records (else 404, as for a
        merge that does not exist)."""
        self._check_right(principal, Right.MERGE_PEOPLE)
        try:
            duplicate_id = await self._foundation.run_sync(self._application.duplicate_of_merge, survivor_id, merge_id)
            receipt = await self._submit(UndoMerge(survivor_id, duplicate_id, merge_id, request.reason, provenance),
                                         self._check(principal, Right.MERGE_PEOPLE, survivor_id, duplicate_id))
        except (PersonNotFound, UnknownMerge):
            raise Refused(404, "not found") from None
        except CannotMerge as invalid:
            raise _invalid(["body", invalid.field], invalid.message) from None
        undone = MergeUndone(merge_id=merge_id, survivor_id=survivor_id, duplicate_id=duplicate_id,
                             agency_identities=[AgencyIdentity(agency=agency, agency_person_id=record)
                                                for agency, record in receipt.agency_identities])
        return undone, receipt.created

    # What each command returns, for the type checker; `_submit` itself runs any of them.
    @overload
    async def _submit(self, command: RegisterPerson, check: AccessCheck | None = None) -> Registration: ...
    @overload
    async def _submit(self, command: AmendDetails, check: AccessCheck | None = None) -> Amendment: ...
    @overload
    async def _submit(self, command: RecordScreening, check: AccessCheck | None = None) -> ScreeningReceipt: ...
    @overload
    async def _submit(self, command: RecordCrisisContact, check: AccessCheck | None = None) -> CrisisContactReceipt: ...
    @overload
    async def _submit(self, command: GrantConsent | RevokeConsent, check: AccessCheck | None = None) -> ConsentReceipt: ...
    @overload
    async def _submit(self, command: MergePeople | UndoMerge, check: AccessCheck | None = None) -> MergeReceipt: ...
    async def _submit(self, command: Command, check: AccessCheck | None = None) -> Result:
        """Run a command addressed to one person: 404 if there is none or the caller may not see it,
        403 if the caller's role lacks the right, 409 if merged into another."""
        try:
            return await self._commits.submit((command, check))
        except (PersonNotFound, NotVisible):
            raise Refused(404, "not found") from None
        except MissingRight as refusal:
            raise Refused(403, str(refusal)) from None
        except MergedAway as away:
            raise _merged_away(away) from None
        except IdempotencyKeyReused:
            raise _key_reused() from None
        except CommandFailed as failure:
            # The log has what failed, by ids; the caller learns only that nothing was recorded.
            raise Refused(500, str(failure)) from None

    def _check(self, principal: Principal, right: Right, *person_ids: UUID) -> AccessCheck:
        """403 at once if the caller's role lacks `right`; whether they may act on these people's
        records is checked in the command's batch (404 from `_submit` if not)."""
        self._check_right(principal, right)
        return AccessCheck(principal, right, person_ids)

    async def authorize(self, principal: Principal, right: Right, person_id: UUID) -> None:
        """The caller holds `right` on this person's record, or Refused (403, or 404 outside their reach)."""
        self._check_right(principal, right)
        try:
            record = await self._foundation.run_sync(self._application.record_context, person_id)
            authorize(principal, right, record)
        except PersonNotFound:
            raise Refused(404, "not found", absent=True) from None
        except NotVisible:
            raise Refused(404, "not found") from None

    @staticmethod
    def _check_right(principal: Principal, right: Right) -> None:
        try:
            check_has_right(principal, right)
        except MissingRight as refusal:
            raise Refused(403, str(refusal)) from None

"""Intake's broker entry points: careplan's care-team events, which decide who sees a record, and
agency systems' commands."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from faststream.middlewares import AckPolicy
from faststream.rabbit import Channel, RabbitRouter
from faststream.rabbit.annotations import RabbitMessage
from pydantic import BaseModel

from services.intake.agency_commands import AgencyCommands, Refused
from services.intake.application import IntakeApplication
from shared.access import Principal
from shared.bootstrap import consumer_router, follower_router
from shared.consuming import PersonEventConsumer, team_change
from shared.contracts.base import Payload
from shared.contracts.intake_commands import (
    AgencyCommand,
    AmendDetailsCommand,
    GrantConsentCommand,
    MergePeopleCommand,
    RecordCrisisContactCommand,
    RecordScreeningCommand,
    RegisterPersonCommand,
    RevokeConsentCommand,
)
from shared.domain import Provenance, UpstreamRef
from shared.following import Unprocessable, UpstreamChange
from shared.runtime import Foundation
from shared.telemetry import correlation_id_var, usable_correlation_id, usable_traceparent
from shared.tracing import current_traceparent
from shared.tokens import InvalidToken, TokenVerifier
from shared.topology import COMMANDS_EXCHANGE, ConsumerTopology

TOPOLOGY = ConsumerTopology(service="intake", bindings=("careplan.care_team.#",))


def care_team_router(foundation: Foundation, application: IntakeApplication, topology: ConsumerTopology) -> RabbitRouter:
    def change_for(upstream: UpstreamRef, payload: Payload, occurred_at: datetime) -> UpstreamChange:
        change = team_change(upstream, payload)
        if change is None:
            raise Unprocessable(f"intake does not consume {payload.event_type}")
        return change

    consume = PersonEventConsumer(foundation.run_sync, application, change_for,
                                  observe_batch=foundation.metrics.batch_observer("consumer"))
    return follower_router(foundation, topology, consume, "Careplan's care-team events: who is on each person's team.")


COMMANDS_TOPOLOGY = ConsumerTopology(service="intake", bindings=("intake",), queue="commands",
                                     exchange=COMMANDS_EXCHANGE)


def agency_commands_router(foundation: Foundation, commands: AgencyCommands, verifier: TokenVerifier,
                           topology: ConsumerTopology) -> RabbitRouter:
    """Agency systems' commands over AMQP: the same handler, rights and idempotency as over HTTP."""
    router = consumer_router(foundation, topology)

    @router.subscriber(
        topology.inbox_queue(),
        COMMANDS_EXCHANGE,
        channel=Channel(prefetch_count=foundation.settings.consumer_prefetch),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title="intake.commands",
        description="Commands from agency systems (register_person, amend_details, record_screening, "
        "record_crisis_contact, "
        "grant_consent, revoke_consent, merge_people), "
        "each with a bearer token in the `authorization` header. The receipt goes to `reply_to` if set; "
        "a refused or invalid command is dead-lettered with the reason.",
    )
    async def on_agency_command(command: AgencyCommand, message: RabbitMessage) -> dict[str, Any]:
        headers = message.headers or {}
        principal = _principal(verifier, headers.get("authorization"))
        provenance = Provenance(
            actor_id=principal.subject, actor_role=principal.role.value,
            correlation_id=usable_correlation_id(message.correlation_id) or str(uuid.uuid4()),
            # The delivery's consume span when traced (continuing the sender's), else the sender's.
            traceparent=current_traceparent() or usable_traceparent(headers.get("traceparent")),
        )
        correlation_id_var.set(provenance.correlation_id)
        # A redelivered message has the same id: it records nothing new.
        idempotency_key = headers.get("idempotency-key") or message.message_id
        receipt: BaseModel  # each command has its own receipt
        try:
            match command:
                case RegisterPersonCommand():
                    receipt, _ = await commands.register(principal, command, provenance)
                case AmendDetailsCommand():
                    receipt, _ = await commands.amend_details(principal, command.person_id, command, provenance)
                case RecordScreeningCommand():
                    receipt, _ = await commands.record_screening(
                        principal, command.person_id, command, idempotency_key, provenance)
                case RecordCrisisContactCommand():
                    receipt, _ = await commands.record_crisis_contact(
                        principal, command.person_id, command, idempotency_key, provenance)
                case GrantConsentCommand():
                    receipt, _ = await commands.grant_consent(
                        principal, command.person_id, command, idempotency_key, provenance)
                case RevokeConsentCommand():
                    receipt, _ = await commands.revoke_consent(
                        principal, command.person_id, command.directive_id, command, provenance)
                case MergePeopleCommand():
                    receipt, _ = await commands.merge_people(principal, command.survivor_id, command, provenance)
        except Refused as refused:
            raise Unprocessable(f"refused ({refused.status}): {refused.detail}") from None
        return receipt.model_dump(mode="json")

    return router


def _principal(verifier: TokenVerifier, authorization: Any) -> Principal:
    scheme, _, token = str(authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unprocessable("refused (401): a bearer token is required in the authorization header")
    try:
        return verifier.verify(token)
    except InvalidToken as error:
        raise Unprocessable(f"refused (401): invalid token: {error}") from None

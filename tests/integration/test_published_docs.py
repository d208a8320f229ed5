"""The OpenAPI and AsyncAPI documents under docs/ are the ones the code generates."""

from __future__ import annotations

from carecoord.docs import render, service_documents


def test_checked_in_api_documents_match_the_code(isolation):
    for path, document in service_documents(isolation.database_url).items():
        assert path.exists(), f"{path} is missing: run `carecoord docs`"
        assert path.read_text() == render(document), f"{path} is out of date: run `carecoord docs`"


def test_the_asyncapi_document_names_every_published_contract_and_its_envelope(isolation):
    documents = {path.parent.name + "/" + path.stem: doc for path, doc in service_documents(isolation.database_url).items()}
    intake = documents["asyncapi/intake"]
    assert set(intake["channels"]) == {
        "intake.person_registered.v1", "intake.person_details_amended.v1", "intake.screening_completed.v1",
        "intake.screening_recorded.v1", "intake.screening_scored.v1",
        "intake.urgent_screening_result.v1", "intake.crisis_contact_recorded.v1", "intake.consent_granted.v1",
        "intake.consent_revoked.v1", "intake.person_merged.v1", "intake.person_merged_into.v1",
        "intake.person_merge_undone.v1", "intake.inbox",
        "intake.commands",
    }
    envelope = intake["components"]["schemas"]["IntegrationEvent[ScreeningRecordedV1]"]
    assert {"event_id", "type", "version", "source", "position", "person_id", "person_sequence",
            "occurred_at", "correlation_id", "payload"} <= set(envelope["required"])
    assert set(documents["asyncapi/careplan"]["channels"]) == {
        "careplan.inbox", "careplan.care_team.formed.v1", "careplan.care_team.member_joined.v1",
        "careplan.care_team.member_left.v1", "careplan.medication.record_opened.v1",
        "careplan.medication.note_added.v1", "careplan.medication.prescribing_decision_recorded.v1",
        "careplan.crisis_follow_ups.recorded.v1", "careplan.plan_changes.changed.v1",
    }

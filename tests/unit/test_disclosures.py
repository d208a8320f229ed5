"""The accounting of disclosures: which entries each rule's window keeps, its CSV and FHIR forms
(AuditEvents validated by fhir.resources), and careplan's /shared recording each disclosure before
it answers (503, nothing shown, when it cannot)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from uuid import uuid4

import httpx
import pytest
from eventsourcing.persistence import OperationalError
from fastapi import FastAPI
from fhir.resources.R4B.auditevent import AuditEvent

from carecoord.audit.disclosures import as_csv, as_fhir_bundle, fetch_accounting, render
from services.careplan import deps
from services.careplan.api import shared_record
from services.careplan.application import CareplanApplication
from services.careplan.bootstrap import retry_later
from services.careplan.domain.timeline import Timeline
from services.careplan.sharing_use_cases import DisclosureNotRecorded
from services.notifications.application import NotificationsApplication
from services.notifications.domain.delivery import AttemptOutcome
from services.notifications.domain.subscriptions import Filters, Owner
from services.notifications.match_recording import Match
from services.notifications.subscriptions_app import WebhookSubscriptions
from shared.access_recording import AccessRecorder
from shared.disclosure_api import disclosures_router, recorded_disclosures
from shared.disclosures import Disclosure, DisclosureLedger, accounting
from shared.tokens import TokenSettings, TokenVerifier
from tests.support.system import TEST_JWT_SECRET, bearer
from tests.unit.conftest import IN_MEMORY
from tests.unit.test_following import upstream
from tests.unit.test_notifications_routes import RunsInline

NOW = datetime(2026, 12, 7, 12, tzinfo=timezone.utc)
AUNT = bearer("support_person", "aunt-rosa")


def disclosure(at: datetime, *categories: str, disclosure_id: str | None = None) -> Disclosure:
    return Disclosure(disclosure_id or str(uuid4()), uuid4(), at, "named_person", "aunt-rosa", None, None,
                      "shared_record", categories, ("preferred name",), "FAMRQT", ("d1",), "shared")


def test_each_entry_is_listed_for_its_rules_window_and_since_narrows():
    kept_6y = disclosure(NOW - timedelta(days=5 * 365), "general", disclosure_id="general-5y")
    gone_6y = disclosure(NOW - timedelta(days=6 * 365 + 2), "general", disclosure_id="general-6y")
    kept_3y = disclosure(NOW - timedelta(days=2 * 365), "general", "substance_use", disclosure_id="part2-2y")
    gone_3y = disclosure(NOW - timedelta(days=3 * 365 + 2), "substance_use", disclosure_id="part2-3y")
    recent = disclosure(NOW - timedelta(days=1), "crisis", disclosure_id="crisis-1d")

    listed = accounting([recent, gone_3y, kept_6y, gone_6y, kept_3y], NOW)
    narrowed = accounting([recent, gone_3y, kept_6y, gone_6y, kept_3y], NOW, since=date(2024, 6, 1))

    assert [d.disclosure_id for d in listed] == ["general-5y", "part2-2y", "crisis-1d"]  # oldest first
    assert [d.disclosure_id for d in narrowed] == ["part2-2y", "crisis-1d"]
    assert (kept_3y.rule, kept_6y.rule) == ("42 CFR 2.25", "45 CFR 164.528")


def accounting_document(person_id: str) -> dict:
    entry = {
        "disclosure_id": str(uuid4()), "service": "notifications", "disclosed_at": "2026-12-06T10:00:00Z",
        "recipient": {"kind": "outside_agency", "id": "county-probation", "agency": "county-probation",
                      "address": "hooks.county.example"},
        "channel": "webhook", "categories": ["crisis"], "parts": ["notice: crisis", "notice summary"],
        "description": "Webhook delivery of a 'crisis' notice (crisis) with its summary sentence",
        "purpose": "TREAT", "purpose_display": "treatment", "consent_directives": ["directive-7"],
        "rule": "45 CFR 164.528"}
    read = {**entry, "disclosure_id": str(uuid4()), "service": "careplan", "channel": "shared_record",
            "recipient": {"kind": "named_person", "id": "aunt-rosa", "agency": None, "address": None},
            "categories": ["general", "substance_use"], "parts": ["preferred name", "goals (1)"],
            "purpose": "FAMRQT", "purpose_display": "family requested", "rule": "42 CFR 2.25",
            "description": "Care record shared by consent (general, substance use): preferred name, goals (1)"}
    return {"person_id": person_id, "generated_at": NOW.isoformat(), "since": None, "windows": {},
            "disclosures": [entry, read]}


def test_each_disclosure_is_an_audit_event_shaped_as_balps_privacy_disclosure():
    person_id = str(uuid4())
    document = accounting_document(person_id)

    bundle = json.loads(render(document, "fhir"))
    events = [AuditEvent.model_validate(entry["resource"]) for entry in bundle["entry"]]  # valid R4 resources

    assert bundle["type"] == "collection" and len(events) == 2
    webhook, read = events
    for event in events:
        assert event.meta.profile == [
            "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PrivacyDisclosure.Source"]
        assert (event.type.system, event.type.code) == ("http://dicom.nema.org/resources/ontology/DCM", "110106")
        assert [(c.system, c.code) for c in event.subtype] == [
            ("http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle", "disclose")]
        assert event.entity[0].what.reference == f"Patient/{person_id}"
        assert [a.type.coding[0].code for a in event.agent] == ["110153", "110152"]
    assert webhook.purposeOfEvent[0].coding[0].code == "TREAT"
    assert read.purposeOfEvent[0].coding[0].code == "FAMRQT"
    assert webhook.agent[1].who.identifier.value == "county-probation"
    assert webhook.agent[1].network.address == "hooks.county.example"
    assert webhook.agent[0].policy == ["urn:carecoord:consent-directive:directive-7"]
    assert read.agent[1].requestor is True and webhook.agent[1].requestor is False
    assert read.entity[1].description.startswith("Care record shared by consent")
    assert [label.code for label in read.entity[1].securityLabel] == ["general", "substance_use"]
    assert as_fhir_bundle(document).entry[0].resource.id == document["disclosures"][0]["disclosure_id"]


def test_the_csv_has_one_row_per_disclosure_with_lists_joined():
    rows = list(csv.DictReader(io.StringIO(as_csv(accounting_document(str(uuid4()))["disclosures"]))))

    assert [(r["service"], r["recipient_kind"], r["recipient_id"], r["purpose"]) for r in rows] == [
        ("notifications", "outside_agency", "county-probation", "TREAT"),
        ("careplan", "named_person", "aunt-rosa", "FAMRQT")]
    assert rows[1]["categories"] == "general; substance_use"
    assert rows[0]["consent_directives"] == "directive-7" and rows[0]["recipient_address"] == "hooks.county.example"


class LedgerUnavailable(CareplanApplication):
    """The database refuses the accounting's write (and only it)."""

    def save(self, *objs, **kwargs):  # noqa: ANN002, ANN003, ANN201
        if any(isinstance(obj, DisclosureLedger) for obj in objs):
            raise OperationalError("the database went away")
        return super().save(*objs, **kwargs)


@pytest.fixture(params=[CareplanApplication, LedgerUnavailable])
def application(request) -> Iterator[CareplanApplication]:
    in_memory = request.param(env=IN_MEMORY)
    yield in_memory
    in_memory.close()


@pytest.fixture
def person(application: CareplanApplication) -> str:
    """A person who shares general information with aunt Rosa."""
    person_id = uuid4()
    timeline = Timeline(person_id=person_id)
    timeline.note_person(upstream(person_id, 1), "person_registered", "Registered", NOW, {"preferred_name": "Luz"})
    timeline.note_consent(upstream(person_id, 2), "consent", NOW, "directive-1", "named_person", "aunt-rosa",
                          ["general"], NOW - timedelta(days=1), None)
    application.save(timeline)
    return str(person_id)


@pytest.fixture
def client(application: CareplanApplication) -> httpx.AsyncClient:
    app = FastAPI(exception_handlers={DisclosureNotRecorded: retry_later})
    app.include_router(shared_record.router)
    app.include_router(disclosures_router("careplan"))
    app.state.token_verifier = TokenVerifier(TokenSettings("carecoord", "carecoord-dev", dev_secret=TEST_JWT_SECRET))
    app.state.foundation = RunsInline()
    app.state.foundation.application = application
    app.state.access_recorder = AccessRecorder(app.state.foundation.run_sync, application)
    app.dependency_overrides[deps.application] = lambda: application
    app.dependency_overrides[deps.foundation] = lambda: app.state.foundation
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://careplan")


async def test_a_read_through_shared_is_in_the_accounting_or_is_not_answered(client, person, application):
    accounting_path = f"/audit/people/{person}/disclosures"
    async with client:
        shared = await client.get(f"/people/{person}/shared", headers={**AUNT, "X-Purpose-Of-Use": "famrqt"})
        listed = await client.get(accounting_path, headers=bearer("auditor", "ada"))

    if isinstance(application, LedgerUnavailable):
        assert shared.status_code == 503 and shared.headers["Retry-After"] == "1"
        assert "Luz" not in shared.text  # nothing disclosed that is not accounted for
        assert listed.json()["disclosures"] == []
        return
    assert shared.status_code == 200 and shared.json()["preferred_name"] == "Luz"
    [entry] = listed.json()["disclosures"]
    assert entry["recipient"] == {"kind": "named_person", "id": "aunt-rosa", "agency": None, "address": None}
    assert (entry["channel"], entry["categories"], entry["parts"]) == ("shared_record", ["general"], ["preferred name"])
    assert (entry["purpose"], entry["consent_directives"], entry["service"]) == ("FAMRQT", ["directive-1"], "careplan")
    assert "Luz" not in listed.text  # what was disclosed is named, never copied


async def test_a_purpose_of_use_that_is_not_a_known_code_is_refused_naming_the_header(client, person):
    async with client:
        refused = await client.get(f"/people/{person}/shared", headers={**AUNT, "X-Purpose-Of-Use": "CURIOSITY"})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["header", "X-Purpose-Of-Use"]


async def test_an_auditor_and_the_person_read_the_accounting_and_nobody_else(client, person):
    path = f"/audit/people/{person}/disclosures"
    async with client:
        answers = {who: (await client.get(path, headers=headers)).status_code for who, headers in {
            "auditor": bearer("auditor", "ada"), "the person": bearer("person", "luz", person_id=person),
            "someone else served": bearer("person", "kim", person_id=str(uuid4())),
            "a clinician": bearer("clinician", "casey"), "the aunt": AUNT,
            "an outside agency": bearer("outside_agency", "probation", agency="county-probation"),
            "an agency system": bearer("agency_system")}.items()}
    assert answers == {"auditor": 200, "the person": 200, "someone else served": 404, "a clinician": 403,
                       "the aunt": 403, "an outside agency": 403, "an agency system": 403}


@pytest.mark.parametrize(("owner", "status_code", "disclosed"), [
    (Owner("aunt-rosa", "support_person"), 204, True),
    (Owner("probation-officer", "outside_agency", agency="county-probation"), 200, True),
    (Owner("aunt-rosa", "support_person"), 503, False),  # only a delivery that succeeded discloses
    (Owner("casey", "care_coordinator"), 204, False),  # the treating team
    (Owner("sam", "supervisor", app="team-app", members=("casey",)), 204, False),  # the team's own software
])
def test_a_webhook_delivered_outside_the_treating_team_is_a_disclosure(owner, status_code, disclosed):
    application = NotificationsApplication(env=IN_MEMORY)
    webhooks = WebhookSubscriptions(application, clock=lambda: NOW.timestamp())
    subscription = webhooks.subscribe(owner, "https://hooks.county.example/in?token=secret", Filters(), "id-only", None)
    person_id = uuid4()
    [lane] = webhooks.record_matches([Match(subscription.id, "n-1", str(person_id), "crisis", True, "crisis", NOW)], 1)

    webhooks.record_attempt(lane, subscription.id, 1, NOW, AttemptOutcome(status_code, None, 12), (1.0,), None, False)

    found = recorded_disclosures(application, person_id)
    application.close()
    if not disclosed:
        assert found == []
        return
    [entry] = found
    assert (entry.channel, entry.categories, entry.parts, entry.disclosed_at) == (
        "webhook", ("crisis",), ("notice: crisis",), NOW)
    assert entry.recipient_address == "hooks.county.example"  # the host: never the URL, which may hold a secret
    assert (entry.recipient_kind, entry.recipient_id) == (
        ("outside_agency", "county-probation") if owner.role == "outside_agency" else ("named_person", "aunt-rosa"))


def test_the_accounting_command_states_why_it_reads_so_each_service_records_that_purpose():
    stated: list[str | None] = []

    def service(request: httpx.Request) -> httpx.Response:
        stated.append(request.headers.get("X-Purpose-Of-Use"))
        return httpx.Response(200, json={"disclosures": []})

    transport = httpx.MockTransport(service)
    urls = {"careplan": "http://careplan", "notifications": "http://notifications"}
    fetch_accounting(uuid4(), "a-token", urls=urls, transport=transport)
    fetch_accounting(uuid4(), "a-token", urls=urls, transport=transport, purpose="HLEGAL")
    assert stated == ["HCOMPL", "HCOMPL", "HLEGAL", "HLEGAL"]

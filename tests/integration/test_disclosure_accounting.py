"""A person's accounting of disclosures, end to end: a support person and an outside agency read
what the person shares with them, a crisis notice reaches the support person's webhook; the
treating team reads the record and receives its notices too. The accounting (each service's part,
and `carecoord audit disclosures` merging them as JSON, CSV and FHIR) lists the consented
disclosures, with recipient, what, purpose and consent, and nothing of the treating team's."""

from __future__ import annotations

import asyncio
import csv
import io
import json

from fhir.resources.R4B.auditevent import AuditEvent
from typer.testing import CliRunner

from carecoord.cli import app
from tests.integration.test_webhook_access import settled
from tests.integration.webhook_support import CASEY, person_with_team, screen, start
from tests.support.polling import eventually
from tests.support.receiver import receiving
from tests.support.serving import serving
from tests.support.system import System, bearer, token

AUNT = bearer("support_person", "aunt-rosa")
PROBATION = bearer("outside_agency", "probation-officer", agency="county-probation")
AUDITOR = bearer("auditor", "ada")


async def test_the_accounting_lists_consented_disclosures_and_nothing_from_the_treating_team(system: System):
    intake, careplan, notifications = await start(system)
    person_id = await person_with_team(system, intake, careplan, notifications, "accounting-1")
    async with receiving() as receiver, system.client(intake, "agency_system") as i, \
            system.client(careplan) as c, system.client(notifications) as n:
        directives = {}
        for recipient, categories in ((("named_person", "aunt-rosa"), ["general", "crisis"]),
                                      (("outside_agency", "county-probation"), ["general", "substance_use"])):
            granted = await i.post(f"/people/{person_id}/consents", json={
                "recipient_kind": recipient[0], "recipient_id": recipient[1], "categories": categories})
            assert granted.status_code == 201, granted.text
            directives[recipient[1]] = granted.json()["directive_id"]
        aunts = (await n.post("/subscriptions", headers=AUNT, json={"url": receiver.url, "content": "summary"})).json()
        caseys = (await n.post("/subscriptions", headers=CASEY, json={"url": receiver.url})).json()

        async def shared_with(headers):
            response = await c.get(f"/people/{person_id}/shared", headers=headers)
            return response.json() if response.status_code == 200 else None
        await eventually(lambda: shared_with({**AUNT, "X-Purpose-Of-Use": "FAMRQT"}), what="the aunt's consent")
        await eventually(lambda: shared_with(PROBATION), what="the agency's consent")
        for path in ("picture", "picture/fhir", "timeline", "team"):  # the treating team's reads
            assert (await c.get(f"/people/{person_id}/{path}", headers=CASEY)).status_code == 200, path

        await screen(system, intake, person_id)  # a positive screening with suicide risk: two notices
        aunt_deliveries = await settled(n, aunts["subscription_id"], AUNT, 2)
        casey_deliveries = await settled(n, caseys["subscription_id"], CASEY, 2)
        assert [(kind, status) for _, kind, status, _ in aunt_deliveries] == [
            ("screening_positive", "suppressed"), ("crisis", "delivered")]  # no consent for mental health
        assert any(status == "delivered" for _, _, status, _ in casey_deliveries)

        careplan_part = (await c.get(f"/audit/people/{person_id}/disclosures", headers=AUDITOR)).json()
        notifications_part = (await n.get(f"/audit/people/{person_id}/disclosures", headers=AUDITOR)).json()
        own = await n.get(f"/audit/people/{person_id}/disclosures", headers=bearer("person", "sam", person_id=person_id))
        assert own.status_code == 200 and own.json()["disclosures"] == notifications_part["disclosures"]
        assert (await c.get(f"/audit/people/{person_id}/disclosures", headers=CASEY)).status_code == 403

    aunt_read, agency_read = careplan_part["disclosures"]
    assert (aunt_read["recipient"]["id"], aunt_read["purpose"], aunt_read["categories"]) == (
        "aunt-rosa", "FAMRQT", ["general", "crisis"])
    assert aunt_read["consent_directives"] == [directives["aunt-rosa"]] and aunt_read["rule"] == "45 CFR 164.528"
    assert (agency_read["recipient"], agency_read["purpose"], agency_read["categories"]) == (
        {"kind": "outside_agency", "id": "county-probation", "agency": "county-probation", "address": None},
        "TREAT", ["general", "substance_use"])
    assert agency_read["rule"] == "42 CFR 2.25"  # substance use: Part 2's accounting
    [webhook] = notifications_part["disclosures"]
    assert (webhook["channel"], webhook["recipient"]["id"], webhook["recipient"]["address"]) == (
        "webhook", "aunt-rosa", "127.0.0.1")
    assert (webhook["categories"], webhook["parts"]) == (["crisis"], ["notice: crisis", "notice summary"])
    assert webhook["consent_directives"] == [directives["aunt-rosa"]]
    # Nothing of the treating team's: every entry went to someone outside it.
    everyone = [*careplan_part["disclosures"], *notifications_part["disclosures"]]
    assert {entry["recipient"]["id"] for entry in everyone} == {"aunt-rosa", "county-probation"}

    async with serving(careplan) as careplan_at, serving(notifications) as notifications_at:
        urls = ["--careplan", "http://%s:%d" % careplan_at, "--notifications", "http://%s:%d" % notifications_at]

        async def cli(*arguments: str) -> str:
            result = await asyncio.to_thread(CliRunner().invoke, app, [
                "audit", "disclosures", person_id, "--token", token("auditor", "ada"), *urls, *arguments])
            assert result.exit_code == 0, result.output
            return result.stdout
        merged = json.loads(await cli())
        rows = list(csv.DictReader(io.StringIO(await cli("--format", "csv"))))
        bundle = json.loads(await cli("--format", "fhir"))
        later = json.loads(await cli("--since", "2199-01-01"))

    assert [entry["disclosure_id"] for entry in merged["disclosures"]] == [
        entry["disclosure_id"] for entry in sorted(everyone, key=lambda entry: entry["disclosed_at"])]
    assert [(row["service"], row["channel"], row["recipient_id"]) for row in rows] == [
        ("careplan", "shared_record", "aunt-rosa"), ("careplan", "shared_record", "county-probation"),
        ("notifications", "webhook", "aunt-rosa")]
    events = [AuditEvent.model_validate(entry["resource"]) for entry in bundle["entry"]]
    assert [(e.type.code, e.agent[1].who.identifier.value) for e in events] == [
        ("110106", "aunt-rosa"), ("110106", "county-probation"), ("110106", "aunt-rosa")]
    assert later["disclosures"] == []

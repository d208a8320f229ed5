"""A person's accounting of disclosures across the services (`carecoord audit disclosures`).

Each service that discloses serves its own part at `GET /audit/people/{id}/disclosures` (careplan:
what support persons and outside agencies read through `/shared`; notifications: notices
delivered to their webhooks or sent on their live stream), already limited to the rules' windows. This merges them over HTTP,
with the caller's token (an auditor's, or the person's own), in time order, and renders them as
JSON, CSV, or FHIR R4 AuditEvent resources shaped as IHE BALP's PrivacyDisclosure (at the
source), in a `collection` Bundle validated by `fhir.resources` (R4B models: AuditEvent is the
same in R4 and R4B).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any
from uuid import UUID

import httpx

from shared.disclosures import (AUDIT_PURPOSE, HIPAA_WINDOW_YEARS, PART_2_WINDOW_YEARS, PURPOSE_HEADER,
                                PURPOSE_OF_USE_SYSTEM)

if TYPE_CHECKING:  # imported where used: the FHIR models take a noticeable time to import, and
    # `carecoord token` and the other audit commands need none of them
    from fhir.resources.R4B.auditevent import AuditEvent
    from fhir.resources.R4B.bundle import Bundle

# The services that disclose, and where `carecoord run` serves them.
DISCLOSING_SERVICES = {"careplan": "http://127.0.0.1:8002", "notifications": "http://127.0.0.1:8003"}
FORMATS = ("json", "csv", "fhir")

DCM = "http://dicom.nema.org/resources/ontology/DCM"
BALP_PRIVACY_DISCLOSURE_SOURCE = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PrivacyDisclosure.Source"
ISO_21089 = "http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
CONSENT_CATEGORY = "urn:carecoord:consent-category"
LOCAL_USERS = "urn:carecoord:user"
LOCAL_AGENCIES = "urn:carecoord:agency"
LOCAL_SERVICES = "urn:carecoord:service"
CONSENT_DIRECTIVE = "urn:carecoord:consent-directive:"


class AccountingUnavailable(Exception):
    """A service's part could not be read: the accounting would be incomplete, so none is given."""


def fetch_accounting(person_id: UUID, token: str, since: date | None = None,
                     urls: dict[str, str] | None = None, transport: httpx.BaseTransport | None = None,
                     purpose: str = AUDIT_PURPOSE) -> dict[str, Any]:
    """Every service's part, merged in time order (refused or unreachable: AccountingUnavailable)."""
    entries: list[dict[str, Any]] = []
    for service, url in (urls or DISCLOSING_SERVICES).items():
        params = {"since": since.isoformat()} if since is not None else {}
        try:
            with httpx.Client(base_url=url, timeout=30, transport=transport,
                              headers={"Authorization": f"Bearer {token}", PURPOSE_HEADER: purpose}) as client:
                answer = client.get(f"/audit/people/{person_id}/disclosures", params=params)
        except httpx.HTTPError as error:
            raise AccountingUnavailable(f"{service} at {url}: {type(error).__name__}") from None
        if answer.status_code != 200:
            raise AccountingUnavailable(f"{service} at {url} answered {answer.status_code}: {answer.text[:200]}")
        entries += answer.json()["disclosures"]
    entries.sort(key=lambda entry: (datetime.fromisoformat(entry["disclosed_at"]), entry["disclosure_id"]))
    return {"person_id": str(person_id), "generated_at": datetime.now(timezone.utc).isoformat(),
            "since": since.isoformat() if since else None,
            "windows": {"45 CFR 164.528": HIPAA_WINDOW_YEARS, "42 CFR 2.25": PART_2_WINDOW_YEARS},
            "disclosures": entries}


def render(accounting: dict[str, Any], output: str) -> str:
    if output == "json":
        return json.dumps(accounting, indent=2)
    if output == "csv":
        return as_csv(accounting["disclosures"])
    if output == "fhir":
        return as_fhir_bundle(accounting).model_dump_json(indent=2)
    raise ValueError(f"no format {output!r}: one of {', '.join(FORMATS)}")


CSV_COLUMNS = ("disclosed_at", "service", "recipient_kind", "recipient_id", "recipient_agency", "recipient_address",
               "channel", "categories", "parts", "description", "purpose", "purpose_display", "consent_directives",
               "rule", "disclosure_id")


def as_csv(entries: list[dict[str, Any]]) -> str:
    """One row per disclosure; lists joined with '; '."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for entry in entries:
        row = {column: entry.get(column) for column in CSV_COLUMNS}
        for part in ("kind", "id", "agency", "address"):
            row[f"recipient_{part}"] = entry["recipient"].get(part)
        for listed in ("categories", "parts", "consent_directives"):
            row[listed] = "; ".join(entry[listed])
        writer.writerow(row)
    return out.getvalue()


def as_fhir_bundle(accounting: dict[str, Any]) -> Bundle:
    from fhir.resources.R4B.bundle import Bundle
    events = [audit_event(accounting["person_id"], entry) for entry in accounting["disclosures"]]
    return Bundle.model_validate({
        "resourceType": "Bundle", "type": "collection", "timestamp": accounting["generated_at"],
        "entry": [{"fullUrl": f"urn:uuid:{event.id}", "resource": event.model_dump(mode="json", exclude_none=True)}
                  for event in events]})


def audit_event(person_id: str, entry: dict[str, Any]) -> AuditEvent:
    """One disclosure as BALP's PrivacyDisclosure at the source: an Export (DCM 110106), subtype
    ISO 21089 "disclose", the disclosing service as source agent, the recipient as destination
    agent, the patient and the data disclosed (by name) as entities, the purpose of use, and the
    consent directives that allowed it as the source agent's policies. Validated on construction."""
    from fhir.resources.R4B.auditevent import AuditEvent
    recipient = entry["recipient"]
    agency_recipient = recipient["kind"] == "outside_agency"
    recipient_who: dict[str, Any] = {
        "identifier": {"system": LOCAL_AGENCIES if agency_recipient else LOCAL_USERS, "value": recipient["id"]},
        "display": (f"outside agency {recipient['id']}" if agency_recipient
                    else f"{recipient['id']} (family or natural support named by the person)")}
    destination: dict[str, Any] = {
        "type": {"coding": [{"system": DCM, "code": "110152", "display": "Destination Role ID"}]},
        "who": recipient_who, "requestor": entry["channel"] == "shared_record"}
    if recipient.get("address"):
        destination["network"] = {"address": recipient["address"], "type": "1"}  # 1: machine name
    purpose = {"coding": [{"system": PURPOSE_OF_USE_SYSTEM, "code": entry["purpose"],
                           "display": entry["purpose_display"]}]}
    service = {"identifier": {"system": LOCAL_SERVICES, "value": entry["service"]}, "display": f"carecoord {entry['service']}"}
    return AuditEvent.model_validate({
        "resourceType": "AuditEvent", "id": entry["disclosure_id"],
        "meta": {"profile": [BALP_PRIVACY_DISCLOSURE_SOURCE]},
        "type": {"system": DCM, "code": "110106", "display": "Export"},
        "subtype": [{"system": ISO_21089, "code": "disclose", "display": "Disclose Record Lifecycle Event"}],
        "action": "R", "recorded": entry["disclosed_at"], "outcome": "0",
        "purposeOfEvent": [purpose],
        "agent": [
            {"type": {"coding": [{"system": DCM, "code": "110153", "display": "Source Role ID"}]},
             "who": service, "requestor": entry["channel"] != "shared_record",
             "policy": [CONSENT_DIRECTIVE + directive for directive in entry["consent_directives"]] or None},
            {**destination, "purposeOfUse": [purpose]},
        ],
        "source": {"site": "carecoord", "observer": service,
                   "type": [{"system": SOURCE_TYPE, "code": "4", "display": "Application Server"}]},
        "entity": [
            {"what": {"reference": f"Patient/{person_id}"},
             "type": {"system": ENTITY_TYPE, "code": "1", "display": "Person"},
             "role": {"system": OBJECT_ROLE, "code": "1", "display": "Patient"}},
            {"what": {"display": entry["description"]},
             "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
             "role": {"system": OBJECT_ROLE, "code": "4", "display": "Domain Resource"},
             "name": ", ".join(entry["parts"]) or None, "description": entry["description"],
             "securityLabel": [{"system": CONSENT_CATEGORY, "code": category} for category in entry["categories"]],
             "detail": [{"type": "channel", "valueString": entry["channel"]},
                        {"type": "rule", "valueString": entry["rule"]}]},
        ],
    })

"""Each service's OpenAPI document, used as an attacker and a careless client would (schemathesis).

The three services run as processes against the test's own database and vhost. A person is
registered and given a care team, and every generated request addresses that person, so that
requests pass authentication and authorization and reach the real code behind each operation.
Each operation is tried as a member of the person's care team and as the agency system that
registered them, with data that fits the document and data that breaks it. Every answer must be
no 5xx, a status the document lists for that operation, and a body matching the documented schema.

Bounded: a fixed number of examples per operation, generated deterministically (derandomized),
no shrinking; every failure is collected and reported together.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import hypothesis
import hypothesis.errors
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis.core.failures import FailureGroup

from tests.support.processes import ServiceProcess
from tests.support.servers import Isolation
from tests.support.system import TEST_AGENCY, bearer

pytestmark = [pytest.mark.fuzz, pytest.mark.timeout(600)]

SERVICES = ("intake", "careplan", "notifications")
EXAMPLES_PER_OPERATION = 25
MEMBER = "fuzz-care-coordinator"
PRINCIPALS = {
    "team member": bearer("care_coordinator", MEMBER),
    "agency system": bearer("agency_system", "fuzz-agency-system"),
}
CHECKS = [schemathesis.checks.not_a_server_error, schemathesis.checks.status_code_conformance,
          schemathesis.checks.response_schema_conformance]
PERSON_PARAMETERS = ("person_id", "survivor_id")


@pytest.fixture
def services(isolation: Isolation, tmp_path: Path) -> Iterator[dict[str, ServiceProcess]]:
    running = {name: ServiceProcess(name, isolation, tmp_path / f"{name}.log") for name in SERVICES}
    try:
        for process in running.values():
            process.start()
        yield running
    finally:
        for process in running.values():
            process.stop()


def seed_person_with_team(services: dict[str, ServiceProcess]) -> str:
    """A person registered by the agency, with MEMBER on their care team, known to every service."""
    intake, careplan, notifications = (services[name].url for name in SERVICES)
    registered = httpx.post(f"{intake}/people", headers=PRINCIPALS["agency system"], json={
        "agency": TEST_AGENCY, "agency_person_id": "FUZZ-1", "preferred_name": "Robin"})
    assert registered.status_code == 201, registered.text
    person_id = registered.json()["person_id"]
    joined = httpx.post(f"{careplan}/people/{person_id}/team", headers=bearer("supervisor", "fuzz-supervisor"),
                        json={"member_id": MEMBER, "role": "care_coordinator"})
    assert joined.status_code == 201, joined.text
    deadline = time.monotonic() + 30
    pending = {f"{intake}/people/{person_id}", f"{notifications}/people/{person_id}/notifications"}
    while pending and time.monotonic() < deadline:  # the team reaches intake and notifications by events
        pending = {url for url in pending if httpx.get(url, headers=PRINCIPALS["team member"]).status_code != 200}
        time.sleep(0.1)
    assert not pending, f"the care team never reached {pending}"
    return person_id


def seed_subscription(services: dict[str, ServiceProcess]) -> str:
    """A webhook subscription of MEMBER's, so that its routes reach the code behind them."""
    made = httpx.post(f"{services['notifications'].url}/subscriptions", headers=PRINCIPALS["team member"],
                      json={"url": "https://hooks.example/fuzz"})
    assert made.status_code == 201, made.text
    return made.json()["subscription_id"]


def endless_operations(document: dict) -> set[tuple[str, str]]:
    """(method, path) of operations whose success is an endless event stream: a generated request
    that is accepted would wait for its end. Their refusals (hostile Last-Event-ID, roles, tokens)
    are tested by tests/integration/test_notice_stream.py and the access matrix."""
    return {(method.upper(), path) for path, operations in document["paths"].items()
            for method, operation in operations.items()
            if "text/event-stream" in operation.get("responses", {}).get("200", {}).get("content", {})}


def fuzz(operation: schemathesis.APIOperation, mode: schemathesis.GenerationMode, base_url: str,
         headers: dict[str, str], person_id: str, session: requests.Session,
         subscription_id: str | None = None) -> dict[str, str]:
    """Failures found, by check and status: one example each."""
    found: dict[str, str] = {}
    path_parameters = {name: person_id for name in PERSON_PARAMETERS if f"{{{name}}}" in operation.path}
    if subscription_id is not None and "{subscription_id}" in operation.path:
        path_parameters["subscription_id"] = subscription_id

    @hypothesis.settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, deadline=None, database=None,
                         phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @hypothesis.given(case=operation.as_strategy(mode, path_parameters=path_parameters))
    def run(case: schemathesis.Case) -> None:
        try:
            case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, session=session, timeout=30)
        except FailureGroup as group:
            for failure in group.exceptions:
                found.setdefault(f"{failure.title}", f"{case.as_curl_command(headers=headers)[:1500]}\n"
                                                     f"{failure.message[:1500]}")

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        pass  # nothing to make invalid (an operation without parameters or body, in negative mode)
    return found


def test_every_operation_answers_as_documented_for_a_team_member_and_an_agency_system(services):
    person_id = seed_person_with_team(services)
    subscription_id = seed_subscription(services)
    failures: list[str] = []
    with requests.Session() as session:
        for name, process in services.items():
            schema = schemathesis.openapi.from_url(f"{process.url}/openapi.json")
            streamed = endless_operations(httpx.get(f"{process.url}/openapi.json").json())
            for result in schema.get_all_operations():
                operation = result.ok()
                if (operation.method.upper(), operation.path) in streamed:
                    continue  # never ends when accepted: tests/integration/test_notice_stream.py
                for principal, headers in PRINCIPALS.items():
                    for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
                        for title, example in fuzz(operation, mode, process.url, headers, person_id, session,
                                                    subscription_id).items():
                            failures.append(f"{name} {operation.label} as {principal} ({mode.value}): "
                                            f"{title}\n{example}")
    assert not failures, f"{len(failures)} failures:\n\n" + "\n\n".join(failures)

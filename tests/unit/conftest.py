import pytest

from services.careplan.application import CareplanApplication
from services.intake.application import IntakeApplication
from services.notifications.application import NotificationsApplication
from shared.domain import Provenance
from shared.eventstore import ensure_schema
from shared.settings import ServiceSettings
from tests.support.system import TEST_CIPHER_KEY

IN_MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.popo"}

PERSISTENCES = ["in_memory", "postgres"]


@pytest.fixture
def provenance() -> Provenance:
    return Provenance(actor_id="agency-7", actor_role="agency_system", correlation_id="corr-1")


@pytest.fixture(params=PERSISTENCES)
def persistence(request) -> str:
    """Runs each application test twice, changing only the environment (as eventsourcing's own
    examples do): in memory, and on PostgreSQL as the services run."""
    return request.param


def application_env(request, service: str) -> dict[str, str]:
    """The environment of `service`'s application for this test's `persistence`.

    In memory it is the services' own environment (cache, cipher) with only the persistence module
    swapped, so what differs between the two runs is the recorder alone. On PostgreSQL it is the
    service's environment on this test's own database, with the schema created."""
    if request.getfixturevalue("persistence") == "in_memory":
        services_env = ServiceSettings(service_name=service, event_cipher_key=TEST_CIPHER_KEY).eventsourcing_env()
        return {**{k: v for k, v in services_env.items() if not k.startswith("POSTGRES_")}, **IN_MEMORY}
    settings = ServiceSettings(service_name=service, database_url=request.getfixturevalue("isolation").database_url,
                               event_cipher_key=TEST_CIPHER_KEY)
    ensure_schema(settings)
    return settings.eventsourcing_env()


# Each service's application on this test's persistence (both, through `persistence`).

@pytest.fixture
def intake(request, persistence):
    application = IntakeApplication(env=application_env(request, "intake"))
    yield application
    application.close()


@pytest.fixture
def careplan(request, persistence):
    application = CareplanApplication(env=application_env(request, "careplan"))
    yield application
    application.close()


@pytest.fixture
def notifications(request, persistence):
    application = NotificationsApplication(env=application_env(request, "notifications"))
    yield application
    application.close()

import pytest

from shared.domain import Provenance

IN_MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


@pytest.fixture
def provenance() -> Provenance:
    return Provenance(actor_id="agency-7", actor_role="agency_system", correlation_id="corr-1")

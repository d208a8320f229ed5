from __future__ import annotations

import pytest

from tests.support.servers import Isolator, find_servers
from tests.support.system import System


@pytest.fixture(scope="session")
def servers():
    found, containers = find_servers()
    yield found
    for container in containers:
        container.stop()


@pytest.fixture
def isolation(servers):
    """This test's own database and vhost, dropped afterwards."""
    isolator = Isolator(servers)
    own = isolator.create()
    yield own
    isolator.destroy(own)


@pytest.fixture
async def system(isolation, servers):
    running = System(isolation, Isolator(servers))
    yield running
    await running.stop_all()

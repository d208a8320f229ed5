"""The OpenAPI and AsyncAPI documents of every service, generated from the code itself.

`carecoord docs` writes them under docs/; a test regenerates them and fails if they differ, so the
checked-in documents always match the code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from services.careplan.bootstrap import CareplanSettings
from services.careplan.bootstrap import create_service as careplan
from services.intake.bootstrap import IntakeSettings
from services.intake.bootstrap import create_service as intake
from services.notifications.bootstrap import NotificationsSettings
from services.notifications.bootstrap import create_service as notifications
from shared.bootstrap import asyncapi_document
from shared.cipher import new_key
from shared.settings import ServiceSettings

DOCS = Path(__file__).resolve().parent.parent / "docs"
# The documents name this broker; it is never connected to while generating them.
DOCUMENTED_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"


def service_documents(database_url: str) -> dict[Path, dict[str, Any]]:
    builders: list[tuple[type[ServiceSettings], Any]] = [
        (IntakeSettings, intake), (CareplanSettings, careplan), (NotificationsSettings, notifications),
    ]
    documents: dict[Path, dict[str, Any]] = {}
    for settings_class, create in builders:
        service = create(settings_class(database_url=database_url, amqp_url=DOCUMENTED_AMQP_URL,
                                        jwt_dev_secret="documents-only", event_cipher_key=new_key()))
        try:
            assert service.http is not None
            documents[DOCS / "openapi" / f"{service.name}.json"] = service.http.openapi()
            documents[DOCS / "asyncapi" / f"{service.name}.json"] = asyncapi_document(service)
        finally:
            service.executor.shutdown()
            service.application.close()
    return documents


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def write_docs(database_url: str) -> list[Path]:
    written = []
    for path, document in service_documents(database_url).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(document))
        written.append(path)
    return written

"""python -m services.notifications: run the notifications service until Ctrl-C."""

import asyncio

from services.notifications.bootstrap import create_service
from shared.telemetry import configure_logging


def main() -> None:
    service = create_service()
    configure_logging(service.name, service.settings.log_level, service.settings.log_json)
    asyncio.run(service.serve_http())


if __name__ == "__main__":
    main()

"""python -m services.careplan: run the careplan service until Ctrl-C."""

from services.careplan.bootstrap import create_service
from shared.runtime import run
from shared.telemetry import configure_logging


def main() -> None:
    service = create_service()
    configure_logging(service.name, service.settings.log_level, service.settings.log_json,
                      service.settings.log_levels)
    run(service)


if __name__ == "__main__":
    main()

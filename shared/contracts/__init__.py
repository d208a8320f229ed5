"""Published integration-event contracts, one module per publishing service.

`payload_model(type, version)` is how a consumer finds the schema of an event it received.
"""

from __future__ import annotations

from shared.contracts import careplan, intake
from shared.contracts.base import Payload


class UnknownContract(LookupError):
    """No contract with this type and version exists: the message cannot be understood."""


CONTRACTS: dict[tuple[str, int], type[Payload]] = {
    (model.event_type, model.version): model for model in (*intake.PAYLOADS, *careplan.PAYLOADS)
}


def payload_model(event_type: str, version: int) -> type[Payload]:
    try:
        return CONTRACTS[(event_type, version)]
    except KeyError:
        raise UnknownContract(f"no contract for {event_type} version {version}") from None

"""What every published payload model has: its event type name and version."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class Payload(BaseModel):
    # Unknown fields are ignored: a publisher may add optional fields within a version.
    model_config = ConfigDict(frozen=True, extra="ignore")
    event_type: ClassVar[str]
    version: ClassVar[int]

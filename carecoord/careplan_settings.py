"""Careplan's settings as the front door's commands open its application (`rebuild-picture`,
`audit as-of`): DATABASE_URL and EVENT_CIPHER_KEY as the services have them, else the key
`carecoord run` keeps in .dev/."""

from __future__ import annotations

import os

from pydantic import SecretStr

from carecoord.dev import kept_dev_value
from services.careplan.bootstrap import CareplanSettings

NO_KEY = "EVENT_CIPHER_KEY is not set (and `carecoord run` has kept none in .dev/)"


def careplan_settings() -> CareplanSettings | None:
    """None when there is no key to read the events with (print NO_KEY)."""
    key = os.environ.get("EVENT_CIPHER_KEY") or kept_dev_value("EVENT_CIPHER_KEY")
    return CareplanSettings(event_cipher_key=SecretStr(key)) if key else None

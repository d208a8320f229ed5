"""Development credentials: the HS256 secret and the event key `carecoord run` gives the
services, kept in .dev/ (gitignored) across runs, and tokens signed with that secret."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

from shared.access import Role
from shared.cipher import new_key
from shared.settings import ServiceSettings
from shared.tokens import issue_token

DEV_DIR = Path(".dev")
DEMO_AGENCY = "riverside-community-health"


def dev_file(variable: str) -> Path:
    """Where the development value of `variable` is kept (relative to the working directory)."""
    return DEV_DIR / variable.lower()


def kept_dev_value(variable: str) -> str | None:
    path = dev_file(variable)
    return path.read_text().strip() if path.exists() else None


def _dev_value(variable: str, make: Callable[[], str]) -> str:
    """The variable from the environment, else a value kept in .dev/ across runs."""
    if value := os.environ.get(variable):
        return value
    path = dev_file(variable)
    if not path.exists():
        DEV_DIR.mkdir(exist_ok=True)
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def dev_secret() -> str:
    """The HS256 secret local services and `carecoord token` share (development only)."""
    return _dev_value("JWT_DEV_SECRET", lambda: secrets.token_urlsafe(32))


def dev_cipher_key() -> str:
    return _dev_value("EVENT_CIPHER_KEY", new_key)


def dev_token(role: str, *, subject: str | None = None, agency: str | None = None, person_id: str | None = None,
              minutes: int = 60, app: str | None = None) -> str:
    settings = ServiceSettings()
    if role == Role.AGENCY_SYSTEM and not agency:
        agency = DEMO_AGENCY
    return issue_token(dev_secret(), "HS256", subject=subject or f"dev-{role}", role=role,
                       audience=settings.jwt_audience, issuer=settings.jwt_issuer, lifetime_seconds=minutes * 60,
                       agency=agency, person_id=person_id, app=app)

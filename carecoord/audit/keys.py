"""Where the audit commands find the database, the signing key and the verifier key."""

from __future__ import annotations

import sys

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from carecoord.dev import DEV_DIR
from shared.checkpoints import NoteSigner, NoteVerifier

SERVICES = ("intake", "careplan", "notifications")
DEV_KEY_FILE = "audit_signing_key"


class AuditSettings(BaseSettings):
    """AUDIT_SIGNING_KEY: the Ed25519 key that signs checkpoints, as the Go `note` package writes it
    (`PRIVATE+KEY+<name>+<hash>+<base64>`, `carecoord audit key` makes one) or a PKCS#8 PEM named by
    AUDIT_KEY_NAME. AUDIT_VERIFIER_KEY: the verifier key (`<name>+<hash>+<base64>`) an auditor holds
    instead of the signing key. AUDIT_ORIGIN: the prefix of each log's origin line."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    database_url: str = "postgresql://postgres@127.0.0.1:5432/carecoord"
    audit_signing_key: SecretStr | None = None
    audit_verifier_key: str | None = None
    audit_key_name: str = "carecoord-audit"
    audit_origin: str = "carecoord.local/"

    def origin(self, service: str) -> str:
        return f"{self.audit_origin}{service}"

    def signer(self) -> NoteSigner:
        if self.audit_signing_key is not None:
            return NoteSigner.from_text(self.audit_signing_key.get_secret_value(), self.audit_key_name)
        return _dev_signer(self.audit_key_name)

    def verifier(self, vkey: str | None = None) -> NoteVerifier:
        if vkey or self.audit_verifier_key:
            return NoteVerifier.from_vkey(vkey or self.audit_verifier_key or "")
        return self.signer().verifier()


def _dev_signer(name: str) -> NoteSigner:
    """Development only: a key kept in .dev/ (gitignored), as `carecoord run` keeps its other keys."""
    path = DEV_DIR / DEV_KEY_FILE
    if not path.exists():
        DEV_DIR.mkdir(exist_ok=True)
        path.write_text(NoteSigner.generate(name).text())
        path.chmod(0o600)
    print(f"AUDIT_SIGNING_KEY is not set: using the development key in {path}", file=sys.stderr)
    return NoteSigner.from_text(path.read_text())

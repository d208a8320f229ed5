"""Bearer tokens: verifying them (every service) and issuing development ones (the CLI, tests).

RS256 with a configured public key or JWKS file is the production path. HS256 with a shared secret
is accepted only when JWT_DEV_SECRET is set, which is for local development and tests.
Signature, expiry, audience and issuer are always checked.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import jwt

from shared.access import Principal, Role

REQUIRED_CLAIMS = ["exp", "iat", "sub", "role", "aud", "iss"]


class InvalidToken(Exception):
    """The token is missing, malformed, unsigned by a trusted key, expired, or not for us."""


class NoVerificationKey(RuntimeError):
    pass


@dataclass(frozen=True)
class TokenSettings:
    audience: str
    issuer: str
    public_key_pem: str | None = None
    jwks: dict[str, Any] | None = None
    dev_secret: str | None = None


class TokenVerifier:
    # Verified tokens remembered, so that a caller sending the same token with every request
    # (every agency system does) costs a dict lookup instead of a full decode and signature check.
    CACHE_SIZE = 1024

    def __init__(self, settings: TokenSettings, clock: Callable[[], float] = time.time) -> None:
        """`clock` (seconds since the epoch) decides when a token has expired, so tests can let time
        pass without waiting. PyJWT checks every claim against the real time first; a clock ahead of
        it only ever refuses more."""
        self._settings = settings
        self._clock = clock
        # token -> (principal, exp). Only tokens that passed every check get in; the keys are
        # fixed for the process's life, so a remembered token stays valid until its `exp`, which
        # is checked again on every use (iat and nbf, checked once, can only stay satisfied).
        self._verified: dict[str, tuple[Principal, float]] = {}
        self._keys: list[tuple[Any, str]] = []
        if settings.public_key_pem:
            self._keys.append((settings.public_key_pem, "RS256"))
        if settings.jwks:
            for key in jwt.PyJWKSet.from_dict(settings.jwks).keys:
                self._keys.append((key.key, key.algorithm_name or "RS256"))
        if settings.dev_secret:
            self._keys.append((settings.dev_secret, "HS256"))
        if not self._keys:
            raise NoVerificationKey(
                "no token verification key configured: set JWT_PUBLIC_KEY_FILE or JWT_JWKS_FILE "
                "(or JWT_DEV_SECRET for local development only)"
            )

    def verify(self, token: str) -> Principal:
        remembered = self._verified.get(token)
        if remembered is not None:
            principal, expires = remembered
            if self._clock() < expires:
                return principal
            del self._verified[token]
        principal, expires = self._verify(token)
        if len(self._verified) >= self.CACHE_SIZE:
            self._verified.clear()  # simple bound: callers re-verify once
        self._verified[token] = (principal, expires)
        return principal

    def expiry(self, token: str) -> float:
        """When a token expires (seconds since the epoch): what a long-lived answer (a live stream)
        on it must not outlast. Raises InvalidToken as `verify` does."""
        remembered = self._verified.get(token)
        return remembered[1] if remembered is not None else self._verify(token)[1]

    def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
        except jwt.PyJWTError as error:
            raise InvalidToken(f"malformed token: {error}") from None
        candidates = [key for key, alg in self._keys if alg == algorithm]
        if algorithm is None or not candidates:
            raise InvalidToken(f"tokens signed with {algorithm} are not accepted")
        last_error: Exception | None = None
        for key in candidates:
            try:
                claims = jwt.decode(
                    token, key, algorithms=[algorithm], audience=self._settings.audience,
                    issuer=self._settings.issuer, options={"require": REQUIRED_CLAIMS},
                )
                expires = float(claims["exp"])
                if expires <= self._clock():
                    raise jwt.ExpiredSignatureError("Signature has expired")
                return principal_from_claims(claims), expires
            except jwt.InvalidSignatureError as error:
                last_error = error
            except (jwt.PyJWTError, ValueError) as error:
                raise InvalidToken(str(error)) from None
        raise InvalidToken(f"signature not valid ({last_error})")


SUBJECT_MAX_LENGTH = 200


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    """The caller a verified token names. A signature only proves who issued the claims, not that
    they are well formed: every claim is checked for its type here, so a malformed one is 401."""
    role = _role(claims.get("role"))
    subject = _text_claim(claims, "sub")
    agency = None if claims.get("agency") is None else _text_claim(claims, "agency")
    person_id = _person_id(claims.get("person_id"))
    if role is Role.PERSON and person_id is None:
        raise InvalidToken("a person's token must name the person (person_id)")
    if role in (Role.AGENCY_SYSTEM, Role.OUTSIDE_AGENCY) and agency is None:
        raise InvalidToken(f"an {role.value.replace('_', ' ')}'s token must name the agency")
    app = None if claims.get("app") is None else _text_claim(claims, "app")
    if role is Role.CARE_TEAM_APP and app is None:
        raise InvalidToken("a care team app's token must name the app (app)")
    return Principal(subject=subject, role=role, agency=agency, person_id=person_id, app=app)


def _role(value: Any) -> Role:
    if not isinstance(value, str):
        raise InvalidToken("the role claim must be a string")
    try:
        return Role(value)
    except ValueError:
        raise InvalidToken(f"unknown role {value[:50]!r}") from None


def _text_claim(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not 0 < len(value) <= SUBJECT_MAX_LENGTH:
        raise InvalidToken(f"the {name} claim must be a string of 1 to {SUBJECT_MAX_LENGTH} characters")
    if not value.isprintable():
        raise InvalidToken(f"the {name} claim must not contain control characters")
    return value


def _person_id(value: Any) -> UUID | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidToken("the person_id claim must be a UUID string")
    try:
        return UUID(value)
    except ValueError:
        raise InvalidToken("the person_id claim must be a UUID string") from None


def issue_token(
    signing_key: str, algorithm: str, *, subject: str, role: Role | str, audience: str, issuer: str,
    lifetime_seconds: int = 3600, agency: str | None = None, person_id: UUID | str | None = None,
    now: float | None = None, app: str | None = None,
) -> str:
    """Sign a token (development and tests: production tokens come from the agency's identity provider)."""
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "sub": subject, "role": str(role), "aud": audience, "iss": issuer,
        "iat": issued, "exp": issued + lifetime_seconds,
    }
    if agency:
        claims["agency"] = agency
    if person_id:
        claims["person_id"] = str(person_id)
    if app:
        claims["app"] = app
    return jwt.encode(claims, signing_key, algorithm=algorithm)


def load_jwks(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())

"""Token verification: RS256 by public key or JWKS in production, HS256 only with a dev secret."""

import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.access import Role
from shared.tokens import InvalidToken, NoVerificationKey, TokenSettings, TokenVerifier, issue_token
from tests.support.clock import FakeClock

AUD, ISS = "carecoord", "https://idp.agency.example"


@pytest.fixture(scope="module")
def rsa_keys():
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()).decode()
    public_pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private_pem, public_pem, private.public_key()


def rs256(private_pem: str, **overrides) -> str:
    return issue_token(private_pem, "RS256", subject="dana", role="clinician", audience=AUD, issuer=ISS, **overrides)


def test_an_rs256_token_signed_by_the_configured_key_gives_its_principal(rsa_keys):
    private_pem, public_pem, _ = rsa_keys
    verifier = TokenVerifier(TokenSettings(audience=AUD, issuer=ISS, public_key_pem=public_pem))
    principal = verifier.verify(rs256(private_pem))
    assert (principal.subject, principal.role) == ("dana", Role.CLINICIAN)


def test_keys_from_a_jwks_document_verify_tokens(rsa_keys):
    private_pem, _, public_key = rsa_keys
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public_key))
    verifier = TokenVerifier(TokenSettings(audience=AUD, issuer=ISS, jwks={"keys": [{**jwk, "alg": "RS256", "kid": "k1"}]}))
    assert verifier.verify(rs256(private_pem)).subject == "dana"


def test_hs256_is_refused_unless_a_development_secret_is_configured(rsa_keys):
    _, public_pem, _ = rsa_keys
    verifier = TokenVerifier(TokenSettings(audience=AUD, issuer=ISS, public_key_pem=public_pem))
    hs256 = issue_token("a" * 32, "HS256", subject="x", role="auditor", audience=AUD, issuer=ISS)
    with pytest.raises(InvalidToken, match="HS256 are not accepted"):
        verifier.verify(hs256)


def test_a_token_signed_with_the_public_key_as_an_hmac_secret_is_refused(rsa_keys):
    # The classic algorithm-confusion attack: alg HS256 with the RSA public key as the secret.
    _, public_pem, _ = rsa_keys
    verifier = TokenVerifier(TokenSettings(audience=AUD, issuer=ISS, public_key_pem=public_pem))
    forged = jwt.encode({"sub": "x", "role": "auditor", "aud": AUD, "iss": ISS, "iat": int(time.time()),
                         "exp": int(time.time()) + 60}, "k" * 32, algorithm="HS256")
    with pytest.raises(InvalidToken):
        verifier.verify(forged)


@pytest.mark.parametrize(("overrides", "reason"), [
    ({"now": time.time() - 7200}, "(?i)expired"),
    ({"audience": "another-system"}, "(?i)audience"),
    ({"issuer": "https://evil.example"}, "(?i)issuer"),
])
def test_expired_or_misdirected_tokens_are_refused(rsa_keys, overrides, reason):
    private_pem, public_pem, _ = rsa_keys
    verifier = TokenVerifier(TokenSettings(audience=AUD, issuer=ISS, public_key_pem=public_pem))
    claims = {"subject": "dana", "role": "clinician", "audience": AUD, "issuer": ISS}
    now = overrides.pop("now", None)
    claims.update(overrides)
    token = issue_token(private_pem, "RS256", now=now, **claims)
    with pytest.raises(InvalidToken, match=reason):
        verifier.verify(token)


def test_an_agency_token_must_name_its_agency_and_a_persons_token_the_person(rsa_keys):
    private_pem, public_pem, _ = rsa_keys
    verifier = TokenVerifier(TokenSettings(audience=AUD, issuer=ISS, public_key_pem=public_pem))
    with pytest.raises(InvalidToken, match="agency"):
        verifier.verify(issue_token(private_pem, "RS256", subject="a", role="agency_system", audience=AUD, issuer=ISS))
    with pytest.raises(InvalidToken, match="person_id"):
        verifier.verify(issue_token(private_pem, "RS256", subject="p", role="person", audience=AUD, issuer=ISS))


def test_a_care_team_apps_token_must_name_the_app(rsa_keys):
    private_pem, public_pem, _ = rsa_keys
    verifier = TokenVerifier(TokenSettings(audience=AUD, issuer=ISS, public_key_pem=public_pem))
    with pytest.raises(InvalidToken, match="app"):
        verifier.verify(issue_token(private_pem, "RS256", subject="w", role="care_team_app", audience=AUD, issuer=ISS))
    principal = verifier.verify(issue_token(private_pem, "RS256", subject="w", role="care_team_app", audience=AUD,
                                            issuer=ISS, app="ward-board"))
    assert (principal.role, principal.app) == (Role.CARE_TEAM_APP, "ward-board")


def test_a_service_without_any_verification_key_refuses_to_start():
    with pytest.raises(NoVerificationKey, match="JWT_PUBLIC_KEY_FILE"):
        TokenVerifier(TokenSettings(audience=AUD, issuer=ISS))


def test_a_remembered_token_is_refused_once_it_expires(rsa_keys):
    """Verified tokens are remembered (no decode per request), but never past their expiry."""
    private_pem, public_pem, _ = rsa_keys
    clock = FakeClock(int(time.time()))
    verifier = TokenVerifier(TokenSettings(audience=AUD, issuer=ISS, public_key_pem=public_pem), clock=clock)
    token = issue_token(private_pem, "RS256", subject="dana", role="clinician", audience=AUD, issuer=ISS,
                        lifetime_seconds=60, now=clock.now)
    first = verifier.verify(token)
    clock.advance(59.9)
    assert verifier.verify(token) is first  # remembered
    clock.advance(0.1)
    with pytest.raises(InvalidToken, match="(?i)expired"):
        verifier.verify(token)


def test_a_token_not_yet_remembered_is_refused_by_the_clock_once_it_expires(rsa_keys):
    private_pem, public_pem, _ = rsa_keys
    clock = FakeClock(int(time.time()))
    verifier = TokenVerifier(TokenSettings(audience=AUD, issuer=ISS, public_key_pem=public_pem), clock=clock)
    token = issue_token(private_pem, "RS256", subject="dana", role="clinician", audience=AUD, issuer=ISS,
                        lifetime_seconds=60, now=clock.now)
    clock.advance(60)
    with pytest.raises(InvalidToken, match="(?i)expired"):
        verifier.verify(token)


DEV_SECRET = "carecoord-unit-tests-hs256-secret"


def dev_signed(**claims) -> str:
    """A token signed by the development secret, with `claims` over well-formed defaults."""
    now = int(time.time())
    body = {"sub": "dana", "role": "clinician", "aud": AUD, "iss": ISS, "iat": now, "exp": now + 600, **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not ...}, DEV_SECRET, algorithm="HS256")


@pytest.mark.parametrize("claims", [
    {"role": "person", "person_id": 5},
    {"role": "person", "person_id": ["7b3c2d90-2f59-4b6a-9f43-0e2e6a1f5a11"]},
    {"role": "person", "person_id": "not-a-uuid"},
    {"role": "agency_system", "agency": ["north-clinic", "south-clinic"]},
    {"role": "agency_system", "agency": {"name": "north-clinic"}},
    {"role": "outside_agency", "agency": 7},
    {"sub": {"id": "dana"}},
    {"sub": ["dana"]},
    {"sub": 42},
    {"sub": ""},
    {"sub": "x" * 1000},
    {"sub": "dana\x00"},
    {"role": ["clinician"]},
    {"role": {"name": "clinician"}},
    {"role": 3},
    {"role": None},
    {"agency": ""},
], ids=lambda claims: repr(claims)[:60])
def test_a_signed_token_with_a_malformed_claim_is_refused_as_invalid(claims):
    verifier = TokenVerifier(TokenSettings(audience=AUD, issuer=ISS, dev_secret=DEV_SECRET))
    with pytest.raises(InvalidToken):
        verifier.verify(dev_signed(**claims))


def test_well_formed_dev_signed_tokens_still_give_their_principal():
    verifier = TokenVerifier(TokenSettings(audience=AUD, issuer=ISS, dev_secret=DEV_SECRET))
    person_id = "7b3c2d90-2f59-4b6a-9f43-0e2e6a1f5a11"
    person = verifier.verify(dev_signed(role="person", person_id=person_id))
    agency = verifier.verify(dev_signed(role="agency_system", agency="north-clinic"))
    assert (person.role, str(person.person_id)) == (Role.PERSON, person_id)
    assert (agency.role, agency.agency) == (Role.AGENCY_SYSTEM, "north-clinic")

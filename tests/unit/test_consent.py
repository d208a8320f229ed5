"""Consent directives: what they allow, to whom, when; substance use only when named."""

from datetime import datetime, timedelta, timezone

import pytest

from services.intake.domain.consent import InvalidConsent
from services.intake.domain.person import Person
from shared.domain import Provenance

NOV_1 = datetime(2026, 11, 1, tzinfo=timezone.utc)
PERSON = Provenance("sam", "person", "corr-consent")


@pytest.fixture
def person() -> Person:
    return Person("north", "1", "Sam", None, PERSON)


def test_a_named_person_sees_only_the_categories_named_and_only_while_the_directive_runs(person):
    person.grant_consent("d1", "named_person", "sister-ana", ["general", "crisis"], NOV_1, NOV_1 + timedelta(days=30),
                         PERSON)
    assert person.consent_allows("named_person", "sister-ana", "crisis", NOV_1 + timedelta(days=1))
    assert not person.consent_allows("named_person", "sister-ana", "mental_health", NOV_1 + timedelta(days=1))
    assert not person.consent_allows("named_person", "brother-li", "crisis", NOV_1 + timedelta(days=1))
    assert not person.consent_allows("named_person", "sister-ana", "crisis", NOV_1 - timedelta(seconds=1))
    assert not person.consent_allows("named_person", "sister-ana", "crisis", NOV_1 + timedelta(days=30))


def test_substance_use_is_shared_only_when_it_is_named(person):
    person.grant_consent("d1", "outside_agency", "county-housing", ["general", "mental_health", "crisis"], NOV_1, None,
                         PERSON)
    assert not person.consent_allows("outside_agency", "county-housing", "substance_use", NOV_1 + timedelta(days=1))
    person.grant_consent("d2", "outside_agency", "county-housing", ["substance_use"], NOV_1, None, PERSON)
    assert person.consent_allows("outside_agency", "county-housing", "substance_use", NOV_1 + timedelta(days=1))


def test_a_revocation_holds_from_its_moment_on_and_history_before_it_stands(person):
    person.grant_consent("d1", "care_team", None, ["general"], NOV_1, None, PERSON)
    assert person.revoke_consent("d1", NOV_1 + timedelta(days=5), PERSON) is True
    assert person.revoke_consent("d1", NOV_1 + timedelta(days=6), PERSON) is False, "already revoked"
    assert person.consent_allows("care_team", None, "general", NOV_1 + timedelta(days=4))
    assert not person.consent_allows("care_team", None, "general", NOV_1 + timedelta(days=5))


@pytest.mark.parametrize(("kind", "recipient", "categories", "expires", "field"), [
    ("neighbour", "x", ["general"], None, "recipient_kind"),
    ("named_person", None, ["general"], None, "recipient_id"),
    ("care_team", None, [], None, "categories"),
    ("care_team", None, ["everything"], None, "categories"),
    ("care_team", None, ["general"], NOV_1, "expires_at"),
])
def test_a_directive_that_does_not_say_who_what_or_until_when_is_refused_naming_the_field(
        person, kind, recipient, categories, expires, field):
    with pytest.raises(InvalidConsent) as refusal:
        person.grant_consent("d1", kind, recipient, categories, NOV_1, expires, PERSON)
    assert refusal.value.field == field
    assert person.consents == {}

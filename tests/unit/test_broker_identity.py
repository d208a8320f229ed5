"""Which broker user a service connects as, and whose publishes of each source it believes."""

from services.careplan.bootstrap import CareplanSettings
from services.intake.bootstrap import IntakeSettings


def test_a_service_connects_with_its_own_amqp_url_before_the_shared_one(monkeypatch):
    monkeypatch.setenv("AMQP_URL", "amqp://shared:pw@broker:5672/")
    monkeypatch.setenv("INTAKE_AMQP_URL", "amqp://carecoord-intake:pw@broker:5672/")
    assert IntakeSettings().broker_user == "carecoord-intake"
    assert CareplanSettings().broker_user == "shared", "no CAREPLAN_AMQP_URL: the shared one"
    assert IntakeSettings(amqp_url="amqp://given:pw@broker/").broker_user == "given", "given explicitly"


def test_without_event_publishers_every_source_is_believed_only_from_the_services_own_user(monkeypatch):
    monkeypatch.delenv("EVENT_PUBLISHERS", raising=False)
    settings = CareplanSettings(amqp_url="amqp://guest:guest@127.0.0.1:5672/")
    assert settings.event_publisher("intake") == settings.event_publisher("careplan") == "guest"


def test_with_event_publishers_an_unlisted_source_is_believed_from_nobody(monkeypatch):
    monkeypatch.setenv("EVENT_PUBLISHERS", '{"intake": "carecoord-intake"}')
    settings = CareplanSettings()
    assert settings.event_publisher("intake") == "carecoord-intake"
    assert settings.event_publisher("elsewhere") is None

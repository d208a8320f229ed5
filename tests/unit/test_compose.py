"""docker-compose.yml, checked without a Docker engine: parsed as compose parses YAML (anchors and
merge keys), validated against the compose-spec JSON schema (vendored in deploy/compose-spec/, so
nothing is fetched), and compared with what each service really reads from its environment (its
pydantic-settings class: the settings with no safe default must be set, and nothing set may be a
name the service does not read)."""

from __future__ import annotations

import copy
import importlib
import inspect
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from shared.settings import SET_IN_DEPLOYMENT, ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
SCHEMA_FILE = ROOT / "deploy" / "compose-spec" / "compose-spec.json"
# Containers that cannot probe themselves, and why (every other long-running one has a health check).
NO_HEALTH_CHECK = {"otel-collector": "its image has no shell or HTTP client; Prometheus scrapes it"}


def load_compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


COMPOSE = load_compose()
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]


def carecoord_services() -> dict[str, type[ServiceSettings]]:
    """Each compose service that runs a carecoord service (`python -m services.<name>`), and the
    settings class that service reads its environment into."""
    found = {}
    for name, service in SERVICES.items():
        command = service.get("command") or []
        if command[:2] == ["python", "-m"] and command[2].startswith("services."):
            bootstrap = importlib.import_module(f"{command[2]}.bootstrap")
            [settings_class] = [value for value in vars(bootstrap).values()
                                if inspect.isclass(value) and issubclass(value, ServiceSettings)
                                and value is not ServiceSettings and value.__module__ == bootstrap.__name__]
            found[name] = settings_class
    return found


CARECOORD = carecoord_services()


def environment(service: dict[str, Any]) -> dict[str, str | None]:
    given = service.get("environment") or {}
    if isinstance(given, list):  # the list form: NAME=value, or NAME alone (taken from the shell)
        return dict((item.split("=", 1) + [None])[:2] for item in given)  # type: ignore[misc]
    return {key: None if value is None else str(value) for key, value in given.items()}


def one_shot(name: str) -> bool:
    """A job others wait to complete (broker-users), not a container that keeps running."""
    return any(isinstance(service.get("depends_on"), dict)
               and service["depends_on"].get(name, {}).get("condition") == "service_completed_successfully"
               for service in SERVICES.values())


def validate(document: dict[str, Any]) -> list[str]:
    schema = json.loads(SCHEMA_FILE.read_text())
    # The draft the schema names (as "http://json-schema.org/draft/2019-09/schema#", a spelling
    # jsonschema does not look up by itself).
    assert "2019-09" in schema["$schema"]
    jsonschema.Draft201909Validator.check_schema(schema)
    validator = jsonschema.Draft201909Validator(schema)
    return [f"{'.'.join(str(p) for p in error.absolute_path) or '(top)'}: {error.message}"
            for error in validator.iter_errors(document)]


def test_the_compose_file_is_valid_under_the_compose_spec_schema():
    assert validate(COMPOSE) == []


@pytest.mark.parametrize("break_it", [
    lambda doc: doc["services"]["careplan"].update(restrat="always"),
    lambda doc: doc["services"]["intake"]["healthcheck"].update(intervall="5s"),
    lambda doc: doc["services"]["postgres"].update(ports="5432:5432"),
    lambda doc: doc["services"]["careplan"]["depends_on"]["postgres"].update(condition="service_up"),
], ids=["unknown service key", "unknown health-check key", "ports not a list", "unknown depends_on condition"])
def test_the_schema_check_refuses_a_broken_compose_file(break_it):
    broken = copy.deepcopy(COMPOSE)
    break_it(broken)
    assert validate(broken) != []


def test_the_carecoord_services_are_all_in_the_compose_file():
    assert {settings.model_fields["service_name"].default for settings in CARECOORD.values()} == {
        "intake", "careplan", "notifications"}


@pytest.mark.parametrize("name", sorted(CARECOORD))
def test_every_setting_without_a_safe_default_is_set_for_each_service(name):
    settings_class, env = CARECOORD[name], environment(SERVICES[name])
    given = {key.upper() for key, value in env.items() if value}
    required, groups = [], {}
    for field_name, field in settings_class.model_fields.items():
        marker = (field.json_schema_extra or {}).get(SET_IN_DEPLOYMENT)  # type: ignore[union-attr]
        if marker is True:
            required.append(field_name.upper())
        elif marker:
            groups.setdefault(marker, []).append(field_name.upper())
    # A service's own URL counts for AMQP_URL (shared/settings.py reads it first).
    if f"{name.upper()}_AMQP_URL" in given:
        given.add("AMQP_URL")
    assert required, "the settings mark what a deployment must set"
    assert [key for key in required if key not in given] == [], f"{name} leaves unset what has no safe default"
    for group, keys in groups.items():
        assert given & set(keys), f"{name} sets none of {keys} ({group})"


@pytest.mark.parametrize("name", sorted(CARECOORD))
def test_every_variable_given_to_a_service_is_one_it_reads(name):
    settings_class = CARECOORD[name]
    read = {field_name.upper() for field_name in settings_class.model_fields} | {f"{name.upper()}_AMQP_URL"}
    # OTEL_*: read by the OpenTelemetry SDK itself (its standard variables), not by the settings.
    unread = [key for key in environment(SERVICES[name]) if key.upper() not in read and not key.startswith("OTEL_")]
    assert unread == [], f"{name} is given variables it never reads (a typo?)"


def test_the_services_listen_where_the_others_look_for_them():
    for name, settings_class in CARECOORD.items():
        service, env = SERVICES[name], environment(SERVICES[name])
        assert env["HTTP_HOST"] == "0.0.0.0", f"{name} must listen beyond the container's loopback"
        port = int(env.get("HTTP_PORT") or settings_class.model_fields["http_port"].default)
        assert f"127.0.0.1:{port}/healthz" in " ".join(service["healthcheck"]["test"])
        assert any(str(mapping).endswith(f":{port}") for mapping in service["ports"])
        assert f"{name}:{port}" in prometheus_targets()
        assert env["OTEL_SERVICE_NAME"] == name
        assert urlsplit(env["AMQP_URL"]).hostname == "rabbitmq" and urlsplit(env["DATABASE_URL"]).hostname == "postgres"
        assert urlsplit(env["OTEL_EXPORTER_OTLP_ENDPOINT"]).hostname in SERVICES


def test_every_long_running_container_restarts_by_itself_and_says_whether_it_is_healthy():
    for name, service in SERVICES.items():
        if one_shot(name):
            continue
        assert service.get("restart") in ("always", "unless-stopped", "on-failure"), f"{name} has no restart policy"
        assert "healthcheck" in service or name in NO_HEALTH_CHECK, f"{name} has no health check"
    for name in CARECOORD:
        conditions = {dependency: spec["condition"] for dependency, spec in SERVICES[name]["depends_on"].items()}
        assert conditions == {"postgres": "service_healthy", "rabbitmq": "service_healthy",
                              "broker-users": "service_completed_successfully"}


def test_the_observability_stack_is_wired_to_services_that_exist():
    assert {"otel-collector", "jaeger", "prometheus"} <= set(SERVICES)
    assert any(str(mapping).endswith(":15672") for mapping in SERVICES["rabbitmq"]["ports"]), "the management UI"
    collector = yaml.safe_load((ROOT / "deploy" / "otel-collector" / "config.yaml").read_text())
    for pipeline in collector["service"]["pipelines"].values():
        for kind in ("receivers", "processors", "exporters"):
            assert set(pipeline.get(kind, [])) <= set(collector.get(kind) or {}), f"undefined {kind}"
    jaeger = collector["exporters"]["otlp/jaeger"]["endpoint"]
    assert jaeger.split(":")[0] in SERVICES
    for target in prometheus_targets():
        assert target.split(":")[0] in SERVICES


def test_every_file_mounted_from_the_repository_exists():
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = str(volume).split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).is_file(), f"{name} mounts {source}, which is not in the repository"


def test_secrets_have_no_default_in_the_compose_file():
    # `${NAME:?message}`: compose refuses to start until they are set (e.g. in an untracked .env).
    text = COMPOSE_FILE.read_text()
    for secret in ("EVENT_CIPHER_KEY", "JWT_DEV_SECRET"):
        assert re.search(rf"\${{{secret}:\?", text), f"{secret} must have no default"


def prometheus_targets() -> list[str]:
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    return [target for job in config["scrape_configs"] for static in job.get("static_configs", [])
            for target in static["targets"]]

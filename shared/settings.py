"""Configuration, read once from the environment into one settings object per service."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.tokens import TokenSettings, load_jwks


class MissingCipherKey(RuntimeError):
    pass


SET_IN_DEPLOYMENT = "set_in_deployment"


def set_in_deployment(default: Any, *, one_of: str | None = None) -> Any:
    """A setting with no safe default: the default suits only a developer's machine, or there is
    none. Every deployment sets it (or, with `one_of`, one setting of that group); tests/unit/
    test_compose.py checks that docker-compose.yml does, for each service."""
    return Field(default, json_schema_extra={SET_IN_DEPLOYMENT: one_of or True})


class ServiceSettings(BaseSettings):
    """What every carecoord service needs to run. Defaults suit the local servers."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    service_name: str = Field("service", description="Names the service in logs, schemas and queues.")
    database_url: str = set_in_deployment("postgresql://postgres@127.0.0.1:5432/carecoord")
    # Each service connects as a broker user of its own: <SERVICE>_AMQP_URL (e.g. INTAKE_AMQP_URL)
    # if set, else AMQP_URL (one user for all: local development).
    amqp_url: str = set_in_deployment("amqp://guest:guest@127.0.0.1:5672/")
    # The broker user that publishes each source's events (EVENT_PUBLISHERS='{"intake": "carecoord-intake",
    # "careplan": "carecoord-careplan"}'): an event is believed only from its source's user. Empty:
    # every service shares this service's own user (development), and only a publish naming it counts.
    event_publishers: dict[str, str] = set_in_deployment({})
    # Loopback: reachable from nowhere else (a container listens on 0.0.0.0).
    http_host: str = set_in_deployment("127.0.0.1")
    http_port: int = 8000
    # Each service keeps its tables in its own schema; no service reads another's.
    database_schema: str | None = None
    # eventsourcing opens one pool per application; 100 connections are shared by all services.
    database_pool_size: int = 4
    database_pool_overflow: int = 6
    relay_batch_size: int = 500
    consumer_prefetch: int = 100
    # Backoff steps (seconds) for transient failures; after the last, the message is dead-lettered.
    retry_delays: tuple[float, ...] = (0.2, 1.0, 5.0, 30.0)
    log_level: str = "INFO"
    log_json: bool = True
    # Levels of particular loggers, over LOG_LEVEL ('{"carecoord.hops": "DEBUG"}': shared/hop_marks.py).
    log_levels: dict[str, str] = {}
    # Bearer tokens (see shared/tokens.py). RS256 public key or JWKS in production; a shared HS256
    # secret only for local development and tests.
    jwt_audience: str = "carecoord"
    jwt_issuer: str = "carecoord-dev"
    jwt_public_key_file: Path | None = set_in_deployment(None, one_of="a token verification key")
    jwt_jwks_file: Path | None = set_in_deployment(None, one_of="a token verification key")
    jwt_dev_secret: SecretStr | None = set_in_deployment(None, one_of="a token verification key")
    max_body_bytes: int = 64 * 1024
    # A request's line and headers together; 431 past it, and the connection closed.
    max_header_bytes: int = 16 * 1024
    # Seconds a request's whole body may take to arrive (408 after): a stalled upload holds a connection.
    request_body_timeout: float = 10.0
    # Seconds a read waits for its access record to commit; 503 after (never answered unrecorded).
    access_record_timeout: float = 5.0
    # Seconds a read of a person's record may take before its record is written; 503 after. Bounds
    # request paths when the database stops answering, where DATABASE_CONNECT_TIMEOUT (patient, for
    # start-up and consumers) and eventsourcing's retries would hold the reader for minutes.
    read_timeout: float = 10.0
    # Seconds to wait for a database connection (eventsourcing's POSTGRES_CONNECT_TIMEOUT, retried
    # by eventsourcing up to 10 times) before a call fails; a read then answers 503.
    database_connect_timeout: int = 30
    # Event state is encrypted at rest (AES-256-GCM). Rotation: set the new key here and the old
    # one in EVENT_CIPHER_RETIRED_KEYS (comma-separated); see docs/architecture.md.
    event_cipher_key: SecretStr | None = set_in_deployment(None)
    event_cipher_retired_keys: SecretStr | None = None
    # What the agency marks staff-internal in a person's own history (GET /audit/people/{id}/history
    # with the `person` role): event types left out (`Person.X` or `X`) and event fields dropped.
    # Staff ids are always reduced to their role there (shared/person_history.py).
    history_internal_types: tuple[str, ...] = ("UpstreamEventUnprocessable",)
    history_internal_fields: tuple[str, ...] = ("fingerprint",)

    def __init__(self, **values: Any) -> None:
        name = values.get("service_name") or os.environ.get("SERVICE_NAME") or type(self).model_fields["service_name"].default
        if "amqp_url" not in values and (own := os.environ.get(f"{name.upper()}_AMQP_URL")):
            values["amqp_url"] = own
        super().__init__(**values)

    @property
    def broker_user(self) -> str:
        """The user this service connects to the broker as (and names in each publish's user_id)."""
        return unquote(urlsplit(self.amqp_url).username or "guest")

    def event_publisher(self, source: str) -> str | None:
        """The broker user whose publishes of `source`'s events are believed (None: nobody's)."""
        if not self.event_publishers:
            return self.broker_user
        return self.event_publishers.get(source)

    def token_settings(self) -> TokenSettings:
        return TokenSettings(
            audience=self.jwt_audience,
            issuer=self.jwt_issuer,
            public_key_pem=self.jwt_public_key_file.read_text() if self.jwt_public_key_file else None,
            jwks=load_jwks(self.jwt_jwks_file) if self.jwt_jwks_file else None,
            dev_secret=self.jwt_dev_secret.get_secret_value() if self.jwt_dev_secret else None,
        )

    @property
    def schema_name(self) -> str:  # not `schema`: that is a (deprecated) BaseModel method
        return self.database_schema or self.service_name

    def eventsourcing_env(self) -> dict[str, str]:
        """The environment eventsourcing's PostgreSQL persistence reads (see docs/architecture.md)."""
        if self.event_cipher_key is None:
            raise MissingCipherKey(
                "EVENT_CIPHER_KEY is not set: event state is encrypted at rest "
                "(`carecoord key` makes one; `carecoord run` makes a development key itself)"
            )
        url = urlsplit(self.database_url)
        retired = self.event_cipher_retired_keys.get_secret_value() if self.event_cipher_retired_keys else ""
        return {
            "CIPHER_TOPIC": "shared.cipher:RotatingAESCipher",
            "CIPHER_KEY": self.event_cipher_key.get_secret_value(),
            "CIPHER_RETIRED_KEYS": retired,
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": url.path.lstrip("/") or "postgres",
            "POSTGRES_HOST": url.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": unquote(url.username or "postgres"),
            # Must be present even with trust authentication.
            "POSTGRES_PASSWORD": unquote(url.password or ""),
            "POSTGRES_SCHEMA": self.schema_name,
            "POSTGRES_POOL_SIZE": str(self.database_pool_size),
            "POSTGRES_MAX_OVERFLOW": str(self.database_pool_overflow),
            "POSTGRES_CONNECT_TIMEOUT": str(self.database_connect_timeout),
            # Broker deliveries arrive out of order (retries): a duplicate (source, position) must
            # be refused by the primary key, not by a "highest seen" single row.
            "SINGLE_ROW_TRACKING": "n",
            "AGGREGATE_CACHE_MAXSIZE": "10000",
            # Commands trust the cache instead of querying for newer events on every load; a
            # stale entry is caught by the version check at save and then forgotten (see
            # ServiceApplication). Deep copies keep a failed command from touching the cache
            # (`repository.get`); batches check the cached object out instead (`check_out`).
            "AGGREGATE_CACHE_FASTFORWARD": "n",
            "DEEPCOPY_FROM_AGGREGATE_CACHE": "y",
        }

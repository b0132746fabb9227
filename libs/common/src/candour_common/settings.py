"""Settings read from the environment (prefix `CANDOUR_`), once, at start-up."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from candour_common.kafka_connection import KafkaConnection, SaslMechanism, SecurityProtocol
from candour_common.signing_keys import key_problem
from candour_common.topics import TopicNames


def checked_key(value: SecretStr | None) -> SecretStr | None:
    """A signing key's validator: refuse short keys and published placeholders."""
    if value is not None and (problem := key_problem(value.get_secret_value())):
        raise ValueError(problem)
    return value


class ServiceSettings(BaseSettings):
    """What every service reads. Each service extends it with its own settings."""

    model_config = SettingsConfigDict(env_prefix="CANDOUR_", extra="ignore")

    # Keys without which the service must not start (see `missing_keys`).
    REQUIRED_KEYS: ClassVar[tuple[str, ...]] = ("jwt_secret",)

    service_name: str = Field(default="candour", description="Name used in logs and ce_source.")
    http_host: str = Field(default="127.0.0.1", description="Address the HTTP server binds.")
    http_port: int = Field(default=8000, description="Port the HTTP server binds.")
    admin_host: str = Field(
        default="127.0.0.1",
        description="Address the admin server (/readyz, /metrics) binds; not a public one.",
    )
    admin_port: int = Field(
        default=9000, description="Port of the admin server: /readyz, /metrics and /healthz."
    )
    env: Literal["production", "dev"] = Field(
        default="production",
        description="`dev` only on a developer's machine: cookies then work over plain http.",
    )
    trusted_proxies: str = Field(
        default="",
        description=(
            "Comma-separated CIDRs of the reverse proxies in front of this service; only a "
            "peer in them may say who the client is (X-Forwarded-For) and that the request "
            "came over https (X-Forwarded-Proto). Empty: trust no one."
        ),
    )
    max_request_bytes: int = Field(
        default=64 * 1024, ge=1, description="Requests with a larger body get 413."
    )
    database_url: SecretStr = Field(
        default=SecretStr("postgresql://postgres:postgres@127.0.0.1:5432/candour"),
        description="This service's own PostgreSQL database (secret: may hold a password).",
    )
    database_pool_size: int = Field(default=10, ge=1)
    migrate_on_start: bool = Field(
        default=True, description="Apply pending migrations at start (guarded by an advisory lock)."
    )
    kafka_bootstrap: str = Field(default="127.0.0.1:9092", description="Kafka bootstrap servers.")
    kafka_security_protocol: SecurityProtocol = Field(
        default="PLAINTEXT",
        description=(
            "How clients talk to Kafka: PLAINTEXT (a trusted network only), SSL, "
            "SASL_PLAINTEXT or SASL_SSL (TLS and a login; use it on any other network)."
        ),
    )
    kafka_sasl_mechanism: SaslMechanism = Field(
        default="SCRAM-SHA-512",
        description="SASL_* protocols: SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN.",
    )
    kafka_sasl_username: str | None = Field(
        default=None, description="SASL user: this service's own Kafka principal."
    )
    kafka_sasl_password: SecretStr | None = Field(
        default=None, description="SASL password of `CANDOUR_KAFKA_SASL_USERNAME` (secret)."
    )
    kafka_ssl_cafile: Path | None = Field(
        default=None,
        description="PEM file of the CA(s) that signed the brokers' certificates "
        "(default: the system's trust store).",
    )
    kafka_ssl_certfile: Path | None = Field(
        default=None, description="PEM client certificate, for brokers that require one (mTLS)."
    )
    kafka_ssl_keyfile: Path | None = Field(
        default=None, description="PEM private key of `CANDOUR_KAFKA_SSL_CERTFILE`."
    )
    kafka_ssl_key_password: SecretStr | None = Field(
        default=None, description="Password of `CANDOUR_KAFKA_SSL_KEYFILE`, if it is encrypted."
    )
    kafka_ssl_check_hostname: bool = Field(
        default=True,
        description="Check that a broker's certificate names the host connected to.",
    )
    topic_prefix: str = Field(
        default="", description="Prefix for every topic name (isolates test runs on one cluster)."
    )
    consumer_group: str | None = Field(
        default=None, description="Kafka consumer group; defaults to `candour-<service>`."
    )
    jwt_secret: SecretStr | None = Field(
        default=None,
        description=(
            "HMAC key that signs and verifies bearer tokens: at least 32 random bytes, "
            "never a published example. No default: a service does not start without it."
        ),
    )
    consumer_max_batch: int = Field(
        default=300,
        ge=1,
        le=5000,
        description=(
            "Most records a consumer handles in one transaction when it has a backlog "
            "(one at a time when it keeps up)."
        ),
    )
    consumer_session_timeout_seconds: float = Field(
        default=10.0,
        ge=1.0,
        le=300.0,
        description=(
            "How long the consumer group waits for a silent consumer before giving its "
            "partitions to others (heartbeats go at a third of it, at most every 3 s). "
            "Tansu holds a group's first join for about half of it: `candour dev` sets 3."
        ),
    )
    log_level: str = Field(default="INFO")
    log_json: bool | None = Field(
        default=None, description="JSON logs; default: JSON unless stderr is a terminal."
    )
    shutdown_grace_seconds: float = Field(
        default=10.0, gt=0, description="How long SIGTERM waits for in-flight requests."
    )
    outbox_poll_interval: float = Field(
        default=1.0, gt=0, description="Seconds between outbox polls when no NOTIFY arrives."
    )
    outbox_retention_days: float = Field(
        default=7.0,
        gt=0,
        description="Published outbox rows older than this are deleted (they hold story text).",
    )
    inbox_retention_days: float = Field(
        default=30.0,
        gt=0,
        description=(
            "Processed event ids older than this are forgotten. Keep it above the longest "
            "time a consumer group may be away (Kafka keeps its offsets 7 days by default)."
        ),
    )
    retention_interval_seconds: float = Field(
        default=3600.0, gt=0, description="How often the service purges what is past retention."
    )

    intake_public_url: str = Field(
        default="http://127.0.0.1:8001", description="Where people reach story-intake's pages."
    )
    moderation_public_url: str = Field(
        default="http://127.0.0.1:8002", description="Where moderators reach their console."
    )
    notifications_public_url: str = Field(
        default="http://127.0.0.1:8003", description="Where staff manage their alerts."
    )
    search_public_url: str = Field(
        default="http://127.0.0.1:8004", description="Where the public reads and searches stories."
    )

    check_jwt_secret = field_validator("jwt_secret")(checked_key)

    @field_validator("trusted_proxies")
    @classmethod
    def _cidrs(cls, value: str) -> str:
        for part in (p.strip() for p in value.split(",")):
            if part:
                try:
                    ipaddress.ip_network(part, strict=False)
                except ValueError as exc:
                    raise ValueError(f"{part!r} is not an address or CIDR") from exc
        return value

    @property
    def trusted_proxy_networks(self) -> list[str]:
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

    @property
    def secure_cookies(self) -> bool:
        return self.env != "dev"

    def missing_keys(self) -> list[str]:
        """The required keys left unset, by field name."""
        return [name for name in self.REQUIRED_KEYS if getattr(self, name) is None]

    def jwt_key(self) -> str:
        """The bearer-token key (checked at start-up, so present in a running service)."""
        if self.jwt_secret is None:
            raise MissingKey("jwt_secret")
        return self.jwt_secret.get_secret_value()

    def public_links(self) -> dict[str, str]:
        """Base URLs the pages link to, without a trailing slash."""
        return {
            "intake": self.intake_public_url.rstrip("/"),
            "moderation": self.moderation_public_url.rstrip("/"),
            "notifications": self.notifications_public_url.rstrip("/"),
            "search": self.search_public_url.rstrip("/"),
        }

    @model_validator(mode="after")
    def _kafka_settings_work_together(self) -> ServiceSettings:
        self.kafka_connection()  # raises KafkaSettingsError naming the setting
        return self

    def kafka_connection(self) -> KafkaConnection:
        """How this process's Kafka clients connect (every client gets the same)."""
        return KafkaConnection(
            bootstrap=self.kafka_bootstrap,
            security_protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            sasl_username=self.kafka_sasl_username,
            sasl_password=self.kafka_sasl_password,
            ssl_cafile=self.kafka_ssl_cafile,
            ssl_certfile=self.kafka_ssl_certfile,
            ssl_keyfile=self.kafka_ssl_keyfile,
            ssl_key_password=self.kafka_ssl_key_password,
            ssl_check_hostname=self.kafka_ssl_check_hostname,
        )

    @property
    def topics(self) -> TopicNames:
        return TopicNames(self.topic_prefix)

    @property
    def group_id(self) -> str:
        return self.consumer_group or f"{self.topic_prefix}candour-{self.service_name}"


class MissingKey(RuntimeError):
    """A required signing key is not set."""

    def __init__(self, field: str) -> None:
        super().__init__(f"CANDOUR_{field.upper()} is not set")
        self.field = field

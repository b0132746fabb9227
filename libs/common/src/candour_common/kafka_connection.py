"""How a Candour process reaches Kafka: the bootstrap address, TLS and SASL.

One `KafkaConnection` is made from the settings at start and handed to every
client the process makes (the FastStream broker, aiokafka consumers, producers
and admin clients, the CLI's), so none of them can be left on plain text while
the others authenticate.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import SecretStr

if TYPE_CHECKING:
    from faststream.security import BaseSecurity

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]

SECURITY_PROTOCOLS: tuple[SecurityProtocol, ...] = (
    "PLAINTEXT",
    "SSL",
    "SASL_PLAINTEXT",
    "SASL_SSL",
)
SASL_MECHANISMS: tuple[SaslMechanism, ...] = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")


class KafkaSettingsError(ValueError):
    """Kafka connection settings that cannot work together; the message names the setting."""


@dataclass(frozen=True, slots=True)
class KafkaConnection:
    """Everything a Kafka client needs besides what it does. Passwords stay `SecretStr`."""

    bootstrap: str
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = field(default=None, repr=False)
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_key_password: SecretStr | None = field(default=None, repr=False)
    ssl_check_hostname: bool = True

    def __post_init__(self) -> None:
        for problem in self.problems():
            raise KafkaSettingsError(problem)

    @classmethod
    def of(cls, kafka: KafkaConnection | str) -> KafkaConnection:
        """A connection as it is, or a bare bootstrap address as a plain-text connection."""
        return kafka if isinstance(kafka, KafkaConnection) else cls(bootstrap=kafka)

    @property
    def servers(self) -> list[str]:
        """The bootstrap addresses one by one. FastStream takes a string as one address, so
        "a:9092,b:9092" must reach it split (aiokafka alone would split it)."""
        return [s.strip() for s in self.bootstrap.split(",") if s.strip()]

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    def problems(self) -> list[str]:
        """What is wrong with these settings, one sentence per problem naming the setting."""
        found: list[str] = []
        if not self.servers:
            found.append("CANDOUR_KAFKA_BOOTSTRAP names no broker")
        protocol = self.security_protocol
        if protocol not in SECURITY_PROTOCOLS:
            found.append(
                f"CANDOUR_KAFKA_SECURITY_PROTOCOL={protocol!r} is not one of "
                f"{', '.join(SECURITY_PROTOCOLS)}"
            )
            return found
        if self.uses_sasl:
            if self.sasl_mechanism not in SASL_MECHANISMS:
                found.append(
                    f"CANDOUR_KAFKA_SASL_MECHANISM={self.sasl_mechanism!r} is not one of "
                    f"{', '.join(SASL_MECHANISMS)}"
                )
            if not self.sasl_username:
                found.append(f"CANDOUR_KAFKA_SASL_USERNAME must be set for {protocol}")
            if self.sasl_password is None or not self.sasl_password.get_secret_value():
                found.append(f"CANDOUR_KAFKA_SASL_PASSWORD must be set for {protocol}")
            if protocol == "SASL_PLAINTEXT" and self.sasl_mechanism == "PLAIN":
                found.append(
                    "CANDOUR_KAFKA_SASL_MECHANISM=PLAIN over SASL_PLAINTEXT would send the "
                    "password in clear text: use SASL_SSL, or a SCRAM mechanism"
                )
        elif self.sasl_username or self.sasl_password is not None:
            # Credentials that would silently go unused are a misconfiguration, not a default.
            found.append(
                f"CANDOUR_KAFKA_SASL_USERNAME/PASSWORD are set but "
                f"CANDOUR_KAFKA_SECURITY_PROTOCOL={protocol} does not authenticate: "
                "use SASL_SSL"
            )
        files = {
            "CANDOUR_KAFKA_SSL_CAFILE": self.ssl_cafile,
            "CANDOUR_KAFKA_SSL_CERTFILE": self.ssl_certfile,
            "CANDOUR_KAFKA_SSL_KEYFILE": self.ssl_keyfile,
        }
        if not self.uses_tls:
            named = [env for env, path in files.items() if path is not None]
            if named:
                found.append(
                    f"{', '.join(named)} set but CANDOUR_KAFKA_SECURITY_PROTOCOL={protocol} "
                    "does not use TLS: use SSL or SASL_SSL"
                )
            return found
        for env, path in files.items():
            if path is not None and not path.is_file():
                found.append(f"{env}={path} is not a readable file")
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            found.append(
                "CANDOUR_KAFKA_SSL_CERTFILE and CANDOUR_KAFKA_SSL_KEYFILE go together "
                "(a client certificate needs its key)"
            )
        return found

    def ssl_context(self) -> ssl.SSLContext | None:
        """A TLS client context that verifies the broker (None on plain-text protocols)."""
        if not self.uses_tls:
            return None
        # No CA file: the system's trust store, as for any public certificate.
        context = ssl.create_default_context(
            ssl.Purpose.SERVER_AUTH, cafile=str(self.ssl_cafile) if self.ssl_cafile else None
        )
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.check_hostname = self.ssl_check_hostname
        if self.ssl_certfile is not None and self.ssl_keyfile is not None:
            context.load_cert_chain(
                str(self.ssl_certfile),
                str(self.ssl_keyfile),
                password=(
                    self.ssl_key_password.get_secret_value() if self.ssl_key_password else None
                ),
            )
        return context

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for any aiokafka client (consumer, producer, admin)."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.servers,
            "security_protocol": self.security_protocol,
        }
        if self.uses_tls:
            options["ssl_context"] = self.ssl_context()
        if self.uses_sasl:
            assert self.sasl_password is not None  # problems() made sure
            options |= {
                "sasl_mechanism": self.sasl_mechanism,
                "sasl_plain_username": self.sasl_username,
                "sasl_plain_password": self.sasl_password.get_secret_value(),
            }
        return options

    def faststream_security(self) -> BaseSecurity | None:
        """The same settings in FastStream's terms, for `KafkaBroker(security=...)`."""
        from faststream.security import (
            BaseSecurity,
            SASLPlaintext,
            SASLScram256,
            SASLScram512,
        )

        if self.security_protocol == "PLAINTEXT":
            return None
        context = self.ssl_context()
        if not self.uses_sasl:
            return BaseSecurity(ssl_context=context, use_ssl=True)
        assert self.sasl_username is not None
        assert self.sasl_password is not None
        kind = {
            "SCRAM-SHA-512": SASLScram512,
            "SCRAM-SHA-256": SASLScram256,
            "PLAIN": SASLPlaintext,
        }[self.sasl_mechanism]
        return kind(
            username=self.sasl_username,
            password=self.sasl_password.get_secret_value(),
            ssl_context=context,
            use_ssl=self.uses_tls,
        )

    def describe(self) -> str:
        """For logs and errors: where and as whom, never a password."""
        who = f" as {self.sasl_username} ({self.sasl_mechanism})" if self.uses_sasl else ""
        return f"{self.bootstrap} over {self.security_protocol}{who}"

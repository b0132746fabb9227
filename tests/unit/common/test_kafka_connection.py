"""Kafka connection settings: every client gets TLS and SASL from one place, and settings that
cannot work are refused at start with the setting named."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from faststream.security import SASLScram512
from pydantic import SecretStr, ValidationError

from candour_common.kafka_connection import KafkaConnection, KafkaSettingsError
from candour_common.messaging import create_broker
from candour_common.settings import ServiceSettings
from tests.kafka_tls import ThrowawayCa

pytestmark = pytest.mark.unit

PASSWORD = "correct-horse-battery-staple"


def test_plaintext_by_default_and_a_bare_address_is_plaintext() -> None:
    settings = ServiceSettings(kafka_bootstrap="127.0.0.1:9092")
    connection = settings.kafka_connection()
    assert connection == KafkaConnection.of("127.0.0.1:9092")
    assert connection.client_options() == {
        "bootstrap_servers": ["127.0.0.1:9092"],
        "security_protocol": "PLAINTEXT",
    }
    assert connection.faststream_security() is None


def test_a_list_of_brokers_reaches_every_client_as_a_list() -> None:
    # FastStream would take "a,b" for one host named "a,b" (found on the cluster).
    connection = KafkaConnection.of("127.0.0.1:19092, 127.0.0.1:19093,127.0.0.1:19094")
    servers = ["127.0.0.1:19092", "127.0.0.1:19093", "127.0.0.1:19094"]
    assert connection.servers == servers
    assert connection.client_options()["bootstrap_servers"] == servers
    broker = create_broker(connection, client_id="t")
    assert broker._connection_kwargs["bootstrap_servers"] == servers


def test_sasl_ssl_gives_every_client_tls_that_verifies_and_scram(tmp_path: Path) -> None:
    ca = ThrowawayCa.create(tmp_path)
    certfile, keyfile = ca.client_certificate("moderation")
    settings = ServiceSettings(
        kafka_bootstrap="kafka:9093",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_username="candour-moderation",
        kafka_sasl_password=SecretStr(PASSWORD),
        kafka_ssl_cafile=ca.cafile,
        kafka_ssl_certfile=certfile,
        kafka_ssl_keyfile=keyfile,
    )
    connection = settings.kafka_connection()
    options = connection.client_options()
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "candour-moderation"
    assert options["sasl_plain_password"] == PASSWORD
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert context.get_ca_certs()[0]["subject"] == ((("commonName", "Candour test CA"),),)

    security = connection.faststream_security()
    assert isinstance(security, SASLScram512)
    assert security.use_ssl
    assert security.username == "candour-moderation"
    assert security.ssl_context is not None

    # The password never shows in a repr (settings and connection end up in logs).
    assert PASSWORD not in repr(settings)
    assert PASSWORD not in repr(connection)
    assert PASSWORD not in connection.describe()


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"kafka_security_protocol": "SASL_SSL"}, "CANDOUR_KAFKA_SASL_USERNAME must be set"),
        (
            {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_username": "u"},
            "CANDOUR_KAFKA_SASL_PASSWORD must be set",
        ),
        (
            {"kafka_sasl_username": "u", "kafka_sasl_password": "p"},
            "does not authenticate: use SASL_SSL",
        ),
        (
            {"kafka_ssl_cafile": "/etc/hosts"},
            "CANDOUR_KAFKA_SSL_CAFILE set but CANDOUR_KAFKA_SECURITY_PROTOCOL=PLAINTEXT",
        ),
        (
            {"kafka_security_protocol": "SSL", "kafka_ssl_cafile": "/nonexistent/ca.pem"},
            "CANDOUR_KAFKA_SSL_CAFILE=/nonexistent/ca.pem is not a readable file",
        ),
        (
            {"kafka_security_protocol": "SSL", "kafka_ssl_certfile": "/etc/hosts"},
            "CANDOUR_KAFKA_SSL_CERTFILE and CANDOUR_KAFKA_SSL_KEYFILE go together",
        ),
        (
            {
                "kafka_security_protocol": "SASL_PLAINTEXT",
                "kafka_sasl_mechanism": "PLAIN",
                "kafka_sasl_username": "u",
                "kafka_sasl_password": "p",
            },
            "would send the password in clear text",
        ),
    ],
)
def test_settings_that_cannot_work_are_refused_naming_the_setting(
    settings: dict[str, str], named: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        ServiceSettings(**settings)  # type: ignore[arg-type]
    assert named in str(caught.value)


def test_settings_are_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ca = ThrowawayCa.create(tmp_path)
    monkeypatch.setenv("CANDOUR_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("CANDOUR_KAFKA_SASL_MECHANISM", "SCRAM-SHA-256")
    monkeypatch.setenv("CANDOUR_KAFKA_SASL_USERNAME", "candour-search")
    monkeypatch.setenv("CANDOUR_KAFKA_SASL_PASSWORD", PASSWORD)
    monkeypatch.setenv("CANDOUR_KAFKA_SSL_CAFILE", str(ca.cafile))
    connection = ServiceSettings().kafka_connection()
    assert connection.sasl_mechanism == "SCRAM-SHA-256"
    assert connection.describe() == (
        "127.0.0.1:9092 over SASL_SSL as candour-search (SCRAM-SHA-256)"
    )


def test_a_connection_made_in_code_is_checked_too() -> None:
    with pytest.raises(KafkaSettingsError, match="CANDOUR_KAFKA_SASL_USERNAME"):
        KafkaConnection("127.0.0.1:9092", security_protocol="SASL_SSL")

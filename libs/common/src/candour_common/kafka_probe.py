"""Why a Kafka client cannot connect, in words an operator can act on.

aiokafka's clients say only "Unable to bootstrap" whatever went wrong (the reason is
in one of its log lines). One direct connection per bootstrap server tells a refused
login or an untrusted certificate, which waiting will not fix, from a broker that is
down, which it will.
"""

from __future__ import annotations

import asyncio
import ssl

from aiokafka.conn import create_conn
from aiokafka.errors import (
    KafkaError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)

from candour_common.kafka_connection import KafkaConnection


class KafkaUnreachable(ConnectionError):
    """No bootstrap server answered (down, or not listening with this protocol)."""


class KafkaLoginRefused(ConnectionError):
    """A broker answered and refused this client's SASL login."""


class KafkaTlsRefused(ConnectionError):
    """The TLS handshake failed: a certificate not trusted, or not presented."""


async def check_connection(kafka: KafkaConnection, *, seconds: float = 10.0) -> None:
    """Connect to each bootstrap server until one accepts; raise why none did.

    Raises `KafkaLoginRefused` or `KafkaTlsRefused` (naming the settings to check) as
    soon as a broker refuses, else `KafkaUnreachable` with every server's error.
    """
    options = kafka.client_options()
    del options["bootstrap_servers"]
    errors: list[str] = []
    for server in kafka.servers:
        host, _, port = server.rpartition(":")
        try:
            connection = await asyncio.wait_for(
                create_conn(
                    host,
                    int(port),
                    client_id="candour-connection-check",
                    request_timeout_ms=int(seconds * 1000),
                    **options,
                ),
                seconds,
            )
        except (SaslAuthenticationFailed, UnsupportedSaslMechanismError) as exc:
            said = exc.args[0] if exc.args else exc
            raise KafkaLoginRefused(
                f"Kafka at {server} refused the login of CANDOUR_KAFKA_SASL_USERNAME="
                f"{kafka.sasl_username} ({kafka.sasl_mechanism}): {said}; "
                "check CANDOUR_KAFKA_SASL_USERNAME and CANDOUR_KAFKA_SASL_PASSWORD"
            ) from exc
        except ssl.SSLCertVerificationError as exc:
            raise KafkaTlsRefused(
                f"the certificate of Kafka at {server} is not trusted ({exc.verify_message}); "
                "check CANDOUR_KAFKA_SSL_CAFILE (and CANDOUR_KAFKA_SSL_CHECK_HOSTNAME)"
            ) from exc
        except ssl.SSLError as exc:
            raise KafkaTlsRefused(
                f"the TLS handshake with Kafka at {server} failed ({exc.reason or exc}); "
                "check CANDOUR_KAFKA_SECURITY_PROTOCOL, and CANDOUR_KAFKA_SSL_CERTFILE/KEYFILE "
                "if the brokers require a client certificate"
            ) from exc
        except (KafkaError, OSError, TimeoutError, ValueError) as exc:
            errors.append(f"{server}: {type(exc).__name__}: {exc}".rstrip(": "))
            continue
        connection.close()
        return
    raise KafkaUnreachable(
        f"no Kafka broker answered over {kafka.security_protocol} ({'; '.join(errors)}); "
        "check CANDOUR_KAFKA_BOOTSTRAP and CANDOUR_KAFKA_SECURITY_PROTOCOL"
    )

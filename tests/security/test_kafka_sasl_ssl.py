"""Kafka on a network that is not trusted: TLS that verifies the broker, a SCRAM-SHA-512 login
per service, and ACLs that limit each principal to its row of the topic table.

One Apache Kafka broker from deploy/local (its own ports and state directory, stopped at
the end) gets a SASL_SSL listener with a certificate from a CA made here, requires client
certificates, enforces ACLs, and knows a SCRAM user per service, the operator and its own
administrator. The four services run as processes that know only the SASL_SSL address.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    TopicAuthorizationFailedError,
)
from pydantic import SecretStr
from typer.testing import CliRunner, Result

from candour_cli.main import app as cli
from candour_common.kafka_acls import OPERATOR, SERVICES, default_principal
from candour_common.kafka_connection import KafkaConnection
from candour_common.topics import Topic, TopicNames
from tests.conftest import CreateDatabase, free_port
from tests.faults.platform import Platform, platform_setup, start
from tests.infra import PrivateKafka
from tests.kafka_tls import ThrowawayCa
from tests.processes import ServiceProcess

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

ADMIN = "candour-admin"  # the cluster's administrator (a super user): creates the ACLs


@dataclass
class SecuredKafka:
    broker: PrivateKafka
    sasl_port: int
    ca: ThrowawayCa
    certfile: Path
    keyfile: Path
    passwords: dict[str, str]  # user -> password

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.sasl_port}"

    def env(self, user: str, *, password: str | None = None) -> dict[str, str]:
        """The CANDOUR_KAFKA_* settings of a process that logs in as `user`."""
        return {
            "CANDOUR_KAFKA_BOOTSTRAP": self.bootstrap,
            "CANDOUR_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "CANDOUR_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "CANDOUR_KAFKA_SASL_USERNAME": user,
            "CANDOUR_KAFKA_SASL_PASSWORD": password or self.passwords[user],
            "CANDOUR_KAFKA_SSL_CAFILE": str(self.ca.cafile),
            "CANDOUR_KAFKA_SSL_CERTFILE": str(self.certfile),
            "CANDOUR_KAFKA_SSL_KEYFILE": str(self.keyfile),
        }

    def connection(self, user: str) -> KafkaConnection:
        return KafkaConnection(
            self.bootstrap,
            security_protocol="SASL_SSL",
            sasl_username=user,
            sasl_password=SecretStr(self.passwords[user]),
            ssl_cafile=self.ca.cafile,
            ssl_certfile=self.certfile,
            ssl_keyfile=self.keyfile,
        )


@pytest.fixture(scope="module")
def secured_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredKafka]:
    root = tmp_path_factory.mktemp("kafka-sasl")
    ca = ThrowawayCa.create(root / "pki")
    certfile, keyfile = ca.client_certificate("candour-clients")
    users = [ADMIN, *(default_principal(r) for r in (*SERVICES, OPERATOR))]
    passwords = {user: secrets.token_hex(16) for user in users}
    users_file = root / "scram-users"
    users_file.write_text("".join(f"{u}={p}\n" for u, p in passwords.items()))
    users_file.chmod(0o600)
    sasl_port = free_port()
    broker = PrivateKafka(
        root / "state",
        free_port(),
        free_port(),
        env={
            "CANDOUR_KAFKA_SASL_SSL_PORT": str(sasl_port),
            "CANDOUR_KAFKA_SSL_KEYSTORE": str(ca.broker_keystore()),
            "CANDOUR_KAFKA_SSL_TRUSTSTORE": str(ca.cafile),
            "CANDOUR_KAFKA_SCRAM_USERS": str(users_file),
            "CANDOUR_KAFKA_SUPER_USERS": ADMIN,
        },
    )
    broker.start()
    try:
        yield SecuredKafka(broker, sasl_port, ca, certfile, keyfile, passwords)
    finally:
        broker.stop()


def candour(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CANDOUR_KAFKA_")}
    return subprocess.run(
        [sys.executable, "-m", "candour_cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, "COLUMNS": "250", **env},
    )


def candour_here(*args: str, env: dict[str, str]) -> Result:
    """The CLI in this process (its start-up as a process costs seconds)."""
    return CliRunner().invoke(cli, list(args), env={"COLUMNS": "250", **env})


@pytest.fixture(scope="module")
def secured_topics(secured_kafka: SecuredKafka) -> TopicNames:
    """Candour's topics, made by the operator principal after the administrator gave every
    principal its ACLs (as a deployment does: `candour acls apply`, `candour topics create`)."""
    topics = TopicNames(prefix=f"s{uuid.uuid4().hex[:8]}.")
    prefix = {"CANDOUR_TOPIC_PREFIX": topics.prefix}
    applied = candour_here("acls", "apply", env=secured_kafka.env(ADMIN) | prefix)
    assert applied.exit_code == 0, applied.output
    operator = secured_kafka.env(default_principal(OPERATOR)) | prefix
    made = candour_here("topics", "create", env=operator)
    assert made.exit_code == 0, made.output
    assert f"{2 * len(Topic)} created" in made.output  # each topic and its dead letters
    described = candour_here("topics", "describe", env=operator)
    assert described.exit_code == 0, described.output
    return topics


@pytest.fixture
async def secured_platform(
    create_database: CreateDatabase,
    secured_kafka: SecuredKafka,
    secured_topics: TopicNames,
    tmp_path: Path,
) -> AsyncIterator[Platform]:
    async with platform_setup(
        create_database, secured_kafka.bootstrap, secured_topics, tmp_path
    ) as (platform, _smtp):
        for service in SERVICES:
            platform.env[service] |= secured_kafka.env(default_principal(service))
        # The test reads the dead-letter topics as the operator does.
        platform.kafka = secured_kafka.connection(default_principal(OPERATOR))
        yield platform


async def test_each_service_produces_and_consumes_over_sasl_ssl_as_its_own_principal(
    secured_platform: Platform, secured_kafka: SecuredKafka
) -> None:
    platform = secured_platform
    await start(platform)
    await platform.subscribe_trust()
    ids = await platform.submit(3, concurrency=1)
    # story-intake -> story.submitted -> moderation -> story.approved -> search and
    # notifications: every service produced or consumed through the SASL_SSL listener.
    await platform.assert_everything_exactly_once(ids, timeout=120)
    logs = platform.all_logs()
    for user, password in secured_kafka.passwords.items():
        assert password not in logs, f"{user}'s Kafka password is in a service log"


async def test_a_principal_can_only_use_its_own_topics_and_group(
    secured_kafka: SecuredKafka, secured_topics: TopicNames
) -> None:
    # Intake writes story.submitted; it must not read it (the author's contact is there).
    intake = secured_kafka.connection(default_principal("story-intake"))
    consumer = AIOKafkaConsumer(
        secured_topics.name(Topic.STORY_SUBMITTED),
        **intake.client_options(),
        group_id=f"{secured_topics.prefix}candour-story-intake",
        auto_offset_reset="earliest",
    )
    with pytest.raises(TopicAuthorizationFailedError):
        await _first_fetch(consumer)

    # Search reads story.approved; it must not publish to it.
    search = secured_kafka.connection(default_principal("search"))
    producer = AIOKafkaProducer(**search.client_options(), acks="all")
    await producer.start()
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            await producer.send_and_wait(secured_topics.name(Topic.STORY_APPROVED), b"{}")
    finally:
        await producer.stop()

    # Moderation may read story.submitted, but only in its own consumer group.
    moderation = secured_kafka.connection(default_principal("moderation"))
    borrowed = AIOKafkaConsumer(
        secured_topics.name(Topic.STORY_SUBMITTED),
        **moderation.client_options(),
        group_id=f"{secured_topics.prefix}candour-notifications",
    )
    with pytest.raises(GroupAuthorizationFailedError):
        await _first_fetch(borrowed)


async def _first_fetch(consumer: AIOKafkaConsumer) -> None:
    try:
        await consumer.start()
        await consumer.getmany(timeout_ms=5000)
    finally:
        await consumer.stop()


def test_a_wrong_password_is_refused_with_a_clear_error_by_the_cli(
    secured_kafka: SecuredKafka, secured_topics: TopicNames
) -> None:
    operator = default_principal(OPERATOR)
    wrong = "not-" + secured_kafka.passwords[operator]
    env = secured_kafka.env(operator, password=wrong)
    refused = candour("topics", "describe", env=env | {"CANDOUR_TOPIC_PREFIX": "x."})
    assert refused.returncode == 1
    assert (
        f"error: Kafka at {secured_kafka.bootstrap} refused the login of "
        f"CANDOUR_KAFKA_SASL_USERNAME={operator} (SCRAM-SHA-512)"
    ) in refused.stderr
    assert "check CANDOUR_KAFKA_SASL_USERNAME and CANDOUR_KAFKA_SASL_PASSWORD" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert wrong not in refused.stdout + refused.stderr

    # A broker certificate from a CA the client was not told to trust is refused too.
    stranger = ThrowawayCa.create(secured_kafka.ca.directory / "stranger", name="Stranger CA")
    untrusted = candour(
        "topics",
        "describe",
        env=secured_kafka.env(operator) | {"CANDOUR_KAFKA_SSL_CAFILE": str(stranger.cafile)},
    )
    assert untrusted.returncode == 1
    assert "is not trusted" in untrusted.stderr
    assert "check CANDOUR_KAFKA_SSL_CAFILE" in untrusted.stderr


async def test_a_service_with_a_wrong_password_says_why_and_is_not_ready(
    secured_kafka: SecuredKafka,
    secured_topics: TopicNames,
    create_database: CreateDatabase,
    tmp_path: Path,
) -> None:
    user = default_principal("moderation")
    wrong = "not-" + secured_kafka.passwords[user]
    process = ServiceProcess(
        name="moderation",
        port=free_port(),
        env={
            **secured_kafka.env(user, password=wrong),
            "CANDOUR_DATABASE_URL": await create_database("moderation"),
            "CANDOUR_TOPIC_PREFIX": secured_topics.prefix,
            "CANDOUR_JWT_SECRET": "sasl-test-secret-0123456789abcdef0123456789",
        },
        log_path=tmp_path / "moderation.log",
    )
    process.start()
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            for _ in range(300):
                if "Kafka refused this service" in process.logs():
                    break
                assert process.process is not None and process.process.poll() is None, (
                    process.logs()
                )
                await asyncio.sleep(0.2)
            logs = process.logs()
            assert "Kafka refused this service" in logs, logs[-3000:]
            assert f"refused the login of CANDOUR_KAFKA_SASL_USERNAME={user}" in logs
            assert wrong not in logs
            # The refusal is logged during start-up; the HTTP port may open a moment later.
            for _ in range(100):
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get(f"{process.url}/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.2)
            assert (await http.get(f"{process.url}/healthz")).status_code == 200
            ready = await http.get(f"{process.admin_url}/readyz")  # the admin port
            assert ready.status_code == 503
            assert ready.json()["checks"]["kafka"] == "unavailable: KafkaLoginRefused"
    finally:
        process.stop(signal.SIGTERM)

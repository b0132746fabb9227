"""`candour topics create|describe` against Apache Kafka: the table, idempotence and drift."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from candour_common.kafka_admin import topic_configs
from candour_common.topics import DAY_MS

pytestmark = pytest.mark.integration


def candour(*args: str, bootstrap: str, prefix: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CANDOUR_KAFKA_BOOTSTRAP": bootstrap,
        "CANDOUR_TOPIC_PREFIX": prefix,
        "COLUMNS": "250",
    }
    return subprocess.run(
        [sys.executable, "-m", "candour_cli", "topics", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


async def test_topics_follow_the_table_and_drift_is_reported(kafka_bootstrap: str) -> None:
    prefix = f"prov{uuid.uuid4().hex[:8]}."
    first = candour("create", bootstrap=kafka_bootstrap, prefix=prefix)
    assert first.returncode == 0, first.stderr
    assert "10 created, 0 existed" in first.stdout
    again = candour("create", bootstrap=kafka_bootstrap, prefix=prefix)
    assert "0 created, 10 existed" in again.stdout

    found = await topic_configs(
        kafka_bootstrap, [f"{prefix}story.submitted", f"{prefix}story.approved"]
    )
    assert found[f"{prefix}story.submitted"]["retention.ms"] == str(7 * DAY_MS)
    assert found[f"{prefix}story.approved"]["retention.ms"] == "-1"
    clean = candour("describe", bootstrap=kafka_bootstrap, prefix=prefix)
    assert clean.returncode == 0, clean.stdout + clean.stderr

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.alter_configs(
            [
                ConfigResource(
                    ConfigResourceType.TOPIC, f"{prefix}story.submitted", {"retention.ms": "1000"}
                )
            ]
        )
    finally:
        await admin.close()
    drifted = candour("describe", bootstrap=kafka_bootstrap, prefix=prefix)
    assert drifted.returncode == 1
    assert "retention.ms=1000 (want 604800000)" in drifted.stdout

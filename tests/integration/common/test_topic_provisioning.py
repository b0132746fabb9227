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
from candour_common.topics import DAY_MS, Topic

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
    every = 2 * len(Topic)  # each topic of the table and its dead-letter topic
    assert f"{every} created, 0 existed" in first.stdout
    again = candour("create", bootstrap=kafka_bootstrap, prefix=prefix)
    assert f"0 created, {every} existed" in again.stdout

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


async def test_describe_shows_each_cleanup_policy_and_dead_letters_keep_a_week(
    kafka_bootstrap: str,
) -> None:
    """story.approved and response.posted are compacted (a withdrawal's tombstones erase
    the text), story.submitted is compacted and expires, dead letters go after 7 days; a
    topic whose cleanup policy drifted is named."""
    prefix = f"prov{uuid.uuid4().hex[:8]}."
    assert candour("create", bootstrap=kafka_bootstrap, prefix=prefix).returncode == 0
    names = [f"{prefix}{t}" for t in ("story.submitted", "story.approved", "response.posted")]
    dlqs = [f"{prefix}{t}.dlq" for t in ("story.submitted", "story.approved", "response.posted")]
    found = await topic_configs(kafka_bootstrap, names + dlqs)
    assert [found[n]["cleanup.policy"] for n in names] == ["compact,delete", "compact", "compact"]
    for dlq in dlqs:
        assert found[dlq]["cleanup.policy"] == "delete"
        assert int(found[dlq]["retention.ms"]) <= 7 * DAY_MS

    described = candour("describe", bootstrap=kafka_bootstrap, prefix=prefix)
    assert described.returncode == 0, described.stdout + described.stderr
    rows = {line.split()[1]: line for line in described.stdout.splitlines() if prefix in line}
    assert "compact,delete" in rows[f"{prefix}story.submitted"]
    assert " compact " in rows[f"{prefix}story.approved"]
    assert "forever" in rows[f"{prefix}story.approved"]
    assert " delete " in rows[f"{prefix}story.approved.dlq"]
    assert "7d" in rows[f"{prefix}story.approved.dlq"]

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.alter_configs(
            [
                ConfigResource(
                    ConfigResourceType.TOPIC,
                    f"{prefix}response.posted",
                    {"cleanup.policy": "delete", "retention.ms": "-1"},
                )
            ]
        )
    finally:
        await admin.close()
    drifted = candour("describe", bootstrap=kafka_bootstrap, prefix=prefix)
    assert drifted.returncode == 1
    assert "cleanup.policy=delete (want compact)" in drifted.stdout

"""Smoke test: does aiokafka work against the local broker?

Usage:
    python deploy/local/smoke_kafka.py [--bootstrap 127.0.0.1:9092] [--broker-log PATH]

Exercises what Candour relies on, against a running broker:
  * admin: create a topic (3 partitions), describe it, describe its configs,
    create partitions;
  * producer with acks=all (keys, CloudEvents-style headers, gzip), and an
    idempotent producer;
  * auto-creation of a topic on first produce;
  * consumer in a consumer group, manual commit, committed offsets read back
    (consumer and admin), a second member of the group resuming after the commit;
  * list offsets, list/describe consumer groups, delete records, delete topics.
Then it reads the lines the broker logged meanwhile and fails on any
"unsupported version" (a request version Kafka no longer serves).

Prints one line per check and "smoke: OK" at the end; exits non-zero on failure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import sys
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.admin.records_to_delete import RecordsToDelete

N_MESSAGES = 30
REPO = Path(__file__).resolve().parents[2]


def ok(msg: str) -> None:
    print(f"smoke: ok   {msg}", flush=True)


def fail(msg: str) -> None:
    raise SystemExit(f"smoke: FAIL {msg}")


async def wait_for_assignment(consumer: AIOKafkaConsumer, limit_s: float = 30.0) -> None:
    deadline = time.monotonic() + limit_s
    while not consumer.assignment():
        if time.monotonic() > deadline:
            fail("consumer got no partition assignment")
        await asyncio.sleep(0.05)


async def consume(consumer: AIOKafkaConsumer, count: int, limit_s: float = 30.0) -> list[object]:
    got: list[object] = []
    deadline = time.monotonic() + limit_s
    while len(got) < count:
        if time.monotonic() > deadline:
            fail(f"consumed {len(got)} of {count} messages within {limit_s}s")
        batches = await consumer.getmany(timeout_ms=500)
        for records in batches.values():
            got.extend(records)
    return got


async def run(bootstrap: str) -> None:
    suffix = uuid.uuid4().hex[:8]
    topic = f"candour.smoke.{suffix}"
    auto_topic = f"candour.smoke.auto.{suffix}"
    group = f"candour-smoke-{suffix}"

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="candour-smoke")
    await admin.start()
    try:
        # ---- admin
        t0 = time.monotonic()
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
        described = await admin.describe_topics([topic])
        parts = described[0]["partitions"]
        if described[0]["error_code"] != 0 or len(parts) != 3:
            fail(f"describe_topics: {described}")
        ok(f"create_topics + describe_topics ({topic}, 3 partitions, {time.monotonic() - t0:.2f}s)")

        configs = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        if not configs or not configs[0].resources:
            fail(f"describe_configs: {configs}")
        ok("describe_configs")

        # ---- produce, acks=all
        headers = [
            ("ce_specversion", b"1.0"),
            ("ce_type", b"org.candour.smoke.v1"),
            ("content-type", b"application/json"),
        ]
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            compression_type="gzip",
            client_id="candour-smoke-producer",
        )
        await producer.start()
        try:
            t0 = time.monotonic()
            for i in range(N_MESSAGES):
                await producer.send_and_wait(
                    topic,
                    key=f"story-{i % 7}".encode(),
                    value=json.dumps({"n": i}).encode(),
                    headers=[*headers, ("ce_id", str(uuid.uuid4()).encode())],
                )
            ok(f"produced {N_MESSAGES} messages acks=all gzip ({time.monotonic() - t0:.2f}s)")

            meta = await producer.send_and_wait(auto_topic, key=b"k", value=b"{}")
            ok(f"auto-created topic {auto_topic} on produce (partition {meta.partition})")
        finally:
            await producer.stop()

        idem = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            enable_idempotence=True,
            client_id="candour-smoke-idempotent",
        )
        await idem.start()
        try:
            await idem.send_and_wait(topic, key=b"story-idem", value=b'{"idempotent": true}')
        finally:
            await idem.stop()
        ok("idempotent producer (InitProducerId) + send")
        total = N_MESSAGES + 1

        # ---- consume in a group, commit after processing
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id="candour-smoke-consumer",
        )
        t0 = time.monotonic()
        await consumer.start()
        try:
            await wait_for_assignment(consumer)
            ok(
                f"joined group {group}, assigned {len(consumer.assignment())} partitions "
                f"({time.monotonic() - t0:.2f}s)"
            )
            records = await consume(consumer, total)
            sample = next(r for r in records if r.key == b"story-0")  # type: ignore[attr-defined]
            hdrs = dict(sample.headers)  # type: ignore[attr-defined]
            if hdrs.get("ce_type") != b"org.candour.smoke.v1" or "ce_id" not in hdrs:
                fail(f"headers not round-tripped: {hdrs}")
            await consumer.commit()
            committed = {tp: await consumer.committed(tp) for tp in consumer.assignment()}
            end = await consumer.end_offsets(list(consumer.assignment()))
            if committed != {tp: end[tp] for tp in committed}:
                fail(f"committed {committed} != end offsets {end}")
            ok(f"consumed {len(records)} messages, committed; committed == end offsets")
        finally:
            await consumer.stop()

        offsets = await admin.list_consumer_group_offsets(group)
        if sum(o.offset for o in offsets.values()) != total:
            fail(f"list_consumer_group_offsets: {offsets}")
        ok("admin list_consumer_group_offsets matches")
        groups = await admin.list_consumer_groups()
        if group not in [g[0] for g in groups]:
            fail(f"list_consumer_groups does not show {group}: {groups}")
        await admin.describe_consumer_groups([group])
        ok("list_consumer_groups + describe_consumer_groups")

        # ---- a new member of the same group resumes after the commit
        async with AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all") as p2:
            await p2.send_and_wait(topic, key=b"story-late", value=b'{"late": true}')
        consumer2 = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer2.start()
        try:
            await wait_for_assignment(consumer2)
            late = await consume(consumer2, 1)
            if [r.key for r in late] != [b"story-late"]:  # type: ignore[attr-defined]
                fail(f"second member re-read committed messages: {[r.key for r in late]}")  # type: ignore[attr-defined]
            await consumer2.commit()
        finally:
            await consumer2.stop()
        ok("second group member resumed from the committed offsets")

        # ---- partitions, delete records, delete topics
        await admin.create_partitions({topic: NewPartitions(total_count=4)})
        await admin.delete_records({TopicPartition(topic, 0): RecordsToDelete(before_offset=0)})
        ok("create_partitions + delete_records")
    finally:
        try:
            await admin.delete_topics([topic, auto_topic])
            ok("delete_topics")
        finally:
            await admin.close()


def check_broker_log(path: Path, start_size: int) -> None:
    if not path.exists():
        print(f"smoke: note broker log {path} not found, not checked", flush=True)
        return
    with path.open("rb") as f:
        f.seek(start_size if path.stat().st_size >= start_size else 0)
        new = f.read().decode("utf-8", "replace")
    bad = [
        line
        for line in new.splitlines()
        if re.search(r"unsupported.?version|UnsupportedVersion", line, re.IGNORECASE)
    ]
    if bad:
        print("\n".join(bad[:20]), file=sys.stderr)
        fail(f"broker logged {len(bad)} 'unsupported version' line(s)")
    ok(f"broker log has no 'unsupported version' line ({path})")
    # Not fatal: Kafka logs a few benign ERRORs, e.g. state.change.logger's
    # "Expected partition ... to exist, but it was missing. Creating..." after
    # create_partitions.
    for line in [line for line in new.splitlines() if " ERROR " in line][:10]:
        print(f"smoke: note broker logged: {line}", flush=True)


def main() -> int:
    local = Path(os.environ.get("CANDOUR_LOCAL_DIR", REPO / ".candour" / "local"))
    port = os.environ.get("CANDOUR_KAFKA_PORT", "9092")
    parser = argparse.ArgumentParser(description="aiokafka smoke test against the local broker")
    parser.add_argument("--bootstrap", default=f"127.0.0.1:{port}")
    parser.add_argument("--broker-log", type=Path, default=local / "kafka" / "logs" / "server.log")
    parser.add_argument("--verbose", action="store_true", help="show aiokafka's own warnings")
    args = parser.parse_args()
    # aiokafka logs expected transient conditions (topic being auto-created,
    # group coordinator loading) at WARNING/ERROR: show them only on request
    logging.basicConfig(
        level=logging.WARNING if args.verbose else logging.CRITICAL,
        format="%(levelname)s %(name)s: %(message)s",
    )

    log: Path = args.broker_log
    start_size = log.stat().st_size if log.exists() else 0
    t0 = time.monotonic()
    asyncio.run(run(args.bootstrap))
    time.sleep(0.5)  # let the broker flush its log lines
    check_broker_log(log, start_size)
    print(f"smoke: OK ({time.monotonic() - t0:.1f}s, {args.bootstrap})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

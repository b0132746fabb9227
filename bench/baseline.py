"""The raw baseline: what Kafka and PostgreSQL do on this machine with nothing of Candour's.

    .venv/bin/python bench/baseline.py [--messages 1000] [--size 4000]

- Kafka: produce N messages of `size` bytes with acks=all (aiokafka, every send in
  flight at once, as fast as the client allows), then consume all N from a fresh
  topic; messages/s over produce + consume.
- PostgreSQL: N single-row INSERTs of `size` bytes, each its own transaction
  (what a per-event commit costs), and the same N rows with one `executemany`
  in one transaction (what batching can reach); rows/s.

The pipeline benchmark runs this in the same process, with the same N and the
mean size of its stories, and prints its throughput as a ratio of these.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from harness.cli import common_arguments, console
from harness.record import append_row, machine_facts, machine_text, write_result
from harness.servers import Infra, infrastructure

PARTITIONS = 3


async def kafka_round_trip(bootstrap: str, messages: int, size: int) -> dict[str, float]:
    topic = f"bench-baseline-{uuid.uuid4().hex[:10]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)]
        )
        payload = os.urandom(size // 2).hex().encode()[:size]
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
        await producer.start()
        try:
            # A first message to each partition waits out the new topic's leader
            # elections, untimed.
            for partition in range(PARTITIONS):
                await (await producer.send(topic, payload, partition=partition))
            started = time.perf_counter()
            sends = [
                await producer.send(topic, payload, key=str(i % 64).encode())
                for i in range(messages)
            ]
            await asyncio.gather(*sends)
            produced = time.perf_counter()
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
        )
        await consumer.start()
        try:
            consume_started = time.perf_counter()
            seen = 0
            deadline = consume_started + max(60.0, messages / 100)
            while seen < messages + PARTITIONS and time.perf_counter() < deadline:
                batches = await consumer.getmany(timeout_ms=500, max_records=2000)
                seen += sum(len(records) for records in batches.values())
            consumed = time.perf_counter()
        finally:
            await consumer.stop()
        await admin.delete_topics([topic])
    finally:
        await admin.close()
    produce_s = produced - started
    consume_s = consumed - consume_started
    return {
        "messages": messages,
        "consumed": seen - PARTITIONS,
        "size_bytes": size,
        "produce_s": round(produce_s, 3),
        "consume_s": round(consume_s, 3),
        "produce_per_s": messages / produce_s,
        "consume_per_s": (seen - PARTITIONS) / consume_s,
        "round_trip_per_s": messages / (produce_s + consume_s),
    }


async def postgres_inserts(server_url: str, rows: int, size: int) -> dict[str, float]:
    conn = await asyncpg.connect(server_url)
    table = f"bench_baseline_{uuid.uuid4().hex[:10]}"
    try:
        await conn.execute(
            f"CREATE TABLE {table} (id uuid PRIMARY KEY, body text NOT NULL, "
            "created_at timestamptz NOT NULL DEFAULT now())"
        )
        body = os.urandom(size // 2).hex()[:size]
        insert = f"INSERT INTO {table} (id, body) VALUES ($1, $2)"  # noqa: S608 - our own name
        started = time.perf_counter()
        for _ in range(rows):
            await conn.execute(insert, uuid.uuid4(), body)  # autocommit: one transaction each
        single = time.perf_counter() - started
        started = time.perf_counter()
        async with conn.transaction():
            await conn.executemany(insert, [(uuid.uuid4(), body) for _ in range(rows)])
        batched = time.perf_counter() - started
    finally:
        await conn.execute(f"DROP TABLE IF EXISTS {table}")
        await conn.close()
    return {
        "rows": rows,
        "size_bytes": size,
        "single_s": round(single, 3),
        "single_per_s": rows / single,
        "executemany_s": round(batched, 3),
        "executemany_per_s": rows / batched,
    }


async def measure(infra: Infra, messages: int, size: int) -> dict[str, Any]:
    kafka = await kafka_round_trip(infra.kafka_bootstrap, messages, size)
    postgres = await postgres_inserts(infra.postgres_url, messages, size)
    # One message through Kafka plus one committed row: the least any event-driven
    # step can cost; the pipeline does several of each per story.
    combined = 1 / (1 / kafka["round_trip_per_s"] + 1 / postgres["single_per_s"])
    return {"kafka": kafka, "postgres": postgres, "combined_per_s": combined}


def text(baseline: dict[str, Any]) -> str:
    k, p = baseline["kafka"], baseline["postgres"]
    return (
        f"Kafka acks=all produce {k['produce_per_s']:.0f}/s, consume {k['consume_per_s']:.0f}/s, "
        f"round trip {k['round_trip_per_s']:.0f} msg/s; PostgreSQL insert "
        f"{p['single_per_s']:.0f} rows/s (commit each), {p['executemany_per_s']:.0f} rows/s "
        f"(executemany); Kafka+insert {baseline['combined_per_s']:.0f}/s"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--size", type=int, default=4000, help="bytes per message and row")
    common_arguments(parser)
    args = parser.parse_args()
    async with infrastructure(args) as infra:
        facts = machine_facts(infra)
        baseline = await measure(infra, args.messages, args.size)
    console.print(text(baseline))
    path = write_result(
        "baseline",
        {"benchmark": "baseline", "machine": facts, "args": vars(args), "baseline": baseline},
        args.out_dir,
    )
    console.print(f"result: {path}")
    if not args.no_record:
        append_row(
            "raw baseline",
            machine_text(facts),
            f"{baseline['kafka']['round_trip_per_s']:.0f} Kafka msg/s, "
            f"{baseline['postgres']['single_per_s']:.0f} PG rows/s",
            "(this is the baseline)",
            f"{args.messages} x {args.size} B; {facts['broker']}; PostgreSQL {facts['postgresql']}",
        )


if __name__ == "__main__":
    asyncio.run(main())

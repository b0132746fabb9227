"""How aiokafka's two ways of polling compare: `getone` against `getmany`.

    .venv/bin/python bench/poll_bench.py [--rate 50] [--seconds 20] [--backlog 20000]
        [--broker kafka|tansu] [--no-record]

The event consumer (`candour_common.consumer`) polls with `getmany`, so a backlog
arrives as batches; an earlier experiment blamed `getmany` for extra latency. This
measures the poll alone, against the same broker in the same run:

- **latency** at an open-loop `--rate` (records/s for `--seconds`): producer send
  to the consumer holding the record, p50/p95/p99, for each way of polling, with
  an offset commit after every poll as the consumer does when caught up;
- **backlog**: records/s and consumer CPU per record reading `--backlog` records
  already on the topic, for each way.

`getone` is the raw baseline; the row in bench/results.md gives both.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from harness.cli import common_arguments, console, exit_cleanly_on_sigterm
from harness.record import append_row, machine_facts, machine_text, write_result
from harness.servers import infrastructure
from harness.stats import latency_text, summary

PARTITIONS = 3


async def _topic(bootstrap: str) -> str:
    name = f"bench-poll-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, PARTITIONS, 1)])
    finally:
        await admin.close()
    return name


async def _drop(bootstrap: str, topics: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(topics)
    finally:
        await admin.close()


async def _poll(consumer: AIOKafkaConsumer, way: str) -> list[Any]:
    if way == "getone":
        return [await consumer.getone()]
    batches = await consumer.getmany(timeout_ms=500, max_records=300)
    return [record for records in batches.values() for record in records]


async def latency(bootstrap: str, way: str, rate: float, seconds: float) -> dict[str, Any]:
    topic = await _topic(bootstrap)
    total = int(rate * seconds)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=topic,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await consumer.start()
    await producer.start()
    delays: list[float] = []
    polls = 0

    async def consume() -> None:
        nonlocal polls
        while len(delays) < total:
            records = await _poll(consumer, way)
            now = time.perf_counter()
            delays.extend(now - float(r.value) for r in records)
            if records:
                polls += 1
                await consumer.commit()

    try:
        while not consumer.assignment():  # noqa: ASYNC110 - aiokafka offers no event for it
            await asyncio.sleep(0.05)
        reader = asyncio.create_task(consume())
        start = time.perf_counter()
        for i in range(total):
            pause = start + i / rate - time.perf_counter()
            if pause > 0:
                await asyncio.sleep(pause)
            await producer.send(topic, str(time.perf_counter()).encode(), key=str(i).encode())
        await asyncio.wait_for(reader, seconds + 30)
    finally:
        await producer.stop()
        await consumer.stop()
        await _drop(bootstrap, [topic])
    stats = summary(delays)
    stats["records_per_poll"] = round(total / max(polls, 1), 2)
    return stats


async def backlog(bootstrap: str, way: str, count: int) -> dict[str, Any]:
    topic = await _topic(bootstrap)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        for i in range(count):
            await producer.send(topic, b"x" * 1500, key=str(i).encode())
        await producer.flush()
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=topic,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        seen = 0
        cpu = time.process_time()
        started = time.perf_counter()
        while seen < count:
            seen += len(await _poll(consumer, way))
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
    finally:
        await consumer.stop()
        await _drop(bootstrap, [topic])
    return {"records_per_second": count / elapsed, "cpu_us_per_record": cpu / count * 1e6}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    async with infrastructure(args) as infra:
        facts = machine_facts(infra)
        result: dict[str, Any] = {"machine": facts, "ways": {}}
        for way in ("getone", "getmany"):
            console.print(f"{way}: latency at {args.rate}/s for {args.seconds} s ...")
            lat = await latency(infra.kafka_bootstrap, way, args.rate, args.seconds)
            console.print(f"{way}: backlog of {args.backlog} ...")
            back = await backlog(infra.kafka_bootstrap, way, args.backlog)
            result["ways"][way] = {"latency": lat, "backlog": back}
            console.print(
                f"  {way}: latency {latency_text(lat)}, "
                f"{lat['records_per_poll']} records/poll; backlog "
                f"{back['records_per_second']:,.0f} records/s, "
                f"{back['cpu_us_per_record']:.1f} µs CPU/record"
            )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    common_arguments(parser)
    parser.add_argument("--rate", type=float, default=50.0, help="records/s for latency")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to send")
    parser.add_argument("--backlog", type=int, default=20_000, help="records for throughput")
    args = parser.parse_args()
    exit_cleanly_on_sigterm()
    result = asyncio.run(run(args))
    path = write_result("poll", result, args.out_dir)
    one, many = result["ways"]["getone"], result["ways"]["getmany"]
    if not args.no_record:
        append_row(
            "poll: getmany vs getone",
            machine_text(result["machine"]),
            f"getmany latency {latency_text(many['latency'])}; backlog "
            f"{many['backlog']['records_per_second']:,.0f} records/s, "
            f"{many['backlog']['cpu_us_per_record']:.1f} µs CPU/record",
            f"getone latency {latency_text(one['latency'])}; backlog "
            f"{one['backlog']['records_per_second']:,.0f} records/s, "
            f"{one['backlog']['cpu_us_per_record']:.1f} µs CPU/record",
            f"{args.rate:g}/s for {args.seconds:g} s, {args.backlog} records of 1.5 kB, "
            f"{PARTITIONS} partitions; {path.name}",
        )
    console.print(f"wrote {path}")


if __name__ == "__main__":
    main()

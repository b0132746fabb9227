"""Wait until a Kafka broker answers a metadata request.

Usage:
    python deploy/local/wait_kafka.py [--bootstrap 127.0.0.1:9092] [--timeout 90]
                                      [--pid PID] [--brokers N] [--node ID] [--quiet]

Polls the bootstrap address with aiokafka's admin client (a Metadata request,
the same one every client starts with) until the answer names at least one
broker (at least N with --brokers; broker ID among them with --node: a cluster
lists only the brokers its controller has registered and not fenced). On
success prints the bootstrap address as the last line and exits 0. Exits 1 on
timeout, or as soon as --pid (the broker's process) has died.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import time
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (exited, not yet reaped) counts as dead
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


async def probe(
    bootstrap: str, request_timeout_ms: int, brokers: int = 1, node: int | None = None
) -> dict[str, Any]:
    """One metadata round trip; raises on any failure."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        request_timeout_ms=request_timeout_ms,
        client_id="candour-wait-kafka",
    )
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
    listed = cluster.get("brokers") or []
    if not listed:
        raise RuntimeError("metadata response names no broker yet")
    if len(listed) < brokers:
        raise RuntimeError(f"metadata names {len(listed)} of {brokers} brokers")
    if node is not None and node not in {b["node_id"] for b in listed}:
        raise RuntimeError(f"metadata does not list broker {node} yet")
    return dict(cluster)


async def wait(
    bootstrap: str,
    limit_s: float,
    pid: int | None,
    quiet: bool,
    brokers: int = 1,
    node: int | None = None,
) -> int:
    def say(msg: str) -> None:
        if not quiet:
            print(f"kafka: {msg}", flush=True)

    start = time.monotonic()
    deadline = start + limit_s
    next_report = start + 10
    last_error = "no attempt yet"
    while True:
        if pid is not None and not _alive(pid):
            say(f"broker process {pid} exited before answering ({last_error})")
            return 1
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            say(f"no metadata response from {bootstrap} within {limit_s:.0f}s ({last_error})")
            return 1
        try:
            attempt_ms = int(max(1.0, min(5.0, remaining)) * 1000)
            cluster = await asyncio.wait_for(
                probe(bootstrap, attempt_ms, brokers, node), timeout=attempt_ms / 1000 + 2
            )
        except Exception as exc:  # any failure means "not yet"
            text = str(exc).strip()
            name = type(exc).__name__
            last_error = text if text.startswith(name) else f"{name}: {text}".rstrip(": ")
        else:
            brokers = cluster.get("brokers") or []
            say(
                f"ready after {time.monotonic() - start:.1f}s "
                f"({len(brokers)} broker(s), controller id {cluster.get('controller_id')})"
            )
            print(bootstrap, flush=True)
            return 0
        now = time.monotonic()
        if now >= next_report:
            say(f"still waiting for {bootstrap} ({now - start:.0f}s, {last_error})")
            next_report = now + 10
        await asyncio.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--timeout", type=float, default=90.0)
    parser.add_argument("--pid", type=int, default=None, help="give up when this process dies")
    parser.add_argument("--brokers", type=int, default=1, help="wait until N brokers are listed")
    parser.add_argument("--node", type=int, default=None, help="wait until broker ID is listed")
    parser.add_argument("--quiet", action="store_true", help="print only the address")
    args = parser.parse_args(argv)
    # aiokafka logs every refused connection at ERROR: keep the output to our lines
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL + 1)
    return asyncio.run(
        wait(args.bootstrap, args.timeout, args.pid, args.quiet, args.brokers, args.node)
    )


if __name__ == "__main__":
    sys.exit(main())

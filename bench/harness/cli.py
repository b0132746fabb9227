"""The benchmarks' command line: common arguments, console, progress bars, SIGTERM."""

from __future__ import annotations

import argparse
import signal
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from harness.record import OUT_DIR
from tests.processes import MODULES

console = Console(stderr=True, soft_wrap=True)


def progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        # Rich redraws from a thread of the load generator's own process: twice a
        # second is enough to watch, and leaves the CPU to what is measured.
        refresh_per_second=2,
    )


def exit_cleanly_on_sigterm() -> None:
    """SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C, so the services are stopped."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--broker",
        choices=("kafka", "tansu"),
        default="kafka",
        help="kafka: Apache Kafka (deploy/local, or --kafka); tansu: the embedded broker",
    )
    parser.add_argument("--kafka", help="bootstrap of an already running Apache Kafka")
    parser.add_argument("--postgres", help="URL of an already running PostgreSQL server")
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR, help="where the JSON goes")
    parser.add_argument(
        "--no-record", action="store_true", help="do not append a row to bench/results.md"
    )
    parser.add_argument(
        "--service-env",
        action="append",
        default=[],
        metavar="SERVICE:NAME=VALUE",
        help="extra setting for one service (or `all:`), e.g. "
        "notifications:CANDOUR_DELIVERY_BATCH_SIZE=100",
    )
    parser.add_argument(
        "--stall-timeout",
        type=float,
        default=120.0,
        help="give up when nothing progressed for this many seconds",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run each service under cProfile; prints the top costs and keeps the .prof files",
    )


def parse_service_env(items: Sequence[str]) -> dict[str, dict[str, str]]:
    parsed: dict[str, dict[str, str]] = {}
    for item in items:
        target, _, assignment = item.partition(":")
        name, eq, value = assignment.partition("=")
        if not eq or (target != "all" and target not in MODULES):
            raise SystemExit(f"--service-env {item!r}: expected SERVICE:NAME=VALUE")
        for service in MODULES if target == "all" else (target,):
            parsed.setdefault(service, {})[name] = value
    return parsed

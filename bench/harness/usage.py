"""What each process used: CPU seconds and memory (psutil), and cProfile summaries."""

from __future__ import annotations

import asyncio
import contextlib
import io
import math
import pstats
from collections.abc import Mapping
from dataclasses import dataclass

import asyncpg
import psutil

from harness.cli import console
from tests.processes import ServiceProcess


@dataclass
class ProcessUsage:
    """One service's process and its children: peak and idle memory, CPU since the mark."""

    service: ServiceProcess
    peak_rss: int = 0
    idle_rss: int = 0
    cpu_at_mark: float = 0.0

    def _tree(self) -> list[psutil.Process]:
        assert self.service.process is not None
        try:
            proc = psutil.Process(self.service.process.pid)
            return [proc, *proc.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def rss(self) -> int:
        total = 0
        for p in self._tree():
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
        return total

    def cpu_seconds(self) -> float:
        total = 0.0
        for p in self._tree():
            with contextlib.suppress(psutil.Error):
                times = p.cpu_times()
                total += times.user + times.system
        return total


def own_cpu_seconds() -> float:
    """CPU seconds of this process: the benchmark's load generator."""
    times = psutil.Process().cpu_times()
    return float(times.user + times.system)


def own_rss() -> int:
    return int(psutil.Process().memory_info().rss)


def infrastructure_cpu_seconds() -> dict[str, float]:
    """CPU seconds used so far by the local Kafka broker and PostgreSQL server.

    Found by command line on this machine (so only when they run here). PostgreSQL
    forks a backend per connection: the postmaster's reaped children count too.
    """
    totals: dict[str, float] = {}
    for proc in psutil.process_iter(["cmdline", "name"]):
        with contextlib.suppress(psutil.Error):
            cmdline = " ".join(proc.info["cmdline"] or ())
            if "kafka.Kafka" in cmdline or "tansu" in (proc.info["name"] or ""):
                name = "Kafka broker"
            elif proc.info["name"] == "postgres" or cmdline.startswith("postgres"):
                name = "PostgreSQL server"
            else:
                continue
            t = proc.cpu_times()
            used = t.user + t.system
            if name == "PostgreSQL server":
                used += t.children_user + t.children_system
            totals[name] = totals.get(name, 0.0) + used
    return totals


def process_table(report: dict[str, dict[str, float]]) -> str:
    lines = [f"  {'process':<24}{'CPU s':>8}{'peak RSS MB':>13}{'idle RSS MB':>13}"]
    for name, r in report.items():
        idle = "" if math.isnan(r["idle_rss_mb"]) else f"{r['idle_rss_mb']:.1f}"
        peak = "" if math.isnan(r["peak_rss_mb"]) else f"{r['peak_rss_mb']:.1f}"
        lines.append(f"  {name:<24}{r['cpu_seconds']:>8.1f}{peak:>13}{idle:>13}")
    return "\n".join(lines)


def print_profiles(services: Mapping[str, ServiceProcess], top: int = 25) -> dict[str, list[str]]:
    """Top costs per service from its cProfile file (written when it exited)."""
    tops: dict[str, list[str]] = {}
    for name, service in services.items():
        path = service.profile_path
        if path is None or not path.exists():
            console.print(f"[yellow]{name}: no profile written[/]")
            continue
        buffer = io.StringIO()
        stats = pstats.Stats(str(path), stream=buffer)
        stats.sort_stats("tottime").print_stats(top)
        buffer.write("\n-- by cumulative time --\n")
        stats.sort_stats("cumulative").print_stats(top)
        text = buffer.getvalue()
        (path.with_suffix(".txt")).write_text(text)
        tops[name] = text.splitlines()
        console.print(f"[bold]{name}[/]: profile in {path} (summary {path.with_suffix('.txt')})")
    return tops


class DatabaseBackendsCpu:
    """CPU seconds of the PostgreSQL backends (parallel workers included) serving one
    database, sampled from pg_stat_activity and /proc while something runs: on a server
    other people use too, the server's total says little about one job.

    A backend's last sample counts, so a short-lived parallel worker's last fraction of a
    sampling interval is missed: a slight undercount.
    """

    def __init__(self, dsn: str, database: str, interval: float = 0.25) -> None:
        self.dsn = dsn
        self.database = database
        self.interval = interval
        self.seconds: dict[int, float] = {}
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> DatabaseBackendsCpu:
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    @property
    def total(self) -> float:
        return sum(self.seconds.values())

    async def _sample(self) -> None:
        conn = await asyncpg.connect(self.dsn)
        try:
            while True:
                rows = await conn.fetch(
                    "SELECT pid FROM pg_stat_activity WHERE datname = $1"
                    " AND pid <> pg_backend_pid()",
                    self.database,
                )
                for row in rows:
                    with contextlib.suppress(psutil.Error):
                        t = psutil.Process(row["pid"]).cpu_times()
                        self.seconds[row["pid"]] = t.user + t.system
                await asyncio.sleep(self.interval)
        finally:
            await conn.close()


def listening_process(port: int) -> psutil.Process | None:
    """The local process listening on TCP `port` (a broker), if there is one here."""
    with contextlib.suppress(psutil.Error):
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
                return psutil.Process(conn.pid)
    return None


def process_cpu_seconds(proc: psutil.Process | None) -> float:
    if proc is None:
        return math.nan
    with contextlib.suppress(psutil.Error):
        t = proc.cpu_times()
        return float(t.user + t.system)
    return math.nan

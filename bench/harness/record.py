"""What a run records about itself: machine facts, the JSON result, the results row."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

if TYPE_CHECKING:
    from harness.servers import Infra

BENCH_DIR = Path(__file__).resolve().parents[1]
ROOT = BENCH_DIR.parent
OUT_DIR = BENCH_DIR / "out"
RESULTS = BENCH_DIR / "results.md"
RESULTS_HEADER = (
    "| date (UTC) | benchmark | commit | machine | result | raw baseline | notes |\n"
    "|---|---|---|---|---|---|---|\n"
)


def _git(*args: str) -> str:
    return subprocess.run(  # noqa: S603 - git with our own arguments
        ["git", *args],  # noqa: S607 - git from PATH
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    ).stdout.strip()


def git_commit() -> str:
    """The short commit, `+dirty` when tracked files have changed since it."""
    try:
        dirty = _git("status", "--porcelain", "--untracked-files=no")
        return _git("rev-parse", "--short", "HEAD") + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def package_version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine_facts(infra: Infra | None = None) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average_at_start": os.getloadavg(),
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "packages": {
            p: package_version(p)
            for p in ("aiokafka", "asyncpg", "faststream", "fastapi", "uvicorn", "pydantic")
        },
    }
    if infra is not None:
        facts["broker"] = infra.broker_description
        facts["postgresql"] = infra.postgres_version
    return facts


def machine_text(facts: dict[str, Any]) -> str:
    return f"{facts['cpu_model']}, {facts['cores']} cores, {facts['python']}"


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def write_result(kind: str, result: dict[str, Any], out_dir: Path = OUT_DIR) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{kind}-{stamp()}.json"
    path.write_text(json.dumps(result, indent=2, default=str))
    return path


def append_row(
    benchmark: str, machine: str, result: str, baseline: str, notes: str, path: Path = RESULTS
) -> None:
    """Add one row to the shared results table (others' rows are left as they are)."""
    if not path.exists():
        path.write_text("# Benchmark results\n\n" + RESULTS_HEADER)
    text = path.read_text()
    if not text.endswith("\n"):
        text += "\n"
    cells = (
        datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        benchmark,
        git_commit(),
        machine,
        result,
        baseline,
        notes,
    )
    path.write_text(text + "| " + " | ".join(c.replace("|", "/") for c in cells) + " |\n")

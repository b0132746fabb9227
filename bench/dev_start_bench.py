"""How long `candour dev` takes from the command to "Candour is running", and where it goes.

Runs `candour dev` as a user does (embedded PostgreSQL, Tansu, SMTP + mailbox, the
four services, demo data) on free ports with a state directory of its own, stamps
every line it prints, and prints a timeline of the milestones: broker, PostgreSQL
(initdb), topics and migrations, demo directory, each service's imports, consumer
group join and readiness, demo data, the ready line; then Ctrl-C and how long the
stop took. The first run starts from an empty state directory (initdb, demo
stories); later runs reuse it, as a developer's second `candour dev` does.

The raw baseline of the same run: `python -c pass` (an interpreter's start) and
the import of one service's bootstrap on its own, the floor under any service start.

    .venv/bin/python bench/dev_start_bench.py              # a cold run and a warm run
    .venv/bin/python bench/dev_start_bench.py --runs 3 --no-record
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import harness  # noqa: F401 - puts the repository root on the path
from harness.record import OUT_DIR, append_row, machine_facts, machine_text, stamp, write_result

CANDOUR = str(Path(sys.executable).parent / "candour")
READY_LINE = "Candour is running"
SERVICES = ("story-intake", "moderation", "notifications", "search")
# Whatever names real servers would make `candour dev` use them instead of its own.
EXTERNAL = {
    "CANDOUR_DATABASE_URL",
    "CANDOUR_KAFKA_BOOTSTRAP",
    "CANDOUR_SMTP_HOST",
    "CANDOUR_SMTP_PORT",
    "CANDOUR_JWT_SECRET",
    "CANDOUR_UNSUBSCRIBE_SECRET",
    "CANDOUR_ENV",
    "CANDOUR_DEV_DIR",
    "CANDOUR_TOPIC_PREFIX",
}

# (milestone, process label, pattern): the first line that matches stamps the milestone.
SUPERVISOR_MILESTONES = (
    ("services spawned", "candour", r"^services: starting"),
    ("broker listening", "kafka", r"ready in"),
    ("broker answers", "candour", r"^Kafka-protocol broker|^Kafka: using"),
    ("mailbox answers", "candour", r"^SMTP on|^SMTP: using"),
    ("initdb done", "candour", r"^PostgreSQL: initdb done"),
    ("PostgreSQL answers", "candour", r"^PostgreSQL 18 \(embedded\)|^PostgreSQL: using"),
    ("topics + migrations", "candour", r"^topics: "),
    ("demo directory", "candour", r"^demo directory:"),
    ("demo subscriptions", "candour", r"^demo: \d+ staff subscriptions"),
    ("demo stories submitted", "candour", r"^demo: \d+ stories submitted"),
    ("demo feedback imported", "candour", r"Healthwatch entries"),
    ("Candour is running", "candour", re.escape(READY_LINE)),
)
SERVICE_MILESTONES = (
    ("imported (first line)", r"."),
    ("first partitions assigned", r"partitions assigned|assigned to partitions"),
    ("lifespan done (group joined)", r"service started"),
    ("serving (admin up)", r"Application startup complete"),
)
LINE = re.compile(r"^(?P<label>[\w-]+)\s*\| ?(?P<text>.*)$")


@dataclass
class Run:
    label: str
    lines: list[tuple[float, str, str]] = field(default_factory=list)
    ready: float | None = None
    stopped_in: float | None = None
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    exit_code: int | None = None

    def first(self, label: str, pattern: str) -> float | None:
        regex = re.compile(pattern)
        return next((t for t, who, text in self.lines if who == label and regex.search(text)), None)

    def timeline(self) -> list[tuple[float, str]]:
        points: list[tuple[float, str]] = []
        for name, label, pattern in SUPERVISOR_MILESTONES:
            if (t := self.first(label, pattern)) is not None:
                points.append((t, name))
        if self.lines:
            points.append((self.lines[0][0], "first output"))
        for service in SERVICES:
            for name, pattern in SERVICE_MILESTONES:
                if (t := self.first(service, pattern)) is not None:
                    points.append((t, f"{service}: {name}"))
        return sorted(points)

    def service_joins(self) -> dict[str, float]:
        """Per service: seconds from its first line (imports done) to its lifespan's end."""
        joins = {}
        for service in SERVICES:
            start = self.first(service, r".")
            done = self.first(service, r"service started")
            if start is not None and done is not None:
                joins[service] = done - start
        return joins


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_block(size: int, taken: set[int]) -> int:
    for _ in range(100):
        base = free_port()
        block = set(range(base, base + size))
        if base + size < 65000 and not block & taken and all(_bindable(p) for p in block):
            return base
    raise RuntimeError(f"no {size} consecutive free ports")


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def run_once(label: str, workdir: Path, timeout: float) -> Run:
    services = free_block(4, set())
    admin = free_block(4, set(range(services, services + 4)))
    argv = [
        CANDOUR,
        "dev",
        "--state",
        str(workdir / "state"),
        "--pg-port",
        str(free_port()),
        "--kafka-port",
        str(free_port()),
        "--smtp-port",
        str(free_port()),
        "--mailbox-port",
        str(free_port()),
        "--service-port-base",
        str(services),
        "--admin-port-base",
        str(admin),
    ]
    env = {k: v for k, v in os.environ.items() if k not in EXTERNAL}
    env["NO_COLOR"] = "1"
    run = Run(label, load_before=os.getloadavg())
    started = time.monotonic()
    process = subprocess.Popen(  # noqa: S603 - our own CLI
        argv,
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            at = time.monotonic() - started
            match = LINE.match(raw.rstrip("\n"))
            who, text = (match["label"], match["text"]) if match else ("?", raw.rstrip("\n"))
            run.lines.append((at, who, text))
            if who == "candour" and READY_LINE in text:
                run.ready = at
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = started + timeout
        while not ready.wait(0.2):
            if process.poll() is not None or time.monotonic() > deadline:
                break
        run.load_after = os.getloadavg()
        if run.ready is not None:
            time.sleep(2)  # let the background approvals finish, as a user would see them
    finally:
        interrupted = time.monotonic()
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGINT)
        try:
            run.exit_code = process.wait(timeout=20)
            run.stopped_in = time.monotonic() - interrupted
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            run.exit_code = process.wait()
        reader.join(5)
    return run


def baseline_seconds() -> dict[str, float]:
    """An interpreter's start, and one service's imports alone (moderation's bootstrap)."""

    def timed(code: str) -> float:
        started = time.monotonic()
        subprocess.run([sys.executable, "-c", code], check=True)  # noqa: S603
        return time.monotonic() - started

    return {
        "python -c pass": timed("pass"),
        "import candour_moderation.bootstrap": timed("import candour_moderation.bootstrap"),
        "import candour_cli.main": timed("import candour_cli.main"),
    }


def print_run(run: Run) -> None:
    load = " ".join(f"{x:.2f}" for x in run.load_before)
    print(f"\n== {run.label}: load average before {load}")
    previous = 0.0
    for at, name in run.timeline():
        print(f"  {at:7.2f} s  (+{at - previous:5.2f})  {name}")
        previous = at
    joins = ", ".join(f"{s} {t:.1f} s" for s, t in run.service_joins().items())
    print(f"  service imports-done -> lifespan done: {joins}")
    total = f"{run.ready:.1f} s" if run.ready is not None else "NOT READY"
    stop = f"{run.stopped_in:.1f} s" if run.stopped_in is not None else "did not stop"
    after = " ".join(f"{x:.2f}" for x in run.load_after)
    print(f"  TOTAL to '{READY_LINE}': {total}; Ctrl-C stopped it in {stop}; load after {after}")
    if run.ready is None:
        print("\n".join(f"    {who} | {text}" for _, who, text in run.lines[-40:]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2, help="the first cold, the rest warm")
    parser.add_argument("--timeout", type=float, default=180.0)
    parser.add_argument("--no-record", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the state directory")
    parser.add_argument("--notes", default="", help="added to the results row")
    args = parser.parse_args()

    facts = machine_facts()
    base = baseline_seconds()
    print("raw baseline: " + ", ".join(f"{k} {v:.2f} s" for k, v in base.items()))
    workdir = Path(tempfile.mkdtemp(prefix="candour-dev-bench-"))
    runs: list[Run] = []
    try:
        for i in range(args.runs):
            label = "cold (empty state dir)" if i == 0 else f"warm #{i}"
            run = run_once(label, workdir, args.timeout)
            runs.append(run)
            print_run(run)
            log = OUT_DIR / f"dev-start-{stamp()}-{i}.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text("".join(f"{t:8.3f} {who:<13}| {text}\n" for t, who, text in run.lines))
            print(f"  its output: {log}")
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    result = {
        "machine": facts,
        "baseline_seconds": base,
        "runs": [
            {
                "label": r.label,
                "ready_seconds": r.ready,
                "stopped_in_seconds": r.stopped_in,
                "load_before": r.load_before,
                "load_after": r.load_after,
                "timeline": r.timeline(),
                "service_joins": r.service_joins(),
            }
            for r in runs
        ],
    }
    path = write_result("dev-start", result)
    print(f"\nwritten {path}")
    if not args.no_record:
        summary = "; ".join(
            f"{r.label}: {r.ready:.1f} s (load {r.load_before[0]:.1f})"
            if r.ready is not None
            else f"{r.label}: not ready"
            for r in runs
        )
        joins = "; ".join(
            f"{r.label} join " + ", ".join(f"{s} {t:.1f}" for s, t in r.service_joins().items())
            for r in runs
        )
        append_row(
            "candour dev start",
            machine_text(facts),
            summary,
            ", ".join(f"{k} {v:.2f} s" for k, v in base.items()),
            f"Tansu + embedded PostgreSQL + 4 services + demo; {joins}; {args.notes}".strip("; "),
        )
    return 0 if all(r.ready is not None for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())

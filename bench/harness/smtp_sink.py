# ruff: noqa: S603 - a local harness: it builds and starts our own SMTP sink
"""A fast local SMTP server for the benchmarks: `bench/smtp_sink` (Go, go-smtp) in a
process of its own.

The tests' aiosmtpd sink (`tests.infra.smtp_server`) serves from a thread of the
benchmark process itself, so it competes with the benchmark for the GIL and tops out
near 200 emails/s: a fan-out benchmark against it measures the server. This one is a
separate process that offers PIPELINING and keeps no message, only one JSON line per
message (arrival time, envelope, Message-ID, the story it links to, size), which is all
the exactly-once check needs.

The binary is built on first use with the Go toolchain (`go` on PATH, or
/usr/local/go/bin/go; modules from the Go module proxy) and cached under
`~/.cache/candour/` by a hash of its sources, so a change to them builds it again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from harness.processes import stop_process

if TYPE_CHECKING:
    import argparse

SOURCE_DIR = Path(__file__).resolve().parent.parent / "smtp_sink"
SOURCES = ("go.mod", "go.sum", "main.go")
CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "candour"


@dataclass(frozen=True, slots=True)
class SinkMail:
    """One message the sink received, as it recorded it."""

    received_at: float  # wall clock, as the services log
    envelope_from: str
    envelope_to: list[str]
    message_id: str
    story_id: str | None
    size: int


def go_binary() -> str:
    found = shutil.which("go") or "/usr/local/go/bin/go"
    if not Path(found).exists():
        raise RuntimeError(
            "the fast SMTP sink needs the Go toolchain (go on PATH or /usr/local/go/bin/go); "
            "or run the benchmark with --smtp aiosmtpd"
        )
    return found


def sink_binary() -> Path:
    """The built sink, built now if these sources have not been built before."""
    digest = hashlib.sha256()
    for name in SOURCES:
        digest.update((SOURCE_DIR / name).read_bytes())
    binary = CACHE_DIR / f"smtp-sink-{digest.hexdigest()[:16]}"
    if binary.exists():
        return binary
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    partial = binary.with_suffix(".partial")
    print(f"building the SMTP sink (once) into {binary} ...", flush=True)
    subprocess.run(
        [go_binary(), "build", "-trimpath", "-o", str(partial), "."],
        cwd=SOURCE_DIR,
        check=True,
        env={**os.environ, "CGO_ENABLED": "0"},
    )
    partial.replace(binary)  # atomic: a concurrent run never starts half a binary
    return binary


class FastMailSink:
    """What the sink process has recorded; `snapshot()` reads the lines added since."""

    def __init__(self, host: str, port: int, record: Path) -> None:
        self.host = host
        self.port = port
        self._record = record
        self._offset = 0
        self._partial = b""
        self._mails: list[SinkMail] = []
        self._lock = threading.Lock()
        self._closed = False

    def snapshot(self) -> list[SinkMail]:
        with self._lock:
            if self._closed:  # the sink has stopped: everything was read then
                return list(self._mails)
            return self._read_new()

    def close(self) -> None:
        """Read the last lines; later snapshots return what was received in all."""
        with self._lock:
            if not self._closed:
                self._read_new()
                self._closed = True

    def _read_new(self) -> list[SinkMail]:
        with self._record.open("rb") as f:
            f.seek(self._offset)
            chunk = self._partial + f.read()
            self._offset = f.tell()
            *lines, self._partial = chunk.split(b"\n")
            for line in lines:
                r = json.loads(line)
                self._mails.append(
                    SinkMail(
                        received_at=r["received_at"],
                        envelope_from=r["from"],
                        envelope_to=r["to"],
                        message_id=r["message_id"],
                        story_id=r.get("story_id"),
                        size=r["size"],
                    )
                )
            return list(self._mails)


@contextlib.contextmanager
def fast_smtp_server(host: str = "127.0.0.1") -> Iterator[FastMailSink]:
    """The Go sink on a free loopback port, stopped (and its record removed) on exit."""
    binary = sink_binary()
    with tempfile.TemporaryDirectory(prefix="candour-smtp-sink-") as tmp:
        record = Path(tmp) / "received.jsonl"
        record.touch()
        process = subprocess.Popen(
            [str(binary), "-listen", f"{host}:0", "-record", str(record)],
            stdin=subprocess.PIPE,  # closed with us: the sink never outlives the benchmark
            stdout=subprocess.PIPE,
        )
        sink: FastMailSink | None = None
        try:
            assert process.stdout is not None
            line = process.stdout.readline().decode()
            if not line.startswith("listening on "):
                raise RuntimeError(f"the SMTP sink did not start (exit {process.poll()})")
            port = int(line.rsplit(":", 1)[1])
            sink = FastMailSink(host, port, record)
            yield sink
        finally:
            stop_process(process)
            if sink is not None:
                sink.close()


class Received(Protocol):
    """An email as either sink reports it."""

    @property
    def story_id(self) -> str | None: ...

    @property
    def envelope_to(self) -> list[str]: ...

    @property
    def received_at(self) -> float: ...


class Sink(Protocol):
    """Either SMTP server a benchmark runs: its port, and what it has received."""

    port: int

    def snapshot(self) -> Sequence[Received]: ...


def smtp_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--smtp",
        choices=("go-smtp", "aiosmtpd"),
        default="go-smtp",
        help="the SMTP server: the Go sink in its own process (default) or the tests' aiosmtpd "
        "(in a thread of the benchmark's process: it takes CPU from what is measured)",
    )


@contextlib.contextmanager
def mail_server(kind: str) -> Iterator[Sink]:
    """The SMTP server `--smtp` names, for as long as the benchmark runs."""
    if kind == "aiosmtpd":
        from tests.infra import smtp_server

        with smtp_server() as sink:
            yield sink
    else:
        with fast_smtp_server() as fast:
            yield fast

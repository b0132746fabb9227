"""No built-in key: every service refuses to start without a good CANDOUR_JWT_SECRET.

Each service runs as a real process, as in production. With the key unset, shorter
than 32 bytes, or equal to a placeholder shipped in the repository, it must exit
non-zero with one line naming the variable, before it opens any connection: its
database and Kafka addresses point at listeners of this test that count who calls.
Notifications likewise needs its own unsubscribe-link key, distinct from the JWT key.
A second test reads the repository: every key value in an example or a document is
one the services refuse.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from candour_common.signing_keys import PUBLISHED_PLACEHOLDERS, key_problem
from candour_common.startup import EX_CONFIG
from tests.processes import MODULES

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
GOOD_KEY = "startup-test-key-0123456789abcdef0123456789"
GOOD_UNSUBSCRIBE_KEY = "startup-test-unsubscribe-0123456789abcdef01"
# Where the repository shows a key's value: examples people copy, and the docs.
KEY_LINE = re.compile(r"CANDOUR_(?:JWT|UNSUBSCRIBE)_SECRET\s*[=:]\s*['\"]?([^\s'\"`]+)")


@dataclass
class CountingListener:
    """A TCP port that accepts and counts connections (standing in for PostgreSQL/Kafka)."""

    sock: socket.socket = field(default_factory=socket.socket)
    connections: int = 0

    def __post_init__(self) -> None:
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def listeners() -> Iterator[tuple[CountingListener, CountingListener]]:
    database, kafka = CountingListener(), CountingListener()
    yield database, kafka
    database.close()
    kafka.close()


def run_service(
    name: str, keys: dict[str, str | None], listeners: tuple[CountingListener, CountingListener]
) -> subprocess.CompletedProcess[str]:
    database, kafka = listeners
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANDOUR_")}
    env |= {
        "CANDOUR_DATABASE_URL": f"postgresql://candour:pw@127.0.0.1:{database.port}/candour",
        "CANDOUR_KAFKA_BOOTSTRAP": f"127.0.0.1:{kafka.port}",
        "CANDOUR_HTTP_PORT": "0",
        "CANDOUR_ADMIN_PORT": "0",
    }
    env |= {k: v for k, v in keys.items() if v is not None}
    return subprocess.run(
        [sys.executable, "-m", MODULES[name]],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _refused_with_one_line(
    answer: subprocess.CompletedProcess[str],
    variable: str,
    listeners: tuple[CountingListener, CountingListener],
) -> str:
    output = (answer.stderr + answer.stdout).strip()
    assert answer.returncode != 0, f"started anyway:\n{output[-2000:]}"
    assert answer.returncode == EX_CONFIG, output[-2000:]
    lines = output.splitlines()
    assert len(lines) == 1, f"expected one clear line, got:\n{output[-2000:]}"
    assert variable in lines[0]
    assert "Traceback" not in output
    database, kafka = listeners
    assert (database.connections, kafka.connections) == (0, 0), "connected before checking"
    return lines[0]


BAD_KEYS = {
    "unset": None,
    "empty": "",
    "short": "x" * 31,
    "compose-example": "REPLACE-ME-with-the-output-of-openssl-rand-base64-48",
    "kustomize-example": "REPLACE-ME-with-another-output-of-openssl-rand-base64-48",
    "old-built-in-default": "dev-only-insecure-secret-change-me",
}


# Every service with the three kinds of bad key; the other values with one service (the
# check is the same shared code; each launch costs seconds of interpreter start-up).
CASES = [(service, case) for service in MODULES for case in ("unset", "short", "compose-example")]
CASES += [("story-intake", case) for case in BAD_KEYS if ("story-intake", case) not in CASES]


@pytest.mark.parametrize(("service", "case"), CASES)
def test_a_service_refuses_to_start_without_a_good_jwt_secret(
    service: str, case: str, listeners: tuple[CountingListener, CountingListener]
) -> None:
    answer = run_service(
        service,
        {"CANDOUR_JWT_SECRET": BAD_KEYS[case], "CANDOUR_UNSUBSCRIBE_SECRET": GOOD_UNSUBSCRIBE_KEY},
        listeners,
    )
    line = _refused_with_one_line(answer, "CANDOUR_JWT_SECRET", listeners)
    assert line.startswith(f"{service} cannot start: CANDOUR_JWT_SECRET ")
    if BAD_KEYS[case]:
        assert BAD_KEYS[case] not in line, "the refused key itself is printed"


@pytest.mark.parametrize(
    ("unsubscribe", "reason"),
    [(None, "is not set"), ("y" * 20, "at least 32"), (GOOD_KEY, "must differ")],
)
def test_notifications_needs_its_own_unsubscribe_key(
    unsubscribe: str | None, reason: str, listeners: tuple[CountingListener, CountingListener]
) -> None:
    answer = run_service(
        "notifications",
        {"CANDOUR_JWT_SECRET": GOOD_KEY, "CANDOUR_UNSUBSCRIBE_SECRET": unsubscribe},
        listeners,
    )
    line = _refused_with_one_line(answer, "CANDOUR_UNSUBSCRIBE_SECRET", listeners)
    assert reason in line


def test_with_good_keys_the_service_gets_as_far_as_connecting(
    listeners: tuple[CountingListener, CountingListener],
) -> None:
    # The control: the same launch with good keys passes the check and tries the database
    # (our listener is not PostgreSQL, so the start then fails, after connecting).
    answer = run_service(
        "notifications",
        {"CANDOUR_JWT_SECRET": GOOD_KEY, "CANDOUR_UNSUBSCRIBE_SECRET": GOOD_UNSUBSCRIBE_KEY},
        listeners,
    )
    assert "cannot start" not in answer.stderr
    assert listeners[0].connections >= 1


def _published_key_values() -> dict[str, str]:
    """Every key value the repository shows, by where it shows it."""
    places = [
        ROOT / "deploy" / "compose" / ".env.example",
        ROOT / "README.md",
        *sorted((ROOT / "deploy" / "kubernetes").rglob("*.yaml")),
        *sorted((ROOT / "docs").rglob("*.md")),
        *sorted((ROOT / "deploy").rglob("*.md")),
    ]
    found: dict[str, str] = {}
    for path in places:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for value in KEY_LINE.findall(line):
                if not value.startswith(("$", "<")):  # ${VAR} interpolation, <placeholder>
                    found[f"{path.relative_to(ROOT)}:{number}"] = value
    return found


def test_every_key_shown_in_the_repository_is_refused() -> None:
    shown = _published_key_values()
    assert shown, "no example keys found: has the pattern gone stale?"
    accepted = {where: value for where, value in shown.items() if key_problem(value) is None}
    assert not accepted, f"these published values would be accepted as keys: {accepted}"
    # And the refusal is by name, not by luck of length: every shown value is listed.
    unlisted = {w: v for w, v in shown.items() if v not in PUBLISHED_PLACEHOLDERS}
    assert not unlisted, f"add these to signing_keys.PUBLISHED_PLACEHOLDERS: {unlisted}"


# One command per kind of settings it reads (each launch costs seconds of imports).
OPERATOR_COMMANDS = [
    ["search", "rebuild"],
    ["topics", "create"],
    ["dlq", "list", "story.submitted"],
]


@pytest.mark.parametrize("command", OPERATOR_COMMANDS, ids=" ".join)
def test_operator_commands_refuse_a_weak_key_in_one_line(
    command: list[str], listeners: tuple[CountingListener, CountingListener]
) -> None:
    # A command that signs nothing does not need the key, but one that is set must be
    # strong: the same words as a service's start, not a traceback.
    database, kafka = listeners
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANDOUR_")}
    env |= {
        "CANDOUR_DATABASE_URL": f"postgresql://candour:pw@127.0.0.1:{database.port}/candour",
        "CANDOUR_KAFKA_BOOTSTRAP": f"127.0.0.1:{kafka.port}",
        "CANDOUR_JWT_SECRET": BAD_KEYS["short"],
    }
    answer = subprocess.run(
        [sys.executable, "-m", "candour_cli", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    line = _refused_with_one_line(answer, "CANDOUR_JWT_SECRET", listeners)
    assert line.startswith(f"candour {command[0]}")

"""What makes `candour dev` start sooner: services that import first and start on cue,
a CLI that imports only the command it runs, a short consumer session on Tansu only."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from candour_cli import dev, prestart
from candour_cli.console import Output
from candour_cli.main import COMMANDS, app, load_command

pytestmark = pytest.mark.unit

SERVICE_MAIN = """
import sys
print("imported", flush=True)

def main():
    print("started with", sys.argv, flush=True)
"""


@pytest.fixture
def fake_service(tmp_path: Path) -> Path:
    package = tmp_path / "fake_service"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(SERVICE_MAIN)
    return tmp_path


def _prestart(path: Path, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "candour_cli.prestart", "fake_service"],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(path)},
        check=False,
    )


def test_a_prestarted_service_imports_then_starts_only_on_its_cue(fake_service: Path) -> None:
    done = _prestart(fake_service, f"{prestart.CUE}\n")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "imported"
    assert "waiting for the platform" in lines[1]
    assert lines[2] == "started with ['fake_service']"  # as `python -m fake_service` would


@pytest.mark.parametrize("stdin", ["", "stop\n"], ids=["supervisor gone", "anything else"])
def test_a_prestarted_service_without_its_cue_exits_without_starting(
    fake_service: Path, stdin: str
) -> None:
    done = _prestart(fake_service, stdin)
    assert done.returncode == 0, done.stderr
    assert "imported" in done.stdout
    assert "started" not in done.stdout


def test_the_cli_imports_only_the_command_it_runs() -> None:
    code = (
        "import sys, candour_cli.main as m; "
        "m.load_command('token'); "
        "print(*sorted(n for n in sys.modules if n.startswith('candour_cli.')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    loaded = done.stdout.split()
    assert "candour_cli.tokens" in loaded
    for heavy in ("candour_cli.contracts", "candour_cli.dev", "candour_cli.acls"):
        assert heavy not in loaded


def test_every_command_loads_under_its_name_and_help_lists_them_all() -> None:
    for name in COMMANDS:
        assert load_command(name).name == name
    listed = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0, listed.output
    for name in COMMANDS:
        assert f" {name} " in listed.output
    # A group keeps its subcommands (a group of one must not collapse into it).
    answer = CliRunner().invoke(app, ["import", "feedback", "--help"])
    assert answer.exit_code == 0, answer.output


def _environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, str]]:
    platform = dev.Platform(dev.DevOptions(state=tmp_path), Output())
    return dev.service_environment(platform, "s" * 40, "u" * 40, platform.kafka_bootstrap(), None)


def test_services_on_the_embedded_broker_get_a_short_consumer_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CANDOUR_KAFKA_BOOTSTRAP", raising=False)
    monkeypatch.delenv("CANDOUR_CONSUMER_SESSION_TIMEOUT_SECONDS", raising=False)
    env = _environment(tmp_path, monkeypatch)
    assert {e["CANDOUR_CONSUMER_SESSION_TIMEOUT_SECONDS"] for e in env.values()} == {"3"}


def test_services_on_a_real_kafka_keep_its_session_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Apache Kafka refuses sessions under group.min.session.timeout.ms (6 s by default).
    monkeypatch.setenv("CANDOUR_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    monkeypatch.delenv("CANDOUR_CONSUMER_SESSION_TIMEOUT_SECONDS", raising=False)
    env = _environment(tmp_path, monkeypatch)
    assert all("CANDOUR_CONSUMER_SESSION_TIMEOUT_SECONDS" not in e for e in env.values())


def test_an_operators_session_timeout_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CANDOUR_KAFKA_BOOTSTRAP", raising=False)
    monkeypatch.setenv("CANDOUR_CONSUMER_SESSION_TIMEOUT_SECONDS", "8")
    env = _environment(tmp_path, monkeypatch)
    assert {e["CANDOUR_CONSUMER_SESSION_TIMEOUT_SECONDS"] for e in env.values()} == {"8"}


def test_a_reserved_port_is_kept_from_others_yet_a_reuseaddr_server_can_bind_it() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    held = dev.reserve_port(port)
    assert held is not None
    try:
        # What an ordinary bind (or a connection's automatic one) would get:
        with socket.socket() as plain, pytest.raises(OSError):
            plain.bind(("127.0.0.1", port))
        with socket.socket() as server:  # uvicorn binds with SO_REUSEADDR
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind(("127.0.0.1", port))
            server.listen()
            assert dev.reserve_port(port) is None  # taken now: a listener holds it
    finally:
        held.close()

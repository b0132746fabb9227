"""`candour dev` as a user runs it: one command, a fresh directory, nothing else running.

It must come up on its own (embedded PostgreSQL, Tansu broker, SMTP + mailbox, demo
data, four services), carry a story from submission through moderation into search
and the trust's mailbox, and leave no process behind within 10 s of Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from candour_cli.dev import READY_LINE
from tests.conftest import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(480)]

CANDOUR = str(Path(sys.executable).parent / "candour")
TRUST_INBOX = "patient.experience@bdct.example"  # a demo subscription to TAD's stories


def descendants(root: int) -> set[int]:
    """Every live process whose parent chain leads to `root`."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found: set[int] = set()
    frontier = {root}
    while frontier:
        children = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= children
        frontier = children
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


class DevProcess:
    def __init__(self, cwd: Path, ports: dict[str, int]) -> None:
        env = {
            k: v
            for k, v in os.environ.items()
            if k
            not in {
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
        }
        env["NO_COLOR"] = "1"
        self.env = env
        self.cwd = cwd
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [
                CANDOUR,
                "dev",
                "--pg-port",
                str(ports["pg"]),
                "--kafka-port",
                str(ports["kafka"]),
                "--smtp-port",
                str(ports["smtp"]),
                "--mailbox-port",
                str(ports["mailbox"]),
                "--service-port-base",
                str(ports["services"]),
                "--admin-port-base",
                str(ports["admin"]),
            ],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self, last: int = 200) -> str:
        return "\n".join(self.lines[-last:])

    def wait_for_line(self, text: str, timeout: float) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if any(text in line for line in self.lines):
                return time.monotonic() - started
            if self.process.poll() is not None:
                raise AssertionError(
                    f"candour dev exited ({self.process.returncode}):\n{self.output()}"
                )
            time.sleep(0.2)
        raise AssertionError(f"no {text!r} after {timeout}s:\n{self.output()}")

    def issue_token(self, *args: str) -> str:
        done = subprocess.run(
            [CANDOUR, "token", "issue", *args],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout.strip().splitlines()[-1]


def _ports() -> dict[str, int]:
    # Four consecutive free ports for the services and four for their admin servers,
    # and one each for the rest.
    def four_in_a_row(taken: set[int]) -> int:
        for _ in range(50):
            base = free_port()
            block = set(range(base, base + 4))
            if base < 65000 and not block & taken and all(_free(p) for p in block):
                return base
        raise AssertionError("no four consecutive free ports")

    services = four_in_a_row(set())
    admin = four_in_a_row(set(range(services, services + 4)))
    return {
        "pg": free_port(),
        "kafka": free_port(),
        "smtp": free_port(),
        "mailbox": free_port(),
        "services": services,
        "admin": admin,
    }


def _free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


async def _poll(fetch, *, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        result = await fetch()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.5)


def _interrupt(dev: DevProcess, children: set[int]) -> tuple[list[int], float]:
    """Ctrl-C, as a user would; return (processes still alive after 15 s, seconds taken)."""
    children |= descendants(dev.process.pid)
    dev.process.send_signal(signal.SIGINT)
    stopped_at = time.monotonic()
    try:
        dev.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(dev.process.pid, signal.SIGKILL)
    while any(alive(p) for p in children) and time.monotonic() - stopped_at < 15:
        time.sleep(0.1)
    elapsed = time.monotonic() - stopped_at
    left = sorted(p for p in children if alive(p))
    for pid in left:  # never leave them to other tests
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    print(dev.output(80))
    return left, elapsed


@pytest.fixture
def workdir() -> Iterator[Path]:
    # Not pytest's tmp_path: other pytest sessions on this machine rotate those
    # directories, and PostgreSQL's data must outlive this test's own teardown.
    path = Path(tempfile.mkdtemp(prefix="candour-dev-e2e-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def test_candour_dev_runs_the_platform_and_stops_clean(workdir: Path) -> None:
    tmp_path = workdir
    ports = _ports()
    dev = DevProcess(tmp_path, ports)
    intake, moderation, _notifications, search = (
        f"http://127.0.0.1:{ports['services'] + i}" for i in range(4)
    )
    mailbox = f"http://127.0.0.1:{ports['mailbox']}"
    children: set[int] = set()
    try:
        took = dev.wait_for_line(READY_LINE, timeout=240)
        print(f"candour dev ready after {took:.1f}s (cold start, initdb included)")
        children = descendants(dev.process.pid)
        assert len(children) >= 6, children  # postgres, tansu, four services (at least)
        assert (tmp_path / ".candour" / "dev" / "jwt-secret").exists()
        assert (tmp_path / ".candour" / "dev" / "unsubscribe-secret").exists()

        # Signed with the secret `candour dev` generated and kept under .candour/dev.
        moderator = {"Authorization": "Bearer " + dev.issue_token("--role", "moderator")}
        marker = f"zebracrossing{uuid.uuid4().hex[:8]}"
        title = f"Called back the same day {marker}"
        async with httpx.AsyncClient(timeout=10) as http:
            for base in (intake, moderation, _notifications, search):
                assert (await http.get(f"{base}/docs")).status_code == 200
                assert (await http.get(f"{base}/metrics")).status_code == 404
            for i in range(4):  # readiness and metrics: on the admin ports
                admin = f"http://127.0.0.1:{ports['admin'] + i}"
                assert (await http.get(f"{admin}/readyz")).status_code == 200
                assert "candour_" in (await http.get(f"{admin}/metrics")).text
            assert (await http.get(mailbox)).status_code == 200
            directory = (await http.get(f"{intake}/v1/organisations")).json()
            assert {"TAD", "RTV", "RXA"} <= {o["id"] for o in directory}
            # The alerts page offers a trust's every service out of the box: intake
            # publishes the demo directory, notifications keeps its copy.
            demo_rtv = next(o for o in directory if o["id"] == "RTV")
            staff = {
                "Authorization": "Bearer " + dev.issue_token("--role", "staff", "--org", "RTV")
            }

            async def offered() -> bool:
                answer = await http.get(
                    f"{_notifications}/v1/organisations/RTV/alert-choices", headers=staff
                )
                wanted = {(s["id"], s["name"]) for s in demo_rtv["services"]}
                return answer.status_code == 200 and wanted == {
                    (s["id"], s["name"]) for s in answer.json()["services"]
                }

            await _poll(offered, timeout=90, what="the demo directory's services for alerts")

            submitted = await http.post(
                f"{intake}/v1/stories",
                json={
                    "title": title,
                    "body": f"The {marker} crisis team listened and rang me back within hours.",
                    "organisation_id": "TAD",
                    "service_id": "TAD-CRISIS",
                    "author": {"display_name": "Sam", "relationship": "patient"},
                },
            )
            assert submitted.status_code == 201, submitted.text
            story_id = submitted.json()["story_id"]

            async def queued() -> bool:
                answer = await http.get(f"{moderation}/v1/queue/{story_id}", headers=moderator)
                return answer.status_code == 200

            await _poll(queued, timeout=90, what="the story in the moderation queue")
            decision = await http.post(
                f"{moderation}/v1/queue/{story_id}/decision",
                headers=moderator,
                json={"decision": "approve", "criticality": 1},
            )
            assert decision.status_code in (200, 201, 202), decision.text

            async def mailed() -> dict | None:
                listing = (await http.get(f"{mailbox}/api/v1/messages")).json()
                for summary in listing["messages"]:
                    if TRUST_INBOX in [a["Address"] for a in summary["To"]]:
                        message = (
                            await http.get(f"{mailbox}/api/v1/message/{summary['ID']}")
                        ).json()
                        if marker in message["Text"] or marker in message["Subject"]:
                            return message
                return None

            mail = await _poll(mailed, timeout=90, what="the trust's email in the mailbox")
            assert "Bradford District Care" in mail["Subject"]
            assert mail["From"]["Address"]
            assert "sam" not in str(mail["To"]).lower()

            async def found() -> dict | None:
                body = (await http.get(f"{search}/v1/search", params={"q": marker})).json()
                return body if body.get("total", 0) >= 1 else None

            results = await _poll(found, timeout=90, what="the story in search")
            assert results["results"][0]["story_id"] == story_id

            # The demo's "about you" answers reach the deep dive as counts, beside the
            # sample population file, out of the box.
            async def voices() -> dict | None:
                answer = await http.get(
                    f"{search}/v1/insight/voices", params={"programme": "mental-health"}
                )
                body = answer.json()
                return body if body.get("summarised_at") else None

            mix = await _poll(voices, timeout=90, what="the voices summary in search")
            assert mix["area"] == "Bradford"
            assert "Asian, Asian British or Asian Welsh" in mix["sentence"]
            deep_dive = await http.get(f"{search}/insight/mental-health")
            assert "Whose voices are missing" in deep_dive.text
    finally:
        left, elapsed = _interrupt(dev, children)
    assert dev.process.returncode == 0, dev.output()
    assert not left, f"processes left behind: {left}"
    assert elapsed < 10, f"stopping took {elapsed:.1f}s"

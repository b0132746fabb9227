# Candour: the two commands a fresh machine needs are `make dev` and `make test`.
.PHONY: dev test install lint format infra-up infra-down frontend

install:
	bash scripts/bootstrap.sh

# Start the whole platform locally (see README).
dev: install
	bash scripts/dev.sh

# Install, start Kafka + PostgreSQL unless named in the environment, run every test.
test:
	bash scripts/test.sh

lint: install
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy \
		&& .venv/bin/lint-imports --no-cache

format: install
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .

infra-up:
	bash deploy/local/kafka.sh start && bash deploy/local/postgres.sh start

infra-down:
	bash deploy/local/kafka.sh stop; bash deploy/local/postgres.sh stop

# Rebuild the NHS.UK frontend (pinned in frontend/package*.json) into the shared static
# files; the result is committed, so only run this to change the version or the Sass.
frontend:
	bash scripts/build_frontend.sh

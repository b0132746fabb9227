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

# English and Welsh pages (gettext via Babel, see babel.cfg): one catalogue per package
# (moderation's also holds the screening library's labels, which only its pages show),
# English msgids, Welsh in <package>/locale/cy/LC_MESSAGES/messages.po. Services compile
# the .po in memory at start-up, so nothing compiled is committed: `i18n-compile` only
# checks that every catalogue compiles and counts what is translated.
I18N_PACKAGES = libs/common/src/candour_common \
	services/story-intake/src/candour_intake \
	services/search/src/candour_search \
	services/moderation/src/candour_moderation \
	services/notifications/src/candour_notifications
.PHONY: i18n-extract i18n-update i18n-compile

i18n-extract: install
	for package in $(I18N_PACKAGES); do \
		sources=$$package; case $$package in *candour_moderation) \
			sources="$$package libs/screening/src/candour_screening";; esac; \
		mkdir -p $$package/locale && .venv/bin/pybabel extract --no-location --sort-output -F babel.cfg \
			--project=Candour --copyright-holder="Candour contributors" \
			-o $$package/locale/messages.pot $$sources || exit 1; \
	done

i18n-update: i18n-extract
	for package in $(I18N_PACKAGES); do \
		if [ -f $$package/locale/cy/LC_MESSAGES/messages.po ]; then \
			.venv/bin/pybabel update --no-fuzzy-matching --ignore-obsolete \
				-i $$package/locale/messages.pot -d $$package/locale -l cy || exit 1; \
		else \
			.venv/bin/pybabel init -i $$package/locale/messages.pot -d $$package/locale -l cy || exit 1; \
		fi; \
	done

i18n-compile: install
	out=$$(mktemp -d); for package in $(I18N_PACKAGES); do \
		.venv/bin/pybabel compile --statistics -d $$package/locale -o $$out/messages.mo \
			-i $$package/locale/cy/LC_MESSAGES/messages.po -l cy || exit 1; \
	done; rm -rf $$out

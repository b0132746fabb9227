# syntax=docker/dockerfile:1.7
#
# One multi-target Dockerfile for every Candour image:
#
#   docker build --target story-intake  -t candour/story-intake:0.1.0  .
#   docker build --target moderation    -t candour/moderation:0.1.0    .
#   docker build --target notifications -t candour/notifications:0.1.0 .
#   docker build --target search        -t candour/search:0.1.0        .
#   docker build --target cli           -t candour/cli:0.1.0           .
#
# Each image holds one workspace package and only its runtime dependencies,
# installed from uv.lock (frozen: the lock is the truth, never re-resolved).
# Layers are ordered lock-first, so a source change rebuilds only the last,
# small layer and the dependency layer stays cached.

ARG PYTHON_IMAGE=python:3.11.14-slim-trixie
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.8

FROM ${UV_IMAGE} AS uv

# ---------------------------------------------------------------------------
# builder: uv plus the files that decide the dependency set (no source yet).
FROM ${PYTHON_IMAGE} AS builder
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
# uv discovers the workspace from every member's pyproject.toml (members are
# globs: libs/*, services/*, tools/*), so all of them come in the lock layer.
COPY pyproject.toml uv.lock ./
COPY libs/common/pyproject.toml libs/common/pyproject.toml
COPY services/story-intake/pyproject.toml services/story-intake/pyproject.toml
COPY services/moderation/pyproject.toml services/moderation/pyproject.toml
COPY services/notifications/pyproject.toml services/notifications/pyproject.toml
COPY services/search/pyproject.toml services/search/pyproject.toml
COPY tools/candour-cli/pyproject.toml tools/candour-cli/pyproject.toml

# ---------------------------------------------------------------------------
# One build stage per package: third-party dependencies first (cached until
# uv.lock changes), then the source, then the workspace packages themselves
# (--no-editable: the venv must not point back into /src).
FROM builder AS build-story-intake
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package candour-story-intake --no-install-workspace
COPY libs/ libs/
COPY services/ services/
COPY tools/ tools/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package candour-story-intake --no-editable

FROM builder AS build-moderation
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package candour-moderation --no-install-workspace
COPY libs/ libs/
COPY services/ services/
COPY tools/ tools/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package candour-moderation --no-editable

FROM builder AS build-notifications
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package candour-notifications --no-install-workspace
COPY libs/ libs/
COPY services/ services/
COPY tools/ tools/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package candour-notifications --no-editable

FROM builder AS build-search
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package candour-search --no-install-workspace
COPY libs/ libs/
COPY services/ services/
COPY tools/ tools/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package candour-search --no-editable

FROM builder AS build-cli
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package candour-cli --no-install-workspace
COPY libs/ libs/
COPY services/ services/
COPY tools/ tools/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package candour-cli --no-editable

# ---------------------------------------------------------------------------
# runtime: the same Python base (the venv's interpreter link points at it),
# no uv, no compiler, no source tree; an unprivileged numeric user so that
# Kubernetes' runAsNonRoot can verify it.
FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 candour \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin candour
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CANDOUR_HTTP_HOST=0.0.0.0 \
    CANDOUR_ADMIN_HOST=0.0.0.0 \
    CANDOUR_LOG_JSON=true
WORKDIR /app
USER 10001:10001
# The venv stays owned by root: the service can read it but never rewrite it.

FROM runtime AS story-intake
COPY --from=build-story-intake /app/.venv /app/.venv
EXPOSE 8001
# The admin port (/readyz, /metrics): for the orchestrator, never published.
EXPOSE 9001
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('CANDOUR_HTTP_PORT', '8001') + '/healthz', timeout=2)"]
CMD ["python", "-m", "candour_intake"]

FROM runtime AS moderation
COPY --from=build-moderation /app/.venv /app/.venv
EXPOSE 8002
# The admin port (/readyz, /metrics): for the orchestrator, never published.
EXPOSE 9002
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('CANDOUR_HTTP_PORT', '8002') + '/healthz', timeout=2)"]
CMD ["python", "-m", "candour_moderation"]

FROM runtime AS notifications
COPY --from=build-notifications /app/.venv /app/.venv
EXPOSE 8003
# The admin port (/readyz, /metrics): for the orchestrator, never published.
EXPOSE 9003
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('CANDOUR_HTTP_PORT', '8003') + '/healthz', timeout=2)"]
CMD ["python", "-m", "candour_notifications"]

FROM runtime AS search
COPY --from=build-search /app/.venv /app/.venv
EXPOSE 8004
# The admin port (/readyz, /metrics): for the orchestrator, never published.
EXPOSE 9004
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('CANDOUR_HTTP_PORT', '8004') + '/healthz', timeout=2)"]
CMD ["python", "-m", "candour_search"]

# The operator CLI: topics, migrations, tokens, dead letters. One-shot, so no
# HTTP healthcheck; `docker run candour/cli:0.1.0 topics create`.
FROM runtime AS cli
COPY --from=build-cli /app/.venv /app/.venv
HEALTHCHECK NONE
ENTRYPOINT ["candour"]
CMD ["--help"]

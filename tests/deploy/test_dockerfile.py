"""The multi-target Dockerfile, checked structurally (no Docker engine here)."""

from __future__ import annotations

import importlib.util
import re
import shlex

import pytest

from tests.deploy.manifests import (
    DOCKERFILE,
    DOCKERIGNORE,
    SERVICE_MODULES,
    dockerfile_stages,
    effective_instruction,
    effective_user,
    model_default,
)

pytestmark = pytest.mark.unit

GLOBAL_ARGS, STAGES = dockerfile_stages(DOCKERFILE.read_text(encoding="utf-8"))
PACKAGES = {
    "story-intake": "candour-story-intake",
    "moderation": "candour-moderation",
    "notifications": "candour-notifications",
    "search": "candour-search",
    "cli": "candour-cli",
}
SOURCE_COPY = re.compile(r"^(--\S+\s+)*(libs|services|tools)/?\s")


def test_every_image_target_exists_and_is_multi_stage() -> None:
    for target in PACKAGES:
        assert target in STAGES, f"no `FROM ... AS {target}` stage"
        assert f"build-{target}" in STAGES
        copies = STAGES[target].args_of("COPY")
        assert any(f"--from=build-{target}" in c for c in copies), (
            f"{target} must copy its venv from its build stage, not build in place"
        )


def test_base_images_are_pinned() -> None:
    for name, value in GLOBAL_ARGS.items():
        if name.endswith("_IMAGE"):
            image, _, tag = value.rpartition(":")
            assert image and tag and tag != "latest", f"{name}={value} is not pinned"
            assert re.search(r"\d+\.\d+", tag), f"{name}={value}: pin a version, not a moving tag"


@pytest.mark.parametrize("target", sorted(PACKAGES))
def test_dependencies_are_installed_from_the_lock_before_the_source_is_copied(
    target: str,
) -> None:
    build = STAGES[f"build-{target}"]
    steps = build.instructions
    syncs = [i for i, (kw, args) in enumerate(steps) if kw == "RUN" and "uv sync --frozen" in args]
    source_copies = [
        i for i, (kw, args) in enumerate(steps) if kw == "COPY" and SOURCE_COPY.match(args + " ")
    ]
    assert syncs and source_copies, f"build-{target}: needs `uv sync --frozen` and a source COPY"
    assert syncs[0] < source_copies[0], "the lock layer must come before the source layer"
    first_sync = steps[syncs[0]][1]
    assert f"--package {PACKAGES[target]}" in first_sync
    assert "--no-install-workspace" in first_sync
    for i in syncs:
        args = steps[i][1]
        assert "--no-dev" in args, "images carry no dev dependencies"
        assert "--all-groups" not in args and "--group" not in args
    # The layers before the sync see only manifests and the lock, so a source
    # change cannot invalidate the dependency layer.
    builder_copies = STAGES[build.base].args_of("COPY")
    for copy in builder_copies:
        if "--from=" in copy:  # from another image (uv itself), not the build context
            continue
        sources = shlex.split(copy)[:-1]
        for source in sources:
            if source.startswith("--"):
                continue
            assert source.endswith(("pyproject.toml", "uv.lock")), f"{source} in the lock layer"


@pytest.mark.parametrize("target", sorted(PACKAGES))
def test_images_run_as_an_unprivileged_numeric_user(target: str) -> None:
    user = effective_user(STAGES, target)
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, f"{target} runs as {user!r}"


@pytest.mark.parametrize("service", sorted(SERVICE_MODULES))
def test_service_images_have_a_healthcheck_on_healthz_and_run_the_module(service: str) -> None:
    stage = STAGES[service]
    healthcheck = stage.args_of("HEALTHCHECK")
    assert healthcheck, f"{service}: no HEALTHCHECK"
    check = healthcheck[-1]
    assert "/healthz" in check and "urllib" in check, "python urllib, no curl in the image"
    assert f"'{model_default(service, 'http_port')}'" in check, "healthcheck must use the port"
    cmd = effective_instruction(STAGES, service, "CMD")
    module = SERVICE_MODULES[service]
    assert cmd == f'["python", "-m", "{module}"]'
    assert importlib.util.find_spec(f"{module}.__main__") is not None
    exposed = {f"EXPOSE {a}" for a in stage.args_of("EXPOSE")}
    assert f"EXPOSE {model_default(service, 'http_port')}" in exposed
    assert f"EXPOSE {model_default(service, 'admin_port')}" in exposed


def test_runtime_listens_on_all_interfaces() -> None:
    env = " ".join(STAGES["runtime"].args_of("ENV"))
    assert "CANDOUR_HTTP_HOST=0.0.0.0" in env
    assert "CANDOUR_ADMIN_HOST=0.0.0.0" in env  # reachable by the orchestrator's probes


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_context() -> None:
    patterns = {
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for required in ("**/.venv", ".env", "**/.env", ".git", "tests/"):
        assert required in patterns, f".dockerignore lacks {required}"
    for needed in ("libs", "services", "tools", "uv.lock", "pyproject.toml"):
        assert not any(p.rstrip("/") == needed for p in patterns), f"{needed} must reach the build"

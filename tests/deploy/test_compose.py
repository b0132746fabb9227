"""deploy/compose/compose.yaml, checked against the settings the services read."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import SecretStr

from candour_cli.settings_doc import (
    COMPOSE_FIXED,
    COMPOSE_NOT_WIRED,
    PRODUCTION_REQUIRED,
    collect,
    committed_env_block,
    env_name,
    render_env_example_block,
)
from tests.deploy.manifests import (
    COMPOSE_DIR,
    ENV_EXAMPLE,
    SERVICE_MODULES,
    compose_environment,
    interpolate,
    load_compose,
    model_default,
    settings_class,
)

pytestmark = pytest.mark.unit

COMPOSE = load_compose()
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
APP_SERVICES = sorted(SERVICE_MODULES)
ONE_SHOT = {"init"}
# Settings compose deliberately sets differently from the model default.
COMPOSE_CHOICES = {
    "log_json",  # containers always log JSON: there is no terminal to detect
    "smtp_host",  # Mailpit's container, not the host's loopback
}


def test_the_platform_is_all_there() -> None:
    assert set(APP_SERVICES) | {"kafka", "postgres", "mailpit", "init"} <= set(SERVICES)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_image_is_pinned(name: str) -> None:
    image = interpolate(SERVICES[name]["image"]).value
    assert "@sha256:" in image or re.fullmatch(r"[^:]+:[^:]+", image.split("/")[-1]), (
        f"{name}: {image} has no tag"
    )
    tag = image.rsplit(":", 1)[-1]
    assert tag != "latest" and re.search(r"\d", tag), f"{name}: {image} is not pinned"


def test_kafka_is_the_official_image_in_kraft_mode() -> None:
    kafka = SERVICES["kafka"]
    assert kafka["image"] == "apache/kafka:4.1.1"
    env = compose_environment(kafka)
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "ZOOKEEPER" not in " ".join(env)
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


@pytest.mark.parametrize("name", sorted(set(SERVICES) - ONE_SHOT))
def test_every_long_running_service_has_a_healthcheck(name: str) -> None:
    check = SERVICES[name].get("healthcheck") or {}
    assert check.get("test") and not check.get("disable"), f"{name}: no healthcheck"


@pytest.mark.parametrize("service", APP_SERVICES)
def test_services_wait_for_healthy_dependencies_and_the_init_job(service: str) -> None:
    depends = SERVICES[service]["depends_on"]
    assert depends["init"]["condition"] == "service_completed_successfully"
    assert depends["kafka"]["condition"] == "service_healthy"
    assert depends["postgres"]["condition"] == "service_healthy"
    if service == "notifications":
        assert depends["mailpit"]["condition"] == "service_healthy"


def test_init_job_creates_topics_and_migrates_every_service() -> None:
    init = SERVICES["init"]
    script = "\n".join(init["command"])
    assert "candour topics create" in script
    for service in APP_SERVICES:
        assert f"candour migrate {service} --database-url" in script
    assert init.get("restart") == "no"
    assert init["build"]["target"] == "cli"
    for dependency in ("kafka", "postgres"):
        assert init["depends_on"][dependency]["condition"] == "service_healthy"


@pytest.mark.parametrize("service", APP_SERVICES)
def test_every_required_setting_is_provided(service: str) -> None:
    env = compose_environment(SERVICES[service])
    fields = settings_class(service).model_fields
    required = {n for n, f in fields.items() if f.is_required()} | PRODUCTION_REQUIRED
    required |= set(settings_class(service).REQUIRED_KEYS)  # keys: no default at all
    for name in sorted(required):
        key = env_name(name)
        assert key in env, f"{service}: {key} is required and not set"
        assert interpolate(env[key]).value.strip(), f"{service}: {key} is empty"


@pytest.mark.parametrize("service", APP_SERVICES)
def test_every_setting_the_service_reads_is_wired(service: str) -> None:
    env = compose_environment(SERVICES[service])
    fields = settings_class(service).model_fields
    for name in fields:
        if name in COMPOSE_NOT_WIRED:
            assert env_name(name) not in env
            continue
        assert env_name(name) in env, f"{service}: {env_name(name)} is not passed to it"
    foreign = {k for k in env if k.startswith("CANDOUR_")} - {env_name(n) for n in fields}
    assert not foreign, f"{service} is given settings it does not read: {sorted(foreign)}"


@pytest.mark.parametrize("service", APP_SERVICES)
def test_compose_defaults_equal_the_model_defaults(service: str) -> None:
    env = compose_environment(SERVICES[service])
    for name in settings_class(service).model_fields:
        raw = env.get(env_name(name))
        if raw is None or name in set(COMPOSE_FIXED) | COMPOSE_CHOICES | PRODUCTION_REQUIRED:
            continue
        match = re.fullmatch(r"\$\{[A-Z0-9_]+:-(?P<default>[^}]*)\}", raw)
        if match is None:
            continue  # a deliberate container value (e.g. mailpit as the SMTP host)
        default = model_default(service, name)
        if isinstance(default, bool):
            default = "true" if default else "false"
        if isinstance(default, SecretStr):
            continue
        assert match["default"] == str(default), (
            f"{service}: {env_name(name)} defaults to {match['default']!r} in compose, "
            f"{default!r} in the model"
        )


def test_docker_waits_longer_than_the_services_drain() -> None:
    for service in APP_SERVICES:
        definition = SERVICES[service]
        grace = interpolate(compose_environment(definition)["CANDOUR_SHUTDOWN_GRACE_SECONDS"])
        stop = definition["stop_grace_period"]
        assert stop.endswith("s") and float(stop[:-1]) > float(grace.value)


@pytest.mark.parametrize("service", APP_SERVICES)
def test_containers_listen_on_all_interfaces_on_their_own_port(service: str) -> None:
    definition = SERVICES[service]
    env = compose_environment(definition)
    port = model_default(service, "http_port")
    assert env["CANDOUR_HTTP_HOST"] == "0.0.0.0"
    assert env["CANDOUR_HTTP_PORT"] == str(port)
    assert env["CANDOUR_SERVICE_NAME"] == model_default(service, "service_name")
    assert f"{port}:{port}" in definition["ports"]
    assert f":{port}/healthz" in " ".join(definition["healthcheck"]["test"])
    # The admin port (/readyz, /metrics) listens on the compose network only.
    admin = model_default(service, "admin_port")
    assert env["CANDOUR_ADMIN_PORT"] == str(admin)
    assert not [p for p in definition["ports"] if str(admin) in str(p)], "admin port published"
    assert definition["build"]["target"] == service


@pytest.mark.parametrize("service", APP_SERVICES)
def test_each_service_has_its_own_database_and_role(service: str) -> None:
    url = compose_environment(SERVICES[service])["CANDOUR_DATABASE_URL"]
    match = re.fullmatch(r"postgresql://(?P<role>\w+):\$\{\w+\}@postgres:5432/(?P<db>\w+)", url)
    assert match, url
    assert match["role"] == match["db"]
    init_script = (COMPOSE_DIR / "postgres" / "init-databases.sh").read_text(encoding="utf-8")
    assert f"create_service_database {match['db']} " in init_script
    others = [
        compose_environment(SERVICES[s])["CANDOUR_DATABASE_URL"]
        for s in APP_SERVICES
        if s != service
    ]
    assert all(f"/{match['db']}" not in other for other in others)


def test_env_example_lists_every_setting_the_services_read() -> None:
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    for setting in collect():
        assert re.search(rf"^# {setting.env} ", text, re.MULTILINE), f"{setting.env} missing"


def test_env_example_settings_list_matches_the_models() -> None:
    committed = committed_env_block(ENV_EXAMPLE.read_text(encoding="utf-8"))
    assert committed == render_env_example_block(), (
        "deploy/compose/.env.example is stale: run "
        "`.venv/bin/python -m candour_cli.settings_doc deploy/compose/.env.example`"
    )


def test_env_example_defines_every_variable_compose_requires() -> None:
    text = (COMPOSE_DIR / "compose.yaml").read_text(encoding="utf-8")
    resolved = interpolate(text)
    defined = {
        line.split("=", 1)[0]
        for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
        if "=" in line and not line.startswith("#")
    }
    missing = (resolved.required_vars | resolved.plain_vars) - defined
    assert not missing, f".env.example does not set {sorted(missing)}"

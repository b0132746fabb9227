"""Reading the deploy/ artifacts the way their tools would, without those tools.

No Docker engine, kubectl or kustomize runs here, so these helpers parse the
files and resolve just enough (compose interpolation, Dockerfile stages,
kustomize resource lists) for the tests to check them against the code.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from candour_cli.settings_doc import SERVICE_SETTINGS
from candour_common.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE_DIR = ROOT / "deploy" / "compose"
COMPOSE_FILE = COMPOSE_DIR / "compose.yaml"
ENV_EXAMPLE = COMPOSE_DIR / ".env.example"
KUBERNETES_DIR = ROOT / "deploy" / "kubernetes"
GRAFANA_DASHBOARD = ROOT / "deploy" / "grafana" / "candour.json"
OPERATIONS_DOC = ROOT / "docs" / "operations.md"

# Deployment name -> the module `python -m` runs.
SERVICE_MODULES = {
    "story-intake": "candour_intake",
    "moderation": "candour_moderation",
    "notifications": "candour_notifications",
    "search": "candour_search",
}
assert set(SERVICE_MODULES) == set(SERVICE_SETTINGS)


def settings_class(service: str) -> type[ServiceSettings]:
    return SERVICE_SETTINGS[service]


def model_default(service: str, field_name: str) -> Any:
    return settings_class(service).model_fields[field_name].get_default(call_default_factory=True)


# --- compose -----------------------------------------------------------------

_INTERPOLATION = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:-|:\?|-|\?)?(?P<arg>[^}]*)\}"
)


@dataclass(frozen=True)
class Interpolated:
    value: str
    required_vars: frozenset[str]  # ${VAR:?...}: compose refuses to start without them
    plain_vars: frozenset[str]  # ${VAR}: taken from .env with no default


def interpolate(text: str) -> Interpolated:
    """Resolve compose `${...}` with defaults only (as on a host whose .env sets nothing)."""
    required: set[str] = set()
    plain: set[str] = set()

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        if op in (":-", "-"):
            return arg
        if op in (":?", "?"):
            required.add(name)
            return f"<{name}>"
        plain.add(name)
        return f"<{name}>"

    return Interpolated(_INTERPOLATION.sub(replace, text), frozenset(required), frozenset(plain))


def load_compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def compose_environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): str(v) for k, v in env.items()}


# --- Dockerfile --------------------------------------------------------------


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)  # (KEYWORD, arguments)

    def args_of(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction, continuation lines joined, comments dropped."""
    logical: list[str] = []
    buffer = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buffer and (not line or line.startswith("#")):
            continue
        if buffer and line.startswith("#"):
            continue
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        logical.append(buffer + line)
        buffer = ""
    if buffer:
        logical.append(buffer)
    result = []
    for item in logical:
        keyword, _, args = item.partition(" ")
        result.append((keyword.upper(), args.strip()))
    return result


def dockerfile_stages(text: str) -> tuple[dict[str, str], dict[str, Stage]]:
    """Global ARG defaults and the stages by name (in order)."""
    global_args: dict[str, str] = {}
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for keyword, args in dockerfile_instructions(text):
        if keyword == "FROM":
            parts = shlex.split(args)
            base = parts[0]
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else f"#{len(stages)}"
            current = Stage(name=name, base=base)
            stages[name] = current
        elif current is None:
            if keyword == "ARG" and "=" in args:
                key, _, value = args.partition("=")
                global_args[key] = value
        else:
            current.instructions.append((keyword, args))
    return global_args, stages


def effective_user(stages: dict[str, Stage], name: str) -> str:
    """The USER a stage runs as, following FROM <stage> chains (root when never set)."""
    stage = stages[name]
    users = stage.args_of("USER")
    if users:
        return users[-1]
    if stage.base in stages:
        return effective_user(stages, stage.base)
    return "root"


def effective_instruction(stages: dict[str, Stage], name: str, keyword: str) -> str | None:
    stage = stages[name]
    found = stage.args_of(keyword)
    if found:
        return found[-1]
    if stage.base in stages:
        return effective_instruction(stages, stage.base, keyword)
    return None


# --- Kubernetes --------------------------------------------------------------


def load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def kustomization(directory: Path) -> dict[str, Any]:
    data = yaml.safe_load((directory / "kustomization.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def kustomize_resources(directory: Path) -> list[dict[str, Any]]:
    """Every object a kustomization's resources name, recursively (no patches applied)."""
    objects: list[dict[str, Any]] = []
    for entry in kustomization(directory).get("resources", []):
        target = (directory / entry).resolve()
        if target.is_dir():
            objects += kustomize_resources(target)
        else:
            objects += load_yaml_documents(target)
    return objects


def by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o.get("kind") == kind}

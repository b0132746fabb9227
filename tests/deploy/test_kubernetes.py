"""deploy/kubernetes: schema-validated with kubernetes-validate, KEDA objects structurally.

kubernetes-validate ships the Kubernetes JSON schemas inside the wheel, so this
runs offline. KEDA's ScaledObject is a custom resource it has no schema for;
those are checked field by field below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from candour_cli.settings_doc import PRODUCTION_REQUIRED, env_name
from tests.deploy.manifests import (
    KUBERNETES_DIR,
    SERVICE_MODULES,
    by_kind,
    kustomization,
    kustomize_resources,
    load_yaml_documents,
    model_default,
    settings_class,
)

pytestmark = pytest.mark.unit

KUBERNETES_VERSION = "1.37.0"
BASE = KUBERNETES_DIR / "base"
OVERLAY = KUBERNETES_DIR / "overlays" / "example"
KUSTOMIZATIONS = [BASE, OVERLAY]
OBJECTS = kustomize_resources(OVERLAY)
APP_SERVICES = sorted(SERVICE_MODULES)
CUSTOM_KINDS = {"ScaledObject"}


def _all_manifest_files() -> list[Path]:
    files = []
    for directory in KUSTOMIZATIONS:
        k = kustomization(directory)
        files += [directory / r for r in k.get("resources", []) if (directory / r).is_file()]
    return files


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=lambda d: d.name)
def test_kustomization_names_only_files_that_exist(directory: Path) -> None:
    k = kustomization(directory)
    assert k["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert k["kind"] == "Kustomization"
    for entry in k.get("resources", []):
        target = directory / entry
        assert target.exists(), f"{directory.name}: resource {entry} does not exist"
        if target.is_dir():
            assert (target / "kustomization.yaml").is_file(), f"{entry} is not a kustomization"
    for patch in k.get("patches", []):
        if "path" in patch:
            assert (directory / patch["path"]).is_file(), f"patch {patch['path']} missing"
        else:
            assert patch.get("patch") and patch.get("target"), "inline patch needs a target"


def test_every_manifest_file_is_listed_in_its_kustomization() -> None:
    listed = {p.resolve() for p in _all_manifest_files()}
    patches = {
        (OVERLAY / p["path"]).resolve() for p in kustomization(OVERLAY)["patches"] if "path" in p
    }
    for directory in KUSTOMIZATIONS:
        for path in directory.glob("*.yaml"):
            if path.name == "kustomization.yaml":
                continue
            assert path.resolve() in listed | patches, f"{path} is not in any kustomization"


@pytest.mark.parametrize(
    "obj",
    [o for o in OBJECTS if o["kind"] not in CUSTOM_KINDS],
    ids=lambda o: f"{o['kind']}/{o['metadata']['name']}",
)
def test_manifest_matches_the_kubernetes_schema(obj: dict[str, Any]) -> None:
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        pytest.fail(f"{obj['kind']}/{obj['metadata']['name']}: {error.message} at {error.path}")


def test_only_known_custom_kinds_escape_the_schema_check() -> None:
    for obj in OBJECTS:
        if obj["kind"] in CUSTOM_KINDS:
            assert obj["apiVersion"] == "keda.sh/v1alpha1"


def _deployment(service: str) -> dict[str, Any]:
    return by_kind(OBJECTS, "Deployment")[service]


def _container(service: str) -> dict[str, Any]:
    containers = _deployment(service)["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def _partitions() -> int:
    platform = by_kind(OBJECTS, "ConfigMap")["candour-platform"]
    return int(platform["data"]["CANDOUR_TOPIC_PARTITIONS"])


@pytest.mark.parametrize("service", APP_SERVICES)
def test_deployment_has_probes_resources_and_runs_unprivileged(service: str) -> None:
    container = _container(service)
    port = model_default(service, "http_port")
    assert container["ports"][0]["containerPort"] == port
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["admin"] == model_default(service, "admin_port")
    # Readiness and metrics on the admin port; liveness stays on the public /healthz.
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "admin"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    annotations = _deployment(service)["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(ports["admin"])
    assert annotations["prometheus.io/path"] == "/metrics"
    resources = container["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"]) and "memory" in resources["limits"]
    pod = _deployment(service)["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert container["image"].rsplit(":", 1)[-1] not in ("", "latest")


@pytest.mark.parametrize("service", APP_SERVICES)
def test_every_deployment_has_its_service_configmap_and_pdb(service: str) -> None:
    labels = _deployment(service)["spec"]["template"]["metadata"]["labels"]
    svc = by_kind(OBJECTS, "Service")[service]
    assert svc["spec"]["selector"].items() <= labels.items()
    assert svc["spec"]["ports"][0]["port"] == model_default(service, "http_port")
    assert [p["targetPort"] for p in svc["spec"]["ports"]] == ["http"], "admin port exposed"
    pdb = by_kind(OBJECTS, "PodDisruptionBudget")[service]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    config = by_kind(OBJECTS, "ConfigMap")[f"{service}-config"]
    assert config["data"]["CANDOUR_SERVICE_NAME"] == model_default(service, "service_name")
    assert config["data"]["CANDOUR_HTTP_PORT"] == str(model_default(service, "http_port"))


def _secret_keys() -> dict[str, set[str]]:
    """Secrets the example overlay generates: name -> keys."""
    keys: dict[str, set[str]] = {}
    for generator in kustomization(OVERLAY).get("secretGenerator", []):
        keys[generator["name"]] = {lit.split("=", 1)[0] for lit in generator["literals"]}
    return keys


@pytest.mark.parametrize("service", APP_SERVICES)
def test_every_required_setting_is_provided(service: str) -> None:
    container = _container(service)
    config_maps = by_kind(OBJECTS, "ConfigMap")
    secrets = _secret_keys()
    provided: dict[str, str] = {}
    for source in container["envFrom"]:
        if "configMapRef" in source:
            provided |= config_maps[source["configMapRef"]["name"]]["data"]
        else:
            name = source["secretRef"]["name"]
            assert name in secrets, f"{service}: secret {name} is generated by no overlay"
            provided |= dict.fromkeys(secrets[name], "<secret>")
    fields = settings_class(service).model_fields
    required = {n for n, f in fields.items() if f.is_required()} | PRODUCTION_REQUIRED
    required |= set(settings_class(service).REQUIRED_KEYS)  # keys: no default at all
    for name in sorted(required):
        assert env_name(name) in provided, f"{service}: {env_name(name)} is not provided"
    unknown = {k for k in provided if k.startswith("CANDOUR_")} - {env_name(n) for n in fields}
    # The platform ConfigMap also feeds the migration Job's topic settings.
    assert unknown <= {"CANDOUR_TOPIC_PARTITIONS", "CANDOUR_TOPIC_REPLICATION_FACTOR"}, unknown
    assert provided["CANDOUR_HTTP_HOST"] == "0.0.0.0"
    grace = float(provided["CANDOUR_SHUTDOWN_GRACE_SECONDS"])
    assert _deployment(service)["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > grace


@pytest.mark.parametrize("service", APP_SERVICES)
def test_scaled_object_scales_on_the_consumer_group_lag_within_the_partitions(
    service: str,
) -> None:
    scaled = by_kind(OBJECTS, "ScaledObject")[service]
    spec = scaled["spec"]
    assert spec["scaleTargetRef"]["name"] == service
    assert spec["scaleTargetRef"].get("kind", "Deployment") == "Deployment"
    assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= _partitions(), (
        "more copies than partitions would sit idle: a partition goes to one group member"
    )
    kafka = [t for t in spec["triggers"] if t["type"] == "kafka"]
    assert len(kafka) == 1 and spec["triggers"][0] is kafka[0], "the overlay patches trigger 0"
    metadata = kafka[0]["metadata"]
    assert metadata["consumerGroup"] == f"candour-{model_default(service, 'service_name')}"
    assert metadata["bootstrapServers"]
    assert int(metadata["lagThreshold"]) > 0
    assert metadata.get("allowIdleConsumers", "false") == "false"
    assert "replicas" not in _deployment(service)["spec"], "KEDA owns the replica count"


def test_migration_job_creates_topics_and_migrates_every_service_database() -> None:
    job = by_kind(OBJECTS, "Job")["candour-migrate"]
    container = job["spec"]["template"]["spec"]["containers"][0]
    script = "\n".join(container["args"])
    assert "candour topics create" in script
    secrets = _secret_keys()
    for service in APP_SERVICES:
        assert f"candour migrate {service} --database-url" in script
    for env in container["env"]:
        ref = env["valueFrom"]["secretKeyRef"]
        assert ref["key"] in secrets[ref["name"]]
    assert container["envFrom"][0]["configMapRef"]["name"] == "candour-platform"
    assert container["image"].startswith("candour/cli:")


def test_overlay_images_cover_every_image_and_are_pinned() -> None:
    images = {i["name"]: i for i in kustomization(OVERLAY)["images"]}
    used = {
        c["image"].rsplit(":", 1)[0]
        for o in OBJECTS
        if o["kind"] in ("Deployment", "Job")
        for c in o["spec"]["template"]["spec"]["containers"]
    }
    assert used == set(images)
    for image in images.values():
        assert image["newTag"] not in ("", "latest")


def test_documents_parse_as_yaml_objects() -> None:
    for path in _all_manifest_files():
        for document in load_yaml_documents(path):
            assert {"apiVersion", "kind", "metadata"} <= set(document), path

"""deploy/kubernetes: Kafka over TLS with one SCRAM user per service, whose ACLs are the topic
table's (kafka-users is generated from it), wired into the example overlay."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from candour_cli.acls import render_strimzi
from candour_cli.settings_doc import env_name
from candour_common.kafka_acls import (
    LAG_READER,
    OPERATOR,
    SERVICES,
    default_principal,
    platform_acls,
)
from candour_common.settings import ServiceSettings
from candour_common.topics import TopicNames
from tests.deploy.manifests import KUBERNETES_DIR, kustomization, load_yaml_documents

pytestmark = pytest.mark.unit

USERS = KUBERNETES_DIR / "kafka-users"
COMPONENT = KUBERNETES_DIR / "components" / "kafka-sasl-ssl"
OVERLAY = KUBERNETES_DIR / "overlays" / "example"


def test_kafka_users_are_the_topic_tables_acls() -> None:
    committed = (USERS / "kafka-users.yaml").read_text(encoding="utf-8")
    generated = render_strimzi(platform_acls(TopicNames()), cluster="kafka")
    assert committed == generated, (
        "regenerate: candour acls show --format strimzi > deploy/kubernetes/kafka-users/"
        "kafka-users.yaml"
    )
    users = load_yaml_documents(USERS / "kafka-users.yaml")
    assert {u["metadata"]["name"] for u in users} == {
        default_principal(r) for r in (*SERVICES, OPERATOR, LAG_READER)
    }
    for user in users:
        assert user["spec"]["authentication"]["type"] == "scram-sha-512"
        assert user["spec"]["authorization"]["type"] == "simple"
    assert kustomization(USERS)["resources"] == ["kafka-users.yaml"]


def _patch_ops(target_kind: str) -> list[dict[str, Any]]:
    for patch in kustomization(COMPONENT)["patches"]:
        if patch.get("target", {}).get("kind") == target_kind:
            ops = yaml.safe_load(patch["patch"])
            assert isinstance(ops, list)
            return ops
    raise AssertionError(f"no patch for {target_kind}")


def test_the_component_gives_every_pod_tls_and_its_login() -> None:
    component = kustomization(COMPONENT)
    assert component["kind"] == "Component"
    for entry in component["resources"]:
        assert (COMPONENT / entry).is_file()
    (config,) = load_yaml_documents(COMPONENT / "platform-config.yaml")
    settings = config["data"]
    assert settings["CANDOUR_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert settings["CANDOUR_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert set(settings) <= {env_name(n) for n in ServiceSettings.model_fields}
    for kind in ("Deployment", "Job"):
        ops = _patch_ops(kind)
        mounts = [op["value"] for op in ops if "volumeMounts" in op["path"]]
        mount = mounts[0][0] if isinstance(mounts[0], list) else mounts[0]
        assert settings["CANDOUR_KAFKA_SSL_CAFILE"].startswith(mount["mountPath"] + "/")
    job_env = [op["value"] for op in _patch_ops("Job") if op["path"].endswith("envFrom/-")]
    assert job_env == [{"secretRef": {"name": "candour-operator-kafka"}}]
    scaler = _patch_ops("ScaledObject")
    (trigger_auth,) = load_yaml_documents(COMPONENT / "trigger-authentication.yaml")
    assert scaler[0]["value"]["name"] == trigger_auth["metadata"]["name"]


def test_the_example_overlay_logs_each_service_in_as_its_own_user() -> None:
    overlay = kustomization(OVERLAY)
    assert "../../components/kafka-sasl-ssl" in overlay["components"]
    secrets = {
        g["name"]: dict(lit.split("=", 1) for lit in g["literals"])
        for g in overlay["secretGenerator"]
    }
    for service in SERVICES:
        own = secrets[f"{service}-secrets"]
        assert own["CANDOUR_KAFKA_SASL_USERNAME"] == default_principal(service)
        assert own["CANDOUR_KAFKA_SASL_PASSWORD"]
    operator = secrets["candour-operator-kafka"]
    assert operator["CANDOUR_KAFKA_SASL_USERNAME"] == default_principal(OPERATOR)
    assert secrets["candour-lag-reader-kafka"]["username"] == default_principal(LAG_READER)
    assert "ca.crt" in secrets["kafka-cluster-ca"]

"""Least privilege on Kafka: one principal per service, allowed what the topic table says.

`TOPIC_USE` names the producer and the consumers of every topic. From it, each
service's principal (`candour-<service>` by default) gets:

- WRITE on the topics it produces (its outbox relay publishes them);
- READ on the topics it consumes, and WRITE on their `.dlq` (its dead letters);
- READ on its consumer group (and search on the groups of `candour search rebuild`).

READ and WRITE imply DESCRIBE in Kafka, so metadata and offsets need nothing more.
Nobody but the operator may create topics, and nobody but the cluster's own
administrator may change ACLs. The operator principal (`candour topics`,
`candour dlq`) may create, describe and configure Candour's topics and use the DLQ
replay groups; the lag reader (KEDA) may only describe the services' groups and topics.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from aiokafka.client import AIOKafkaClient
from aiokafka.errors import for_code
from aiokafka.protocol.admin import CreateAclsRequest

from candour_common.kafka_connection import KafkaConnection
from candour_common.topics import TOPIC_USE, Topic, TopicNames

SERVICES = ("story-intake", "moderation", "notifications", "search")
OPERATOR = "operator"
LAG_READER = "lag-reader"

ResourceType = Literal["TOPIC", "GROUP"]
PatternType = Literal["LITERAL", "PREFIXED"]
Operation = Literal["READ", "WRITE", "CREATE", "DESCRIBE", "DESCRIBE_CONFIGS", "ALTER_CONFIGS"]

# Kafka protocol codes (org.apache.kafka.common.resource / acl enums).
_RESOURCE_TYPE = {"TOPIC": 2, "GROUP": 3}
_PATTERN_TYPE = {"LITERAL": 3, "PREFIXED": 4}
_OPERATION = {
    "READ": 3,
    "WRITE": 4,
    "CREATE": 5,
    "DESCRIBE": 8,
    "DESCRIBE_CONFIGS": 10,
    "ALTER_CONFIGS": 11,
}
_ALLOW = 3

REBUILD_GROUP_PREFIX = "candour-search-rebuild-"
DLQ_REPLAY_GROUP_PREFIX = "candour-dlq-replay"


def default_principal(role: str) -> str:
    """The Kafka user name of a service (or `operator`, `lag-reader`)."""
    return f"candour-{role}"


@dataclass(frozen=True, order=True, slots=True)
class Acl:
    """One ALLOW rule: `principal` may do `operation` on a topic or group (any host)."""

    principal: str
    resource_type: ResourceType
    pattern: PatternType
    name: str
    operation: Operation

    def kafka_acls_arguments(self) -> list[str]:
        """The same rule as `kafka-acls.sh --add` arguments."""
        arguments = [
            "--allow-principal",
            f"User:{self.principal}",
            "--operation",
            "".join(part.capitalize() for part in self.operation.split("_")),
            f"--{self.resource_type.lower()}",
            self.name,
        ]
        if self.pattern == "PREFIXED":
            arguments += ["--resource-pattern-type", "prefixed"]
        return arguments


def _topic(principal: str, name: str, *operations: Operation) -> list[Acl]:
    return [Acl(principal, "TOPIC", "LITERAL", name, op) for op in operations]


def service_acls(
    service: str, topics: TopicNames, *, principal: str | None = None, group_id: str | None = None
) -> list[Acl]:
    """What one service's principal may do: its row of the topic table, nothing else."""
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}")
    user = principal or default_principal(service)
    acls: list[Acl] = []
    for topic, use in TOPIC_USE.items():
        if use.producer == service:
            acls += _topic(user, topics.name(topic), "WRITE")
        if service in use.consumers:
            acls += _topic(user, topics.name(topic), "READ")
            acls += _topic(user, topics.dlq(topic), "WRITE")
    if any(service in use.consumers for use in TOPIC_USE.values()):
        group = group_id or f"{topics.prefix}candour-{service}"
        acls.append(Acl(user, "GROUP", "LITERAL", group, "READ"))
    if service == "search":
        rebuilds = f"{topics.prefix}{REBUILD_GROUP_PREFIX}"
        acls.append(Acl(user, "GROUP", "PREFIXED", rebuilds, "READ"))
    return sorted(acls)


def operator_acls(topics: TopicNames, *, principal: str | None = None) -> list[Acl]:
    """`candour topics create|describe` and `candour dlq list|replay`."""
    user = principal or default_principal(OPERATOR)
    acls: list[Acl] = []
    for topic in Topic:
        acls += _topic(user, topics.name(topic), "CREATE", "DESCRIBE_CONFIGS", "WRITE")
        acls += _topic(user, topics.dlq(topic), "CREATE", "DESCRIBE_CONFIGS", "READ")
    replays = f"{topics.prefix}{DLQ_REPLAY_GROUP_PREFIX}"
    acls.append(Acl(user, "GROUP", "PREFIXED", replays, "READ"))
    return sorted(acls)


def lag_reader_acls(topics: TopicNames, *, principal: str | None = None) -> list[Acl]:
    """The autoscaler's view: committed offsets of the services' groups, end offsets."""
    user = principal or default_principal(LAG_READER)
    acls = [
        Acl(user, "GROUP", "LITERAL", f"{topics.prefix}candour-{service}", "DESCRIBE")
        for service in SERVICES
        if any(service in use.consumers for use in TOPIC_USE.values())
    ]
    for topic in Topic:
        acls += _topic(user, topics.name(topic), "DESCRIBE")
    return sorted(acls)


def platform_acls(
    topics: TopicNames, principals: Mapping[str, str] | None = None
) -> dict[str, list[Acl]]:
    """Every principal's rules, by role (the four services, `operator`, `lag-reader`)."""
    names = dict(principals or {})
    acls = {s: service_acls(s, topics, principal=names.get(s)) for s in SERVICES}
    acls[OPERATOR] = operator_acls(topics, principal=names.get(OPERATOR))
    acls[LAG_READER] = lag_reader_acls(topics, principal=names.get(LAG_READER))
    return acls


class AclRefused(RuntimeError):
    """The cluster did not create an ACL (not an administrator, or no authorizer)."""


async def create_acls(kafka: KafkaConnection | str, acls: list[Acl]) -> None:
    """Create each rule on the cluster (idempotent: an existing rule is left as it is).

    Needs ALTER on the cluster, i.e. the cluster's administrator, not a Candour principal.
    aiokafka's admin client has no ACL call, so this sends Kafka's CreateAcls request.
    """
    client = AIOKafkaClient(**KafkaConnection.of(kafka).client_options(), client_id="candour-acls")
    await client.bootstrap()
    try:
        for acl in acls:
            request = CreateAclsRequest(
                resource_type=_RESOURCE_TYPE[acl.resource_type],
                resource_name=acl.name,
                resource_pattern_type_filter=_PATTERN_TYPE[acl.pattern],
                principal=f"User:{acl.principal}",
                host="*",
                operation=_OPERATION[acl.operation],
                permission_type=_ALLOW,
            )
            response = await client.send(client.get_random_node(), request)
            for code, message in response.creation_responses:
                if code:
                    error = for_code(code)
                    raise AclRefused(f"{acl}: {error.__name__}: {message or error.description}")
    finally:
        await client.close()

"""One Kafka principal per service, allowed only its row of the topic table; the table agrees
with what the services really subscribe to."""

from __future__ import annotations

import pytest
from faststream.kafka import KafkaBroker

from candour_cli.acls import render_strimzi
from candour_cli.contracts import _services
from candour_common.kafka_acls import (
    LAG_READER,
    OPERATOR,
    SERVICES,
    Acl,
    platform_acls,
    service_acls,
)
from candour_common.runtime import PlatformRef
from candour_common.topics import TOPIC_USE, TopicNames

pytestmark = pytest.mark.unit


def subscribed_topics() -> dict[str, set[str]]:
    """Per service, the topics its registered subscribers read."""
    found: dict[str, set[str]] = {}
    for service in _services():
        broker = KafkaBroker()
        service.register(broker, service.settings, PlatformRef())
        found[service.name] = {
            name for subscriber in broker.subscribers for name in subscriber.topic_names
        }
    return found


def test_the_topic_table_names_every_consumer_the_services_register() -> None:
    table = {
        service: {t.value for t, use in TOPIC_USE.items() if service in use.consumers}
        for service in SERVICES
    }
    assert table == subscribed_topics()


def test_moderation_may_do_exactly_what_its_row_says() -> None:
    acls = service_acls("moderation", TopicNames("p."))
    assert acls == sorted(
        [
            Acl("candour-moderation", "TOPIC", "LITERAL", "p.story.submitted", "READ"),
            Acl("candour-moderation", "TOPIC", "LITERAL", "p.story.submitted.dlq", "WRITE"),
            Acl("candour-moderation", "TOPIC", "LITERAL", "p.story.withdrawn", "READ"),
            Acl("candour-moderation", "TOPIC", "LITERAL", "p.story.withdrawn.dlq", "WRITE"),
            Acl("candour-moderation", "TOPIC", "LITERAL", "p.story.approved", "WRITE"),
            Acl("candour-moderation", "TOPIC", "LITERAL", "p.story.rejected", "WRITE"),
            Acl("candour-moderation", "TOPIC", "LITERAL", "p.safeguarding.raised", "WRITE"),
            Acl("candour-moderation", "TOPIC", "LITERAL", "p.safeguarding.updated", "READ"),
            Acl("candour-moderation", "TOPIC", "LITERAL", "p.safeguarding.updated.dlq", "WRITE"),
            Acl("candour-moderation", "GROUP", "LITERAL", "p.candour-moderation", "READ"),
        ]
    )


def test_no_service_reads_the_author_contact_it_has_no_need_for() -> None:
    every = platform_acls(TopicNames())
    readers = {
        role
        for role, rules in every.items()
        for rule in rules
        if rule.name == "story.submitted" and rule.operation == "READ"
    }
    assert readers == {"moderation", "notifications"}
    for role, rules in every.items():
        assert {r.principal for r in rules} == {f"candour-{role}"}
        if role != OPERATOR:
            assert not {"CREATE", "ALTER_CONFIGS"} & {r.operation for r in rules}, role
    assert {r.operation for r in every[LAG_READER]} == {"DESCRIBE"}


def test_kafka_acls_arguments_read_as_the_tool_expects() -> None:
    rule = Acl("candour-search", "GROUP", "PREFIXED", "candour-search-rebuild-", "READ")
    assert rule.kafka_acls_arguments() == [
        "--allow-principal",
        "User:candour-search",
        "--operation",
        "Read",
        "--group",
        "candour-search-rebuild-",
        "--resource-pattern-type",
        "prefixed",
    ]
    describe = Acl("candour-operator", "TOPIC", "LITERAL", "story.approved", "DESCRIBE_CONFIGS")
    assert describe.kafka_acls_arguments()[3] == "DescribeConfigs"


def test_strimzi_users_merge_operations_per_resource() -> None:
    text = render_strimzi({"search": service_acls("search", TopicNames())}, cluster="kafka")
    assert "name: candour-search\n" in text
    assert "strimzi.io/cluster: kafka" in text
    assert text.count("kind: KafkaUser") == 1
    assert 'name: "candour-search-rebuild-"\n          patternType: prefix' in text

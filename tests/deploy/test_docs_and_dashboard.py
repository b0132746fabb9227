"""docs/operations.md stays in step with the settings models; the dashboard with the metrics."""

from __future__ import annotations

import json
import re

import pytest

from candour_cli.settings_doc import collect, committed_block, render_block
from tests.deploy.manifests import GRAFANA_DASHBOARD, OPERATIONS_DOC

pytestmark = pytest.mark.unit

DOCUMENTED_METRICS = {
    "candour_http_requests_total",
    "candour_http_request_duration_seconds",
    "candour_events_consumed_total",
    "candour_event_processing_seconds",
    "candour_events_published_total",
    "candour_outbox_backlog",
    "candour_outbox_oldest_age_seconds",
    "candour_consumer_lag",
    "candour_dlq_messages_total",
}


def test_settings_reference_matches_the_settings_models() -> None:
    committed = committed_block(OPERATIONS_DOC.read_text(encoding="utf-8"))
    assert committed == render_block(), (
        "docs/operations.md settings table is stale: run "
        "`.venv/bin/python -m candour_cli.settings_doc docs/operations.md`"
    )


def test_settings_reference_names_every_setting() -> None:
    text = OPERATIONS_DOC.read_text(encoding="utf-8")
    for setting in collect():
        assert f"| `{setting.env}` |" in text


def test_operations_doc_has_the_runbooks() -> None:
    text = OPERATIONS_DOC.read_text(encoding="utf-8")
    for heading in (
        "## Scaling rules",
        "### Consumer lag grows",
        "### Dead letters (DLQ)",
        "### Failed emails",
        "### Broker outage (Kafka down)",
        "### Database outage (PostgreSQL down)",
    ):
        assert heading in text
    for command in ("candour dlq list", "candour dlq replay", "candour topics create"):
        assert command in text


def test_dashboard_covers_every_documented_metric() -> None:
    dashboard = json.loads(GRAFANA_DASHBOARD.read_text(encoding="utf-8"))
    panels = dashboard["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    expressions = " ".join(t["expr"] for p in panels for t in p.get("targets", []))
    used = set(re.findall(r"candour_[a-z_]+", expressions))
    used_base = {re.sub(r"_(bucket|sum|count)$", "", m) for m in used}
    assert used_base <= DOCUMENTED_METRICS, f"undocumented: {used_base - DOCUMENTED_METRICS}"
    missing = DOCUMENTED_METRICS - used_base
    assert not missing, f"not on the dashboard: {missing}"
    doc = OPERATIONS_DOC.read_text(encoding="utf-8")
    for metric in DOCUMENTED_METRICS:
        assert f"`{metric}`" in doc, f"{metric} is not in docs/operations.md"
    for panel in panels:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}"
            grid = panel["gridPos"]
            assert grid["x"] >= 0
            assert grid["x"] + grid["w"] <= 24

"""The benchmarks still run: each one end to end with tiny sizes.

No timing is asserted (the machine is shared); only that each benchmark
completes, writes its JSON result and (fan-out) delivered exactly one email per
recipient. Rows are not appended to bench/results.md (`--no-record`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

BENCH = ROOT / "bench"


def _run(script: str, *args: str, out_dir: Path, kafka: str, postgres: str) -> dict:
    completed = subprocess.run(
        [
            sys.executable,
            str(BENCH / script),
            *args,
            "--kafka",
            kafka,
            "--postgres",
            postgres,
            "--out-dir",
            str(out_dir),
            "--no-record",
            "--stall-timeout",
            "120",
        ],
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "160"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-6000:]
    kind = script.removesuffix(".py").split("_")[0]
    results = sorted(out_dir.glob(f"{kind}-*.json"))
    assert results, completed.stderr[-3000:]
    return json.loads(results[-1].read_text())


def test_baseline(kafka_bootstrap: str, postgres_server_url: str, tmp_path: Path) -> None:
    result = _run(
        "baseline.py",
        "--messages",
        "50",
        "--size",
        "500",
        out_dir=tmp_path,
        kafka=kafka_bootstrap,
        postgres=postgres_server_url,
    )
    assert result["baseline"]["kafka"]["consumed"] == 50
    assert result["machine"]["cores"] >= 1


def test_pipeline(kafka_bootstrap: str, postgres_server_url: str, tmp_path: Path) -> None:
    result = _run(
        "pipeline_bench.py",
        "--stories",
        "20",
        "--clients",
        "4",
        "--organisations",
        "3",
        out_dir=tmp_path,
        kafka=kafka_bootstrap,
        postgres=postgres_server_url,
    )
    run = result["run"]
    assert run["complete"]
    assert run["searchable"] == run["emailed"] == 20
    assert run["search_total_for_marker"] == 20
    assert set(result["processes"]) >= {"story-intake", "moderation", "notifications", "search"}


def test_latency(kafka_bootstrap: str, postgres_server_url: str, tmp_path: Path) -> None:
    result = _run(
        "latency_bench.py",
        "--rate",
        "5",
        "--duration",
        "3",
        out_dir=tmp_path,
        kafka=kafka_bootstrap,
        postgres=postgres_server_url,
    )
    assert result["run"]["complete"]
    assert result["run"]["latency_s"]["submit_to_searchable"]["n"] == 15


def test_fanout(kafka_bootstrap: str, postgres_server_url: str, tmp_path: Path) -> None:
    result = _run(
        "fanout_bench.py",
        "--subscribers",
        "25",
        "--settle",
        "1",
        out_dir=tmp_path,
        kafka=kafka_bootstrap,
        postgres=postgres_server_url,
    )
    assert result["exactly_once"]
    assert result["emails"] == 25


def test_replay(kafka_bootstrap: str, postgres_server_url: str, tmp_path: Path) -> None:
    result = _run(
        "replay_bench.py",
        "--events",
        "2000",
        out_dir=tmp_path,
        kafka=kafka_bootstrap,
        postgres=postgres_server_url,
    )
    events, index = result["events"], result["index"]
    assert result["run"]["complete"]
    assert result["rebuild"]["events_applied"] == 2000
    assert events["approved"] + events["responses"] + events["withdrawn"] == 2000
    assert index["stories"] == events["approved"] - events["withdrawn"] > 0
    assert index["withdrawn"] == events["withdrawn"]
    assert result["baseline"]["kafka_consume"]["messages"] == 2000


def test_moderation(kafka_bootstrap: str, postgres_server_url: str, tmp_path: Path) -> None:
    result = _run(
        "moderation_bench.py",
        "--stories",
        "60",
        out_dir=tmp_path,
        kafka=kafka_bootstrap,
        postgres=postgres_server_url,
    )
    moderation = result["moderation"]
    assert moderation["approved"] == 60  # the generated stories pass screening
    assert moderation["outbox_unsent_at_end"] == 0
    assert result["baseline"]["records"] == 60


def test_plot_draws_from_results(tmp_path: Path) -> None:
    (tmp_path / "fanout-20260101T000000Z.json").write_text(
        json.dumps({"emails_per_s": 10.0, "arrival_offsets_s": [0.1, 0.2, 0.3]})
    )
    samples = {"submit_to_searchable": [0.1, 0.2, 0.4], "submit_to_email": [0.2, 0.3, 0.5]}
    latency = {"p99": 0.4}
    (tmp_path / "pipeline-20260101T000000Z.json").write_text(
        json.dumps(
            {
                "stories_per_s": 12.0,
                "ratio": {"to_kafka_plus_insert": 0.1, "to_kafka_round_trip": 0.05},
                "run": {"latency_s": {"submit_to_searchable": latency}, "samples_s": samples},
            }
        )
    )
    (tmp_path / "replay-20260101T000000Z.json").write_text(
        json.dumps({"rebuild": {"events_per_s": 900.0}, "ratio": {"to_kafka_consume": 0.01}})
    )
    completed = subprocess.run(
        [sys.executable, str(BENCH / "plot.py"), "--out-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    for name in ("history.png", "pipeline-latency.png", "fanout-arrivals.png"):
        assert (tmp_path / name).stat().st_size > 0

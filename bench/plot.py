"""Draw the benchmark history and the latest latency distributions as PNG files.

    .venv/bin/python bench/plot.py [--out-dir bench/out]

Reads every pipeline-*, latency-*, fanout-*, replay-* and baseline-* JSON result in
the directory and writes there:

- history.png: stories/s end to end, p99 submit -> searchable, fan-out
  emails/s, the pipeline/baseline ratio, replay (search rebuild) events/s and its
  ratio to the raw baselines, run after run;
- pipeline-latency.png and latency-latency.png: the distribution (histogram and
  cumulative) of submit -> searchable and submit -> email of the newest run;
- fanout-arrivals.png: emails received over time in the newest fan-out run.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.dates as mdates  # after choosing the backend
import matplotlib.pyplot as plt

OUT_DIR = Path(__file__).resolve().parent / "out"


def load(out_dir: Path, kind: str) -> list[tuple[datetime, dict[str, Any]]]:
    runs = []
    for path in sorted(out_dir.glob(f"{kind}-*.json")):
        stamp = path.stem.split("-", 1)[1]
        try:
            when = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ")
            result = json.loads(path.read_text())
        except (ValueError, json.JSONDecodeError):
            continue
        # Profiled runs (cProfile slows every call) and incomplete runs are not comparable.
        profiled = result.get("args", {}).get("profile") in (True, "True")
        incomplete = result.get("run", {}).get("complete") is False
        if not profiled and not incomplete:
            runs.append((when, result))
    return runs


def _series(ax: Any, runs: list[tuple[datetime, dict[str, Any]]], value: Any, label: str) -> None:
    points = [(when, value(r)) for when, r in runs]
    points = [(w, v) for w, v in points if v is not None and v == v]  # drop None and NaN
    if points:
        ax.plot([w for w, _ in points], [v for _, v in points], marker="o", label=label)


def history(out_dir: Path) -> Path:
    pipeline, latency, fanout, replay = (
        load(out_dir, k) for k in ("pipeline", "latency", "fanout", "replay")
    )
    fig, axes = plt.subplots(3, 2, figsize=(13, 12), sharex=False)
    (a, b), (c, d), (e, f) = axes
    _series(a, pipeline, lambda r: r.get("stories_per_s"), "pipeline")
    a.set(title="End to end throughput", ylabel="stories/s")
    _series(
        b,
        pipeline,
        lambda r: r["run"]["latency_s"]["submit_to_searchable"].get("p99"),
        "pipeline (closed loop)",
    )
    _series(
        b,
        latency,
        lambda r: r["run"]["latency_s"]["submit_to_searchable"].get("p99"),
        "fixed rate (open loop)",
    )
    b.axhline(0.5, color="grey", linestyle="--", linewidth=1, label="target 500 ms")
    b.set(title="p99 submit -> searchable", ylabel="seconds")
    _series(c, fanout, lambda r: r.get("emails_per_s"), "fan-out")
    c.set(title="Fan-out delivery", ylabel="emails/s")
    _series(d, pipeline, lambda r: r.get("ratio", {}).get("to_kafka_plus_insert"), "Kafka+insert")
    _series(d, pipeline, lambda r: r.get("ratio", {}).get("to_kafka_round_trip"), "Kafka")
    d.set(title="Pipeline as a share of the raw baseline", ylabel="ratio")
    _series(e, replay, lambda r: r.get("rebuild", {}).get("events_per_s"), "search rebuild")
    e.set(title="Replay (candour search rebuild)", ylabel="events/s")
    _series(f, replay, lambda r: r.get("ratio", {}).get("to_kafka_consume"), "Kafka consume")
    _series(f, replay, lambda r: r.get("ratio", {}).get("to_postgres_copy"), "PostgreSQL COPY")
    f.set(title="Replay as a share of the raw baselines", ylabel="ratio")
    for ax in (a, b, c, d, e, f):
        stamps = {mdates.date2num(x) for line in ax.lines for x in line.get_xdata()}
        if len(stamps) == 1:  # one run so far: show a day around it
            (only,) = stamps
            ax.set_xlim(only - 0.5, only + 0.5)
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d %H:%M"))
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    fig.tight_layout()
    path = out_dir / "history.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def distribution(out_dir: Path, kind: str) -> Path | None:
    runs = load(out_dir, kind)
    if not runs:
        return None
    when, result = runs[-1]
    samples = result["run"]["samples_s"]
    fig, (hist, cdf, timeline) = plt.subplots(1, 3, figsize=(19, 4.5))
    for name, values in samples.items():
        if not values:
            continue
        label = name.replace("submit_to_", "submit -> ")
        hist.hist(values, bins=60, alpha=0.55, label=label)
        n = len(values)
        cdf.plot(values, [(i + 1) / n for i in range(n)], label=label)
    points = result["run"].get("timeline") or []
    series = ((1, "submit -> searchable"), (2, "submit -> email"), (3, "submit -> accepted"))
    for column, label in series:
        xs = [p[0] for p in points if len(p) > column and p[column] is not None]
        ys = [p[column] for p in points if len(p) > column and p[column] is not None]
        timeline.scatter(xs, ys, s=4, alpha=0.6, label=label)
    timeline.set(title="latency by send time", xlabel="seconds into the run", ylabel="seconds")
    for q in (0.5, 0.95, 0.99):
        cdf.axhline(q, color="grey", linestyle=":", linewidth=0.8)
    hist.set(title=f"{kind}: latency histogram ({when:%Y-%m-%d %H:%M} UTC)", xlabel="seconds")
    cdf.set(title="cumulative (p50, p95, p99 dotted)", xlabel="seconds", ylabel="share")
    for ax in (hist, cdf, timeline):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.tight_layout()
    path = out_dir / f"{kind}-latency.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def arrivals(out_dir: Path) -> Path | None:
    runs = load(out_dir, "fanout")
    if not runs:
        return None
    when, result = runs[-1]
    offsets = result.get("arrival_offsets_s") or []
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(offsets, range(1, len(offsets) + 1))
    ax.set(
        title=f"Fan-out: emails received after submission ({when:%Y-%m-%d %H:%M} UTC)",
        xlabel="seconds after submit",
        ylabel="emails received",
    )
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = out_dir / "fanout-arrivals.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    made = [
        history(args.out_dir),
        distribution(args.out_dir, "pipeline"),
        distribution(args.out_dir, "latency"),
        arrivals(args.out_dir),
    ]
    for path in made:
        if path is not None:
            print(path)


if __name__ == "__main__":
    main()

"""How well the theme finder recovers known themes, and how long it takes.

    .venv/bin/python bench/themes_quality.py [--sizes 10000,100000] [--seed 11] [--no-record]

On the generated corpus with known themes (tests/data/themes: 12 themes people
talk about in mental-health care, mixed with general sentences and now and then
a sentence of another theme), for each size it runs
`candour_search.themes.find_themes` as the service does (how many themes chosen
by itself) and prints:

- **NMI** (normalised mutual information) and **purity** of the themes found
  against the known labels (target NMI >= 0.6), the number of themes found;
- **time** and peak memory of the run;
- **raw baselines from the same run**: the TF-IDF step alone (time), and k-means
  on the same TF-IDF with the known number of themes (NMI, purity, time): what
  a plain method that is told the answer's size gets.
"""

from __future__ import annotations

import argparse
import resource
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from harness.cli import console
from harness.record import OUT_DIR, append_row, machine_facts, machine_text, write_result
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import normalized_mutual_info_score

from candour_search import themes
from tests.data.themes.corpus import generate, load


def purity(known: Sequence[str], found: Sequence[int]) -> float:
    clusters: dict[int, Counter[str]] = defaultdict(Counter)
    for label, cluster in zip(known, found, strict=True):
        clusters[cluster][label] += 1
    return sum(c.most_common(1)[0][1] for c in clusters.values()) / len(known)


def measure(size: int, seed: int) -> dict[str, Any]:
    entries = generate(size, seed=seed)
    texts = [e.text for e in entries]
    known = [e.theme for e in entries]

    started = time.perf_counter()
    model = themes.find_themes(texts, seed=0, progress=lambda line: console.print(line))
    seconds = time.perf_counter() - started
    found = [a[0] if a else -1 for a in model.assignments]

    started = time.perf_counter()
    matrix = TfidfVectorizer(
        analyzer=themes._terms, min_df=2, max_df=0.4, sublinear_tf=True, dtype=np.float32
    ).fit_transform(texts)
    tfidf_seconds = time.perf_counter() - started
    k = len(load()) - 1  # the known themes (less "general")
    started = time.perf_counter()
    kmeans = KMeans(n_clusters=k, n_init=3, random_state=0).fit_predict(matrix)
    kmeans_seconds = time.perf_counter() - started + tfidf_seconds
    return {
        "entries": size,
        "themes": len(model.themes),
        "nmi": normalized_mutual_info_score(known, found),
        "purity": purity(known, found),
        "seconds": seconds,
        "labels": [t.label for t in model.themes],
        "baseline": {
            "tfidf_seconds": tfidf_seconds,
            "kmeans_known_k": k,
            "kmeans_nmi": normalized_mutual_info_score(known, kmeans.tolist()),
            "kmeans_purity": purity(known, kmeans.tolist()),
            "kmeans_seconds": kmeans_seconds,
        },
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="corpus sizes, comma-separated")
    parser.add_argument("--seed", type=int, default=11, help="seed of the generated corpus")
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    parser.add_argument("--no-record", action="store_true", help="do not add rows to results.md")
    args = parser.parse_args()
    facts = machine_facts()
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        console.print(f"{size:,} entries ...")
        r = measure(size, args.seed)
        b = r["baseline"]
        console.print(
            f"  {r['themes']} themes, NMI {r['nmi']:.3f}, purity {r['purity']:.3f}, "
            f"{r['seconds']:.1f} s | baseline: TF-IDF alone {b['tfidf_seconds']:.1f} s; "
            f"k-means (k={b['kmeans_known_k']}, told) NMI {b['kmeans_nmi']:.3f}, "
            f"purity {b['kmeans_purity']:.3f}, {b['kmeans_seconds']:.1f} s"
        )
        results.append(r)
        if not args.no_record:
            append_row(
                "themes quality",
                machine_text(facts),
                f"NMI {r['nmi']:.3f}, purity {r['purity']:.3f}, {r['themes']} themes found, "
                f"{r['seconds']:.1f} s",
                f"TF-IDF alone {b['tfidf_seconds']:.1f} s; k-means told k={b['kmeans_known_k']}: "
                f"NMI {b['kmeans_nmi']:.3f}, purity {b['kmeans_purity']:.3f}, "
                f"{b['kmeans_seconds']:.1f} s",
                f"{size:,} generated entries, 12 known themes, corpus seed {args.seed}; "
                f"peak RSS {r['peak_rss_mb']:.0f} MB",
            )
    path = write_result("themes", {"machine": facts, "runs": results}, args.out_dir)
    console.print(f"wrote {path}")


if __name__ == "__main__":
    main()

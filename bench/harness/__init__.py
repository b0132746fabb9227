"""What the benchmarks share, one concern a module.

- `cli`: the common arguments, the console and progress bars, SIGTERM;
- `servers`: where Kafka (or Tansu) and PostgreSQL come from;
- `stories`: generated organisations and stories that auto-approval publishes;
- `platform`: fresh databases and topics, the four services as OS processes;
- `usage`: CPU seconds and memory per process, cProfile summaries;
- `load`: submitting stories and waiting until each is searchable and emailed;
- `stats`: percentiles and how latencies are printed;
- `record`: machine facts, the JSON result in bench/out/, the row in bench/results.md.

Starting a service process, fresh databases and topics, and the SMTP sink are the
test harness's own (`tests.processes`, `tests.infra`): benchmarks and tests share one
implementation. The benchmarks run as files (`python bench/pipeline_bench.py`), so
bench/ is on the path but the repository root is not: it is added here, once.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(1, str(ROOT))  # after bench/ itself, before site-packages

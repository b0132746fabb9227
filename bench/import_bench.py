"""`candour import feedback` at volume: rows of a CSV to stories queued in moderation.

Generates N Friends-and-Family-style entries (short comments on a trust's service,
some with "about you" answers) in the CSV `candour import feedback` reads, starts a
platform of its own (fresh databases and prefixed topics on the shared servers, the
four services on free ports, moderation without auto-approval so the stories wait
in its queue, as imported feedback does), runs the import as an operator does and
times: the import command (rows committed in intake), and rows -> stories queued in
moderation. CPU seconds per process: the import command, each service, the
PostgreSQL backends of intake's and moderation's databases.

The raw baseline of the same run: the same rows COPYed into a plain table.

    .venv/bin/python bench/import_bench.py --rows 100000
    .venv/bin/python bench/import_bench.py --rows 2000 --no-record      # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import random
import resource
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
from harness.cli import common_arguments, console, exit_cleanly_on_sigterm, parse_service_env
from harness.platform import Platform
from harness.record import append_row, machine_facts, machine_text, stamp, write_result
from harness.servers import infrastructure
from harness.stories import Organisation, organisations
from harness.usage import DatabaseBackendsCpu, process_table

from tests.infra import create_fresh_database, drop_databases, smtp_server

CANDOUR = str(Path(sys.executable).parent / "candour")
COLUMNS = (
    "external_id",
    "organisation_id",
    "service_id",
    "title",
    "body",
    "relationship",
    "experienced_at",
    "age_band",
    "sex",
)
GOOD = (
    "The staff on the ward were kind and explained everything clearly",
    "I was seen quickly and the nurse took time to listen to my worries",
    "Reception were friendly and the waiting room was clean",
    "The doctor answered all my questions and I felt involved in decisions",
    "Physiotherapy got me walking again sooner than I expected",
)
BETTER = (
    "the wait for a follow-up letter was far too long",
    "parking was difficult and expensive",
    "nobody told us when the clinic was running late",
    "the food on the ward was cold by the time it arrived",
    "I had to repeat my history to three different people",
)
AGE_BANDS = ("16_24", "25_34", "35_44", "45_54", "55_64", "65_74", "75_84", "85_plus", "")
SEXES = ("female", "male", "prefer_not_to_say", "")


def feedback_csv(
    rows: int, orgs: list[Organisation], seed: int
) -> tuple[str, list[tuple[Any, ...]]]:
    """(the CSV text, the same rows as tuples for the COPY baseline)."""
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    tuples = []
    for i in range(rows):
        org = orgs[i % len(orgs)]
        service_id = org.services[rng.randrange(len(org.services))][0]
        good, better = rng.choice(GOOD), rng.choice(BETTER)
        day = rng.choice(("Monday", "Friday", "weekend"))
        body = f"{good}. What could be better: {better}. Visit {i} on a {day}."
        answered = rng.random() < 0.4
        row = (
            f"fft-{seed}-{i}",
            org.id,
            service_id,
            f"Friends and Family Test comment {i}",
            body,
            rng.choice(("patient", "carer", "relative")),
            f"2026-{rng.randint(1, 11):02d}",
            rng.choice(AGE_BANDS) if answered else "",
            rng.choice(SEXES) if answered else "",
        )
        writer.writerow(row)
        tuples.append(row)
    return out.getvalue(), tuples


async def copy_baseline(server: str, tuples: list[tuple[Any, ...]]) -> dict[str, float]:
    """The same rows COPYed into a plain table of a fresh database."""
    name, url = await create_fresh_database(server, "bench_import_raw")
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "CREATE TABLE raw_feedback (" + ", ".join(f"{c} text" for c in COLUMNS) + ")"
        )
        started = time.perf_counter()
        await conn.copy_records_to_table("raw_feedback", records=tuples, columns=COLUMNS)
        elapsed = time.perf_counter() - started
    finally:
        await conn.close()
        await drop_databases(server, [name])
    return {"seconds": elapsed, "rows_per_s": len(tuples) / elapsed}


async def queued(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM queue_items"))
    finally:
        await conn.close()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    orgs = organisations(args.organisations)
    text, tuples = feedback_csv(args.rows, orgs, args.seed)
    work_dir = args.out_dir / f"import-{stamp()}"
    work_dir.mkdir(parents=True, exist_ok=True)
    csv_path = work_dir / "feedback.csv"
    csv_path.write_text(text, encoding="utf-8")
    console.print(f"{args.rows:,} rows, {len(text) / 2**20:.1f} MB of CSV in {csv_path}")
    service_env = parse_service_env(args.service_env)
    service_env.setdefault("moderation", {}).setdefault("CANDOUR_AUTO_APPROVE", "false")

    async with infrastructure(args) as infra:
        facts = machine_facts(infra)
        baseline = await copy_baseline(infra.postgres_url, tuples)
        console.print(f"raw baseline: COPY {baseline['rows_per_s']:,.0f} rows/s")
        with smtp_server() as sink:
            platform = Platform(
                infra, orgs, sink.port, work_dir, service_env=service_env, subscribe_staff=False
            )
            try:
                await platform.start()
                console.print(f"services up; logs in {work_dir}")
                intake_db = platform.databases["story-intake"]
                moderation_db = platform.databases["moderation"]
                platform.mark_cpu()
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                async with (
                    DatabaseBackendsCpu(infra.postgres_url, intake_db.rsplit("/", 1)[1]) as pg_in,
                    DatabaseBackendsCpu(
                        infra.postgres_url, moderation_db.rsplit("/", 1)[1]
                    ) as pg_mod,
                ):
                    started = time.monotonic()
                    command = await asyncio.create_subprocess_exec(
                        CANDOUR,
                        "import",
                        "feedback",
                        str(csv_path),
                        "--source",
                        "nhs_website",
                        "--database-url",
                        intake_db,
                        "--no-progress",
                        stdout=asyncio.subprocess.PIPE,
                        stderr=asyncio.subprocess.STDOUT,
                    )
                    output, _ = await command.communicate()
                    imported_at = time.monotonic() - started
                    after = resource.getrusage(resource.RUSAGE_CHILDREN)
                    cli_cpu = (after.ru_utime - before.ru_utime) + (
                        after.ru_stime - before.ru_stime
                    )
                    console.print(output.decode(errors="replace").strip()[-500:])
                    console.print(
                        f"import command: {imported_at:.1f} s "
                        f"({args.rows / imported_at:,.0f} rows/s)"
                    )
                    if command.returncode != 0:
                        raise RuntimeError(f"candour import feedback exited {command.returncode}")
                    count, last_change, last_count = 0, time.monotonic(), -1
                    while count < args.rows:
                        count = await queued(moderation_db)
                        if count != last_count:
                            last_change, last_count = time.monotonic(), count
                        if time.monotonic() - last_change > args.stall_timeout:
                            break
                        await asyncio.sleep(0.5)
                    queued_at = time.monotonic() - started
                processes = platform.process_report()
                processes["candour import feedback"] = {
                    "cpu_seconds": round(cli_cpu, 2),
                    "peak_rss_mb": float("nan"),
                    "idle_rss_mb": float("nan"),
                }
                processes["PostgreSQL backends, intake db"] = {
                    "cpu_seconds": round(pg_in.total, 2),
                    "peak_rss_mb": float("nan"),
                    "idle_rss_mb": float("nan"),
                }
                processes["PostgreSQL backends, moderation db"] = {
                    "cpu_seconds": round(pg_mod.total, 2),
                    "peak_rss_mb": float("nan"),
                    "idle_rss_mb": float("nan"),
                }
            finally:
                await platform.stop()
    return {
        "benchmark": "import feedback",
        "machine": facts,
        "rows": args.rows,
        "queued": count,
        "complete": count >= args.rows,
        "import_command_s": imported_at,
        "queued_s": queued_at,
        "rows_per_s_imported": args.rows / imported_at,
        "rows_per_s_queued": count / queued_at,
        "baseline": baseline,
        "processes": processes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common_arguments(parser)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--organisations", type=int, default=20)
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args()
    exit_cleanly_on_sigterm()
    result = asyncio.run(run(args))
    console.print(process_table(result["processes"]))
    per_row = {
        name: 1000 * r["cpu_seconds"] / max(result["queued"], 1)
        for name, r in result["processes"].items()
        if r["cpu_seconds"] > 0
    }
    summary = (
        f"{result['rows_per_s_queued']:,.0f} rows/s to queued ({result['queued']:,} of "
        f"{result['rows']:,} in {result['queued_s']:.1f} s); import command "
        f"{result['rows_per_s_imported']:,.0f} rows/s ({result['import_command_s']:.1f} s)"
    )
    console.print(summary)
    console.print("CPU ms per row: " + ", ".join(f"{k} {v:.2f}" for k, v in per_row.items()))
    path = write_result("import", result, args.out_dir)
    console.print(f"written {path}")
    if not args.no_record:
        append_row(
            "import feedback",
            machine_text(result["machine"]),
            summary,
            f"COPY of the same rows {result['baseline']['rows_per_s']:,.0f} rows/s; ratio "
            f"{result['rows_per_s_queued'] / result['baseline']['rows_per_s']:.4f}",
            f"{result['machine'].get('broker')}; PostgreSQL {result['machine'].get('postgresql')}; "
            "CPU ms/row "
            + ", ".join(f"{k} {v:.2f}" for k, v in per_row.items())
            + f"; load average at start {result['machine']['load_average_at_start'][0]:.1f}; "
            + path.name,
        )


if __name__ == "__main__":
    main()

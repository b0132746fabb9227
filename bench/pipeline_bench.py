"""End-to-end pipeline throughput: submit over HTTP until searchable and emailed.

    .venv/bin/python bench/pipeline_bench.py [--stories 10000] [--clients 32]
        [--organisations 20] [--broker kafka|tansu] [--profile] [--no-record]

Starts the four services as separate processes on fresh databases and a fresh
topic prefix (auto-approval on, submission rate limit out of the way, one
immediate staff subscription per organisation), and a local SMTP server in
this process. `--clients` concurrent HTTP clients submit generated stories
(200-1,000 words, spread over the organisations) as fast as story-intake
accepts them; the run ends when every story is searchable and every email has
arrived. Prints stories/s end to end, p50/p95/p99 latency from submit to
searchable and to email, CPU seconds and peak RSS per process, and the raw
baseline (baseline.py) measured in the same run with the same N and size.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import time
from typing import Any

import baseline as raw
import httpx
from harness.cli import (
    common_arguments,
    console,
    exit_cleanly_on_sigterm,
    parse_service_env,
    progress,
)
from harness.load import Tracker, finish_run, http_client, sample_over_http, submit
from harness.platform import Platform
from harness.record import append_row, machine_facts, machine_text, stamp, write_result
from harness.servers import infrastructure
from harness.smtp_sink import Sink, mail_server, smtp_argument
from harness.stats import latency_text
from harness.stories import StoryFactory, check_auto_approvable, organisations, run_marker
from harness.usage import print_profiles, process_table


async def run(args: argparse.Namespace) -> dict[str, Any]:
    orgs = organisations(args.organisations)
    marker = run_marker()
    factory = StoryFactory(orgs, marker, seed=args.seed)
    stories = [factory.story() for _ in range(args.stories)]
    check_auto_approvable(stories[:5])
    bodies = [json.dumps(s).encode() for s in stories]
    words = [len(s["body"].split()) for s in stories]
    mean_size = int(sum(map(len, bodies)) / len(bodies))
    work_dir = args.out_dir / f"pipeline-{stamp()}"

    async with infrastructure(args) as infra:
        facts = machine_facts(infra)
        console.print(f"broker: {infra.broker_description}; PostgreSQL {infra.postgres_version}")
        console.print(f"baseline: {args.stories} messages/rows of {mean_size} B ...")
        baseline = await raw.measure(infra, args.stories, mean_size)
        console.print(raw.text(baseline))
        with mail_server(args.smtp) as sink:
            platform = Platform(
                infra,
                orgs,
                sink.port,
                work_dir,
                service_env=parse_service_env(args.service_env),
                profile=args.profile,
            )
            try:
                await platform.start()
                console.print(f"services up; logs in {work_dir}")
                run = await _load(args, platform, sink, bodies)
                processes = platform.process_report()
                async with httpx.AsyncClient(timeout=30) as http:
                    found = await http.get(
                        f"{platform.url('search')}/v1/search", params={"q": marker, "limit": 1}
                    )
                    run["search_total_for_marker"] = found.json().get("total")
            finally:
                codes = await platform.stop()
            profiles = print_profiles(platform.services) if args.profile else {}

    elapsed = run["all_done_at"] - run["first_sent_at"]
    per_s = run["accepted"] / elapsed if run["complete"] and elapsed > 0 else math.nan
    result = {
        "benchmark": "pipeline",
        "machine": facts,
        "args": {k: str(v) for k, v in vars(args).items()},
        "stories": args.stories,
        "organisations": args.organisations,
        "words": {"min": min(words), "max": max(words), "mean": sum(words) / len(words)},
        "mean_request_bytes": mean_size,
        "stories_per_s": per_s,
        "accept_per_s": run["accepted"] / (run["last_accepted_at"] - run["first_sent_at"]),
        "elapsed_s": elapsed,
        "run": run,
        "processes": processes,
        "exit_codes": codes,
        "baseline": baseline,
        "ratio": {
            "to_kafka_round_trip": per_s / baseline["kafka"]["round_trip_per_s"],
            "to_postgres_insert": per_s / baseline["postgres"]["single_per_s"],
            "to_kafka_plus_insert": per_s / baseline["combined_per_s"],
        },
        "profile_dir": str(work_dir) if args.profile else None,
        "profiles_top": profiles,
    }
    return result


async def _load(
    args: argparse.Namespace, platform: Platform, sink: Sink, bodies: list[bytes]
) -> dict[str, Any]:
    tracker = Tracker()
    queue: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue()
    for item in enumerate(bodies):
        queue.put_nowait(item)
    sample_every = max(1, len(bodies) // args.http_sample) if args.http_sample else 0
    async with contextlib.AsyncExitStack() as stack:
        http = await stack.enter_async_context(http_client(args.clients + 8))

        async def client() -> None:
            while not queue.empty():
                index, body = queue.get_nowait()
                story_id = await submit(http, platform.url("story-intake"), body, tracker)
                if story_id and sample_every and index % sample_every == 0:
                    sample_over_http(
                        http, platform.url("search"), story_id, tracker, args.http_poll_interval
                    )

        with progress() as bars:
            submitted = bars.add_task("submitted", total=len(bodies))
            platform.mark_cpu()
            sending = asyncio.gather(*(client() for _ in range(args.clients)))
            run = await finish_run(
                platform,
                sink,
                len(bodies),
                tracker,
                deadline=time.time() + args.timeout,
                bars=bars,
                submitted_task=submitted,
                sending=sending,
                stall_timeout=args.stall_timeout,
            )
    return run


def report(result: dict[str, Any]) -> None:
    run, lat = result["run"], result["run"]["latency_s"]
    c = console
    c.print(
        f"\n[bold]Pipeline[/]: {result['stories']} stories over "
        f"{result['organisations']} organisations, "
        f"{result['words']['min']}-{result['words']['max']} words, {result['machine']['broker']}"
    )
    if not run["complete"]:
        c.print(
            f"[red]INCOMPLETE[/]: accepted {run['accepted']}, searchable {run['searchable']}, "
            f"emailed {run['emailed']}, failed {run['failed']} {run['failures_sample']}"
        )
    c.print(
        f"  end to end          {result['stories_per_s']:.1f} stories/s "
        f"({result['elapsed_s']:.1f} s); intake accepted {result['accept_per_s']:.1f}/s"
    )
    c.print(f"  submit -> accepted   {latency_text(lat['submit_to_accepted'])}")
    c.print(
        f"  submit -> searchable {latency_text(lat['submit_to_searchable'])} "
        "(index commit, all stories)"
    )
    c.print(
        f"  submit -> searchable {latency_text(lat['submit_to_searchable_http_sample'])} "
        "(GET /v1/stories over HTTP, "
        f"{lat['submit_to_searchable_http_sample'].get('n', 0)} sampled)"
    )
    c.print(f"  submit -> email      {latency_text(lat['submit_to_email'])}")
    c.print(f"  search for the run's marker word finds {run.get('search_total_for_marker')}")
    c.print(process_table(result["processes"]))
    c.print(f"  raw baseline: {raw.text(result['baseline'])}")
    r = result["ratio"]
    c.print(
        f"  pipeline / baseline: {r['to_kafka_round_trip']:.3f} of Kafka round trip, "
        f"{r['to_postgres_insert']:.3f} of PG insert, "
        f"{r['to_kafka_plus_insert']:.3f} of Kafka+insert"
    )


def record(result: dict[str, Any], path: Any) -> None:
    lat = result["run"]["latency_s"]
    procs = result["processes"]
    rss = ", ".join(
        f"{n.split('-')[-1][:6]} {p['peak_rss_mb']:.0f}"
        for n, p in procs.items()
        if "bench" not in n and not math.isnan(p["peak_rss_mb"])
    )
    append_row(
        "pipeline end to end",
        machine_text(result["machine"]),
        f"{result['stories_per_s']:.1f} stories/s; "
        f"searchable {latency_text(lat['submit_to_searchable'])}; "
        f"email {latency_text(lat['submit_to_email'])}",
        f"Kafka {result['baseline']['kafka']['round_trip_per_s']:.0f} msg/s, PG "
        f"{result['baseline']['postgres']['single_per_s']:.0f} rows/s; ratio "
        f"{result['ratio']['to_kafka_plus_insert']:.3f} of Kafka+insert",
        f"{result['stories']} stories, {result['args']['clients']} clients; "
        f"{result['machine']['broker']}; "
        f"peak RSS MB {rss}; {'complete' if result['run']['complete'] else 'INCOMPLETE'}"
        f"{'; under cProfile' if result['args']['profile'] == 'True' else ''}; {path.name}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=32, help="concurrent HTTP clients")
    parser.add_argument("--organisations", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--http-sample",
        type=int,
        default=20,
        help="stories also watched over HTTP (GET /v1/stories/{id}); 0: none",
    )
    parser.add_argument(
        "--http-poll-interval",
        type=float,
        default=0.25,
        help="s between polls; under a closed loop latencies are seconds, so poll gently",
    )
    parser.add_argument("--timeout", type=float, default=1800, help="give up after this many s")
    smtp_argument(parser)
    common_arguments(parser)
    args = parser.parse_args()
    exit_cleanly_on_sigterm()
    result = asyncio.run(run(args))
    report(result)
    path = write_result("pipeline", result, args.out_dir)
    console.print(f"result: {path}")
    if not args.no_record:
        record(result, path)
    raise SystemExit(0 if result["run"]["complete"] else 1)


if __name__ == "__main__":
    main()

"""Latency at a fixed rate: open-loop submissions, submit -> searchable.

    .venv/bin/python bench/latency_bench.py [--rate 50] [--duration 60]
        [--broker kafka|tansu] [--no-record]

Sends stories at a fixed rate whatever the platform does (open loop: a slow
answer does not delay the next send), and measures each latency from the
story's *scheduled* send time, so a stall is charged to every story it
delays (no coordinated omission). Then waits until every story is searchable
and emailed and prints p50/p95/p99 submit -> searchable (from search's index
commit for every story, and over HTTP for a sample) and submit -> email.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from typing import Any

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
from harness.stats import latency_text, ms, summary
from harness.stories import StoryFactory, check_auto_approvable, organisations, run_marker
from harness.usage import print_profiles, process_table


async def run(args: argparse.Namespace) -> dict[str, Any]:
    total = int(args.rate * args.duration)
    orgs = organisations(args.organisations)
    marker = run_marker()
    factory = StoryFactory(orgs, marker, seed=args.seed)
    stories = [factory.story() for _ in range(total)]
    check_auto_approvable(stories[:5])
    bodies = [json.dumps(s).encode() for s in stories]
    work_dir = args.out_dir / f"latency-{stamp()}"
    async with infrastructure(args) as infra:
        facts = machine_facts(infra)
        console.print(f"broker: {infra.broker_description}; PostgreSQL {infra.postgres_version}")
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
                console.print(f"services up; {total} stories at {args.rate}/s; logs in {work_dir}")
                run, lag = await _load(args, platform, sink, bodies)
                processes = platform.process_report()
            finally:
                codes = await platform.stop()
            if args.profile:
                print_profiles(platform.services)
    return {
        "benchmark": "latency",
        "machine": facts,
        "args": {k: str(v) for k, v in vars(args).items()},
        "rate_per_s": args.rate,
        "duration_s": args.duration,
        "stories": total,
        "scheduler_lag_s": lag,
        "run": run,
        "processes": processes,
        "exit_codes": codes,
    }


async def _load(
    args: argparse.Namespace, platform: Platform, sink: Sink, bodies: list[bytes]
) -> tuple[dict[str, Any], dict[str, float | int]]:
    tracker = Tracker()
    lags: list[float] = []
    sample_every = max(1, len(bodies) // args.http_sample) if args.http_sample else 0
    async with contextlib.AsyncExitStack() as stack:
        # An open loop: as many connections as requests in flight (up to 512).
        http = await stack.enter_async_context(http_client(512))
        in_flight: set[asyncio.Task[None]] = set()

        async def send(index: int, scheduled: float) -> None:
            lags.append(time.time() - scheduled)
            story_id = await submit(
                http,
                platform.url("story-intake"),
                bodies[index],
                tracker,
                sent_at=scheduled,
            )
            if story_id and sample_every and index % sample_every == 0:
                sample_over_http(
                    http, platform.url("search"), story_id, tracker, args.http_poll_interval
                )

        async def schedule() -> None:
            start = time.time() + 0.2
            for index in range(len(bodies)):
                scheduled = start + index / args.rate
                delay = scheduled - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                task = asyncio.create_task(send(index, scheduled))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            while in_flight:
                await asyncio.gather(*list(in_flight))

        with progress() as bars:
            submitted = bars.add_task("submitted", total=len(bodies))
            platform.mark_cpu()
            sending = asyncio.ensure_future(schedule())
            run = await finish_run(
                platform,
                sink,
                len(bodies),
                tracker,
                deadline=time.time() + args.duration + args.timeout,
                bars=bars,
                submitted_task=submitted,
                sending=sending,
                stall_timeout=args.stall_timeout,
            )
    return run, summary(lags)


def report(result: dict[str, Any]) -> None:
    run, lat = result["run"], result["run"]["latency_s"]
    c = console
    c.print(
        f"\n[bold]Latency at {result['rate_per_s']} stories/s for {result['duration_s']} s[/] "
        f"({result['stories']} stories, open loop, from the scheduled send time; "
        f"{result['machine']['broker']})"
    )
    if not run["complete"]:
        c.print(
            f"[red]INCOMPLETE[/]: accepted {run['accepted']}, searchable {run['searchable']}, "
            f"emailed {run['emailed']}, failed {run['failed']} {run['failures_sample']}"
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
    for hop, stats in run.get("hops_s", {}).items():
        c.print(f"    {hop:<46} {latency_text(stats)}")
    c.print(
        f"  load generator lag   p99 {ms(result['scheduler_lag_s'].get('p99'))}, "
        f"max {ms(result['scheduler_lag_s'].get('max'))}"
    )
    c.print(process_table(result["processes"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0, help="stories per second")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of sending")
    parser.add_argument("--organisations", type=int, default=20)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--http-sample", type=int, default=100)
    parser.add_argument("--http-poll-interval", type=float, default=0.05)
    parser.add_argument("--timeout", type=float, default=600, help="s to wait after sending")
    smtp_argument(parser)
    common_arguments(parser)
    args = parser.parse_args()
    exit_cleanly_on_sigterm()
    result = asyncio.run(run(args))
    report(result)
    path = write_result("latency", result, args.out_dir)
    console.print(f"result: {path}")
    if not args.no_record:
        lat = result["run"]["latency_s"]
        append_row(
            f"latency at {args.rate:g}/s",
            machine_text(result["machine"]),
            f"searchable {latency_text(lat['submit_to_searchable'])}; "
            f"email {latency_text(lat['submit_to_email'])}",
            "n/a (see pipeline row)",
            f"{result['stories']} stories over {args.duration:g} s, open loop; "
            f"{result['machine']['broker']}; "
            f"{'complete' if result['run']['complete'] else 'INCOMPLETE'}; "
            f"{path.name}",
        )
    raise SystemExit(0 if result["run"]["complete"] else 1)


if __name__ == "__main__":
    main()

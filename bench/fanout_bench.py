"""Fan-out: one story that 1,000 staff subscriptions match -> emails/s.

    .venv/bin/python bench/fanout_bench.py [--subscribers 1000]
        [--smtp go-smtp|aiosmtpd] [--broker kafka|tansu]
        [--service-env notifications:NAME=VALUE] [--no-record]

Subscribes `--subscribers` distinct addresses (immediate, new stories) to one
organisation, submits one story about it (auto-approved) and counts the emails
a local SMTP server receives: emails/s from the first email to the last, the
time from submission to the last email, and a check that every recipient got
exactly one (after a settling wait, so a late duplicate is caught too).

The SMTP server (`--smtp`): by default the Go sink of `bench/smtp_sink` in a process
of its own (`harness.smtp_sink`, built on first use), which records each message's
envelope and Message-ID; `aiosmtpd` is the tests' sink, served from a thread of this
process, which caps both Candour and the baseline near 200 emails/s (kept to compare).

The raw baseline of the same run: as many emails of the same size sent straight to
the same SMTP server with aiosmtplib over `--raw-sessions` sessions (what the server
and the client library can do without Candour: no database, no Kafka).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from typing import Any

import aiosmtplib
import httpx
from harness.cli import (
    common_arguments,
    console,
    exit_cleanly_on_sigterm,
    parse_service_env,
    progress,
)
from harness.platform import Platform
from harness.record import append_row, machine_facts, machine_text, stamp, write_result
from harness.servers import infrastructure
from harness.smtp_sink import Received, Sink, SinkMail, mail_server, smtp_argument
from harness.stats import ms
from harness.stories import StoryFactory, check_auto_approvable, organisations, run_marker
from harness.usage import print_profiles, process_table

from tests.infra import ReceivedMail


def size_of(mail: Received) -> int:
    if isinstance(mail, ReceivedMail):
        return len(mail.content)
    assert isinstance(mail, SinkMail)
    return mail.size


def message_id_of(mail: Received) -> str | None:
    if isinstance(mail, ReceivedMail):
        return str(mail.message.get("Message-ID", "")) or None
    assert isinstance(mail, SinkMail)
    return mail.message_id or None


async def run(args: argparse.Namespace) -> dict[str, Any]:
    orgs = organisations(1)
    org = orgs[0]
    story = StoryFactory(orgs, run_marker(), seed=args.seed).story(org)
    check_auto_approvable([story])
    recipients = [f"subscriber{i:05d}@fanout.example" for i in range(args.subscribers)]
    work_dir = args.out_dir / f"fanout-{stamp()}"
    async with infrastructure(args) as infra:
        facts = machine_facts(infra)
        console.print(f"broker: {infra.broker_description}; PostgreSQL {infra.postgres_version}")
        with mail_server(args.smtp) as sink:
            platform = Platform(
                infra,
                orgs,
                sink.port,
                work_dir,
                subscribe_staff=False,
                service_env=parse_service_env(args.service_env),
                profile=args.profile,
            )
            try:
                await platform.start()
                async with httpx.AsyncClient(timeout=60) as http:
                    with progress() as bars:
                        subscribing = bars.add_task("subscribing", total=len(recipients))
                        pending = iter(recipients)

                        async def subscriber() -> None:
                            for email in pending:
                                await platform.subscribe(http, email, org.id)
                                bars.advance(subscribing)

                        await asyncio.gather(*(subscriber() for _ in range(8)))
                    platform.mark_cpu()
                    submitted_at = time.time()
                    response = await http.post(
                        f"{platform.url('story-intake')}/v1/stories", json=story
                    )
                    response.raise_for_status()
                    story_id = str(response.json()["story_id"])
                    complete = await _wait(args, sink, story_id, len(recipients))
                    await asyncio.sleep(args.settle)  # a late duplicate would arrive now
                processes = platform.process_report()
            finally:
                codes = await platform.stop()
            if args.profile:
                print_profiles(platform.services)
            sample = next((m for m in sink.snapshot() if m.story_id == story_id), None)
            size = size_of(sample) if sample is not None else 4000
            raw = await raw_smtp_baseline(sink.port, len(recipients), args.raw_sessions, size)
    mails = [m for m in sink.snapshot() if m.story_id == story_id]
    per_recipient = Counter(r for m in mails for r in m.envelope_to)
    missing = [r for r in recipients if per_recipient[r] == 0]
    duplicated = {r: n for r, n in per_recipient.items() if n > 1}
    strangers = [r for r in per_recipient if r not in set(recipients)]
    # A resend after a crash carries the delivery's Message-ID again: count those too.
    per_message_id = Counter(message_id_of(m) for m in mails)
    repeated_ids = sum(1 for mid, n in per_message_id.items() if mid is not None and n > 1)
    times = sorted(m.received_at for m in mails)
    spread = times[-1] - times[0] if len(times) > 1 else float("nan")
    return {
        "benchmark": "fanout",
        "machine": facts,
        "args": {k: str(v) for k, v in vars(args).items()},
        "subscribers": len(recipients),
        "emails": len(mails),
        "complete": complete,
        "smtp_server": args.smtp,
        "exactly_once": not missing and not duplicated and not strangers and not repeated_ids,
        "missing": len(missing),
        "duplicated": len(duplicated),
        "unexpected_recipients": len(strangers),
        "repeated_message_ids": repeated_ids,
        "submit_to_first_email_s": times[0] - submitted_at if times else None,
        "submit_to_last_email_s": times[-1] - submitted_at if times else None,
        "emails_per_s": (len(times) - 1) / spread if len(times) > 1 and spread > 0 else None,
        "emails_per_s_from_submit": len(times) / (times[-1] - submitted_at) if times else None,
        "arrival_offsets_s": [t - submitted_at for t in times],
        "processes": processes,
        "exit_codes": codes,
        "raw_smtp_emails_per_s": raw,
        "raw_sessions": args.raw_sessions,
    }


async def raw_smtp_baseline(port: int, count: int, sessions: int, size: int) -> float:
    """Emails/s of `count` messages of `size` bytes sent straight to the SMTP server on
    `port` over `sessions` kept sessions (one message in flight on each)."""
    body = (b"x" * 76 + b"\r\n") * max((size - 200) // 78, 1)  # SMTP lines stay short
    queue = list(range(count))

    async def lane() -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=30)
        await client.connect()
        try:
            while queue:
                i = queue.pop()
                message = (
                    (
                        f"From: bench@candour.invalid\r\nTo: raw{i}@baseline.example\r\n"
                        f"Subject: raw baseline {i}\r\nMessage-ID: <raw{i}@candour.invalid>\r\n\r\n"
                    ).encode()
                    + body
                    + b"\r\n"
                )
                recipient = f"raw{i}@baseline.example"
                await client.sendmail("bench@candour.invalid", [recipient], message)
        finally:
            await client.quit()

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(sessions)))
    return count / (time.perf_counter() - started)


async def _wait(args: argparse.Namespace, sink: Sink, story_id: str, expected: int) -> bool:
    last, last_change = -1, time.time()
    with progress() as bars:
        task = bars.add_task("emailed", total=expected)
        while True:
            recipients = {
                r for m in sink.snapshot() if m.story_id == story_id for r in m.envelope_to
            }
            bars.update(task, completed=len(recipients))
            if len(recipients) >= expected:
                return True
            now = time.time()
            if len(recipients) != last:
                last, last_change = len(recipients), now
            if now - last_change > args.stall_timeout:
                console.print(f"[red]gave up[/]: no email for {args.stall_timeout:.0f} s")
                return False
            await asyncio.sleep(0.25)


def report(result: dict[str, Any]) -> None:
    c = console
    rate = result["emails_per_s"]
    c.print(
        f"\n[bold]Fan-out[/]: one story, {result['subscribers']} subscribers; "
        f"{result['machine']['broker']}; SMTP server {result['smtp_server']}"
    )
    c.print(f"  emails received      {result['emails']}")
    c.print(
        f"  emails/s             {rate:.1f} (first to last email)" if rate else "  emails/s n/a"
    )
    raw = result["raw_smtp_emails_per_s"]
    share = f"; {rate / raw:.2f} of raw" if rate else ""
    c.print(
        f"  raw SMTP baseline    {raw:.1f} emails/s "
        f"({result['raw_sessions']} sessions, same server, same run{share})"
    )
    c.print(f"  submit -> first      {ms(result['submit_to_first_email_s'])}")
    c.print(f"  submit -> last       {ms(result['submit_to_last_email_s'])}")
    verdict = "[green]yes[/]" if result["exactly_once"] else "[red]NO[/]"
    c.print(
        f"  exactly one each     {verdict} (missing {result['missing']}, duplicated "
        f"{result['duplicated']}, unexpected {result['unexpected_recipients']}, "
        f"repeated Message-IDs {result['repeated_message_ids']})"
    )
    c.print(process_table(result["processes"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--settle", type=float, default=5.0, help="s to wait for late duplicates")
    parser.add_argument(
        "--raw-sessions", type=int, default=4, help="SMTP sessions of the raw baseline"
    )
    smtp_argument(parser)
    common_arguments(parser)
    args = parser.parse_args()
    exit_cleanly_on_sigterm()
    result = asyncio.run(run(args))
    report(result)
    path = write_result("fanout", result, args.out_dir)
    console.print(f"result: {path}")
    if not args.no_record:
        rate = result["emails_per_s"]
        append_row(
            "fan-out",
            machine_text(result["machine"]),
            f"{rate:.1f} emails/s; "
            f"last email {ms(result['submit_to_last_email_s'])} after submit; "
            f"exactly once: {'yes' if result['exactly_once'] else 'NO'}"
            if rate
            else "no emails",
            f"raw SMTP {result['raw_smtp_emails_per_s']:.1f} emails/s "
            f"({result['raw_sessions']} sessions)",
            f"1 story, {result['subscribers']} subscribers; {result['machine']['broker']}; "
            f"SMTP {result['smtp_server']}; "
            f"notifications settings {result['args']['service_env']}; {path.name}",
        )
    raise SystemExit(0 if result["complete"] and result["exactly_once"] else 1)


if __name__ == "__main__":
    main()

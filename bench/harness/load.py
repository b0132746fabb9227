"""The load: submitting stories over HTTP, watching them become searchable and emailed,
and the latencies of each.

Every time is wall-clock (`time.time()`), because "searchable" is read from the
search service's own database (`search_stories.indexed_at`, the `now()` of the
indexing transaction) and an email's arrival from the SMTP sink, on the same machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import asyncpg
from rich.progress import Progress

from harness.cli import console
from harness.platform import Platform
from harness.smtp_sink import Sink
from harness.stats import summary


@dataclass
class Tracker:
    """What happened to each story this run submitted."""

    sent_at: dict[str, float] = field(default_factory=dict)  # story id -> send (or scheduled) time
    accepted_at: dict[str, float] = field(default_factory=dict)  # story id -> 201 received
    http_seen_at: dict[str, float] = field(default_factory=dict)  # sampled: GET /v1/stories 200
    failures: list[str] = field(default_factory=list)
    sample_tasks: set[asyncio.Task[None]] = field(default_factory=set)


def http_client(connections: int) -> aiohttp.ClientSession:
    """The load generator's HTTP client: aiohttp, whose C parser costs a fraction of
    httpx's CPU per request (on 2 cores the load generator's CPU is the platform's loss)."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections),
        timeout=aiohttp.ClientTimeout(total=120),
    )


async def submit(
    http: aiohttp.ClientSession,
    intake_url: str,
    body: bytes,
    tracker: Tracker,
    *,
    sent_at: float | None = None,
) -> str | None:
    """POST one story; `sent_at` is the scheduled time in an open-loop run."""
    started = time.time()
    try:
        async with http.post(
            f"{intake_url}/v1/stories", data=body, headers={"Content-Type": "application/json"}
        ) as response:
            if response.status != 201:
                tracker.failures.append(f"{response.status}: {(await response.text())[:200]}")
                return None
            story_id = str((await response.json())["story_id"])
    except (aiohttp.ClientError, TimeoutError) as exc:
        tracker.failures.append(f"{type(exc).__name__}: {exc}")
        return None
    tracker.sent_at[story_id] = sent_at if sent_at is not None else started
    tracker.accepted_at[story_id] = time.time()
    return story_id


def sample_over_http(
    http: aiohttp.ClientSession, search_url: str, story_id: str, tracker: Tracker, interval: float
) -> None:
    """Watch one story over the public API: when does GET /v1/stories/{id} first answer 200?"""

    async def watch() -> None:
        while True:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.get(f"{search_url}/v1/stories/{story_id}") as response:
                    if response.status == 200:
                        tracker.http_seen_at[story_id] = time.time()
                        return
            await asyncio.sleep(interval)

    task = asyncio.create_task(watch())
    tracker.sample_tasks.add(task)
    task.add_done_callback(tracker.sample_tasks.discard)


async def finish_run(
    platform: Platform,
    sink: Sink,
    count: int,
    tracker: Tracker,
    *,
    deadline: float,
    bars: Progress,
    submitted_task: Any,
    sending: asyncio.Future[Any],
    stall_timeout: float,
) -> dict[str, Any]:
    """Wait for the run to complete (or give up), stop the senders, collect the results."""
    complete = await wait_until_done(
        platform,
        sink,
        count,
        tracker,
        deadline=deadline,
        bars=bars,
        submitted_task=submitted_task,
        sending=sending,
        stall_timeout=stall_timeout,
    )
    if not complete:
        sending.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sending
    for task in list(tracker.sample_tasks):
        task.cancel()
    run = await collect(platform, sink, tracker)
    run["complete"] = complete and run["accepted"] == count
    return run


async def wait_until_done(
    platform: Platform,
    sink: Sink,
    expected: int | None,
    tracker: Tracker,
    *,
    deadline: float,
    bars: Progress,
    submitted_task: Any = None,
    sending: asyncio.Future[Any] | None = None,
    stall_timeout: float = 120.0,
) -> bool:
    """Until every accepted story is indexed and emailed (or the deadline); shows progress.

    Counts come from one cheap SQL count on search's database and the SMTP sink,
    once a second, so watching costs the platform almost nothing.
    """
    total = expected or 1
    last_progress: tuple[int, int, int] = (-1, -1, -1)
    last_progress_at = time.time()
    indexed_task = bars.add_task("searchable", total=total)
    emailed_task = bars.add_task("emailed", total=total)
    conn = await asyncpg.connect(platform.databases["search"])
    try:
        while True:
            sending_done = sending is None or sending.done()
            target = expected if expected is not None else len(tracker.sent_at)
            indexed = await platform.indexed_count(conn)
            emailed = len({m.story_id for m in sink.snapshot() if m.story_id in tracker.sent_at})
            if submitted_task is not None:
                bars.update(submitted_task, completed=len(tracker.sent_at) + len(tracker.failures))
            bars.update(indexed_task, completed=indexed, total=max(target, 1))
            bars.update(emailed_task, completed=emailed, total=max(target, 1))
            if sending_done and indexed >= len(tracker.sent_at) and emailed >= len(tracker.sent_at):
                return True
            now = time.time()
            progress_now = (len(tracker.sent_at), indexed, emailed)
            if progress_now != last_progress:
                last_progress, last_progress_at = progress_now, now
            for service in platform.services.values():
                if service.process is not None and service.process.poll() is not None:
                    console.print(f"[red]{service.name} exited[/]; log: {service.log_path}")
                    return False
            if now > deadline or now - last_progress_at > stall_timeout:
                console.print(
                    f"[red]gave up[/]: no progress for {now - last_progress_at:.0f} s "
                    f"(logs in {platform.work_dir})"
                )
                return False
            await asyncio.sleep(0.5 if sending_done else 1.0)
    finally:
        await conn.close()


async def collect(platform: Platform, sink: Sink, tracker: Tracker) -> dict[str, Any]:
    """Latencies from send (or scheduled send) to searchable and to the email's arrival."""
    indexed = await platform.indexed_at(tracker.sent_at)
    first_mail: dict[str, float] = {}
    for mail in sink.snapshot():
        if mail.story_id in tracker.sent_at:
            first_mail[mail.story_id] = min(
                mail.received_at, first_mail.get(mail.story_id, math.inf)
            )
    searchable = [indexed[i] - tracker.sent_at[i] for i in indexed]
    emailed = [first_mail[i] - tracker.sent_at[i] for i in first_mail]
    accepted = [tracker.accepted_at[i] - tracker.sent_at[i] for i in tracker.accepted_at]
    http_seen = [tracker.http_seen_at[i] - tracker.sent_at[i] for i in tracker.http_seen_at]
    hop_times = await platform.hop_times(tracker.sent_at)
    hops: dict[str, dict[str, float | int]] = {}
    previous = "sent"
    stage_times: dict[str, dict[str, float]] = {"sent": tracker.sent_at, **hop_times}
    for stage in hop_times:
        before, after = stage_times[previous], stage_times[stage]
        hops[f"{previous} -> {stage}"] = summary(after[i] - before[i] for i in after if i in before)
        previous = stage
    done_times = [*indexed.values(), *first_mail.values()]
    return {
        "accepted": len(tracker.sent_at),
        "failed": len(tracker.failures),
        "failures_sample": tracker.failures[:5],
        "searchable": len(indexed),
        "emailed": len(first_mail),
        "first_sent_at": min(tracker.sent_at.values(), default=math.nan),
        "last_accepted_at": max(tracker.accepted_at.values(), default=math.nan),
        "last_indexed_at": max(indexed.values(), default=math.nan),
        "last_emailed_at": max(first_mail.values(), default=math.nan),
        "all_done_at": max(done_times, default=math.nan),
        "latency_s": {
            "submit_to_accepted": summary(accepted),
            "submit_to_searchable": summary(searchable),
            "submit_to_email": summary(emailed),
            "submit_to_searchable_http_sample": summary(http_seen),
        },
        # Where the time goes, hop by hop (each from the stage before it).
        "hops_s": hops,
        "samples_s": {
            "submit_to_searchable": sorted(searchable),
            "submit_to_email": sorted(emailed),
        },
        # Per story, in send order: seconds since the first send, then the latencies to
        # searchable and to email (null if it never arrived) and to intake's 201: shows
        # when during the run the slow ones were sent, and whether intake was slow too.
        "timeline": [
            [
                round(sent - first, 4),
                round(indexed[i] - sent, 4) if i in indexed else None,
                round(first_mail[i] - sent, 4) if i in first_mail else None,
                round(tracker.accepted_at[i] - sent, 4),
            ]
            for i, sent in sorted(tracker.sent_at.items(), key=lambda item: item[1])
            for first in (min(tracker.sent_at.values()),)
        ],
    }

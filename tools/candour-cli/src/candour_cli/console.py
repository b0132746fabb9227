"""What `candour dev` prints: child logs prefixed and coloured by service, and the
table of URLs once everything answers."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import TextIO

# ANSI foreground colours, one per process, in start order.
_COLOURS = {
    "candour": "1",
    "postgres": "34",
    "kafka": "35",
    "story-intake": "32",
    "moderation": "33",
    "notifications": "36",
    "search": "95",
}
PREFIX_WIDTH = 13


def use_colour(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return stream.isatty()


def prefixed(name: str, line: str, *, colour: bool) -> str:
    label = f"{name:<{PREFIX_WIDTH}}|"
    if colour:
        label = f"\x1b[{_COLOURS.get(name, '37')}m{label}\x1b[0m"
    return f"{label} {line.rstrip()}"


class Output:
    """One stream of lines from every process; lines never interleave mid-line."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.colour = use_colour(self.stream)

    def line(self, name: str, text: str) -> None:
        self.stream.write(prefixed(name, text, colour=self.colour) + "\n")
        self.stream.flush()

    def say(self, text: str) -> None:
        self.line("candour", text)


@dataclass(frozen=True, slots=True)
class Endpoints:
    host: str
    service_ports: dict[str, int]  # service name -> port
    admin_ports: dict[str, int]  # service name -> admin port (/readyz, /metrics)
    mailbox_port: int | None  # None: mail goes to an external SMTP server
    kafka_bootstrap: str
    database: str  # where the databases live (password redacted)


# The pages people use, in the order of a story's life.
PAGES = (
    ("Share a story", "story-intake", "/share"),
    ("Follow your story", "story-intake", "/follow"),
    ("Moderation console", "moderation", "/console"),
    ("Read and search stories", "search", "/"),
    ("Organisations", "search", "/organisations"),
    ("Staff: respond to stories", "story-intake", "/respond"),
    ("Staff: email alerts", "notifications", "/alerts"),
)
# More stories than a demo needs: say how to start again with a small demo.
MANY_STORIES = 1000


def story_count_line(stories: int) -> str:
    """What `candour dev` says about the stories it holds (and how to start afresh)."""
    line = f"stories: {stories:,} in this dev platform"
    if stories >= MANY_STORIES:
        line += " (more than a demo needs: `candour dev --fresh` starts again with the demo only)"
    return line


def url_rows(endpoints: Endpoints, tokens: dict[str, str]) -> list[tuple[str, str]]:
    """(what, where) rows of the start-up table: the pages people use first, then the rest."""
    rows = [
        (what, f"http://{endpoints.host}:{endpoints.service_ports[service]}{path}")
        for what, service, path in PAGES
        if service in endpoints.service_ports
    ]
    rows += [
        (f"{name} API docs", f"http://{endpoints.host}:{port}/docs")
        for name, port in endpoints.service_ports.items()
    ]
    rows += [
        (f"{name} metrics (admin port)", f"http://{endpoints.host}:{port}/metrics")
        for name, port in endpoints.admin_ports.items()
    ]
    if endpoints.mailbox_port is not None:
        rows.append(("mailbox (caught email)", f"http://{endpoints.host}:{endpoints.mailbox_port}"))
        rows.append(
            (
                "mailbox API (Mailpit v1)",
                f"http://{endpoints.host}:{endpoints.mailbox_port}/api/v1/messages",
            )
        )
    rows.append(("Kafka bootstrap", endpoints.kafka_bootstrap))
    rows.append(("PostgreSQL", endpoints.database))
    rows.extend((f"{who} token", token) for who, token in tokens.items())
    return rows


def render_table(rows: list[tuple[str, str]]) -> list[str]:
    width = max(len(what) for what, _ in rows)
    rule = "-" * (width + 2 + max(min(len(where), 80) for _, where in rows))
    return [rule, *(f"{what:<{width}}  {where}" for what, where in rows), rule]

"""One clear line instead of a traceback when a command cannot reach Kafka."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import typer
from aiokafka.errors import KafkaConnectionError

from candour_common.kafka_connection import KafkaConnection
from candour_common.kafka_probe import check_connection


@contextlib.contextmanager
def kafka_errors_explained(kafka: KafkaConnection) -> Iterator[None]:
    """Exit 1 with why Kafka could not be reached (refused login, untrusted certificate, down).

    aiokafka itself only says "Unable to bootstrap"; a direct connection tells which.
    """
    try:
        yield
    except KafkaConnectionError as exc:
        try:
            asyncio.run(check_connection(kafka))
        except ConnectionError as why:
            reason = str(why)
        else:  # reachable now: report what the command met
            reason = f"Kafka at {kafka.bootstrap}: {exc}"
        typer.echo(f"error: {reason}", err=True)
        raise typer.Exit(1) from exc

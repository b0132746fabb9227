"""Structured logging, configured once at start-up (never at import).

A correlation id bound with `bind_correlation_id` appears on every log line of
the current task, and `current_correlation_id` lets the outbox copy it into the
`ce_correlationid` header, so one id follows a request through every service.
"""

from __future__ import annotations

import logging
import sys
import uuid

import structlog

_CORRELATION_KEY = "correlation_id"


def configure_logging(service: str, *, level: str = "INFO", json: bool | None = None) -> None:
    if json is None:
        json = not sys.stderr.isatty()
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.dict_tracebacks if json else structlog.dev.set_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    # Libraries (uvicorn, aiokafka, faststream) log through stdlib: route them to stderr
    # with the same level so a process has one stream of logs.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter(f"%(asctime)s {service} %(levelname)s %(name)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(logging.getLevelName(level.upper()), logging.INFO))
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def bind_correlation_id(correlation_id: str | None) -> str:
    cid = correlation_id or new_correlation_id()
    structlog.contextvars.bind_contextvars(**{_CORRELATION_KEY: cid})
    return cid


def current_correlation_id() -> str | None:
    value = structlog.contextvars.get_contextvars().get(_CORRELATION_KEY)
    return str(value) if value else None

"""Structured logging, configured once at start-up (never at import).

A correlation id bound with `bind_correlation_id` appears on every log line of
the current task, and `current_correlation_id` lets the outbox copy it into the
`ce_correlationid` header, so one id follows a request through every service.
"""

from __future__ import annotations

import logging
import sys
import time
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
    handler.addFilter(RepeatedLinesFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(logging.getLevelName(level.upper()), logging.INFO))
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)


class RepeatedLinesFilter(logging.Filter):
    """Lets one of each identical line of a chatty library through per `window` seconds.

    While a broker is away, aiokafka logs the same refused connection and failed fetch
    every 100 ms per client (hundreds of lines in one election). The first one shows
    at once; the repeats within the window are counted, and the next one that shows
    says how many were left out.
    """

    def __init__(self, prefixes: tuple[str, ...] = ("aiokafka",), window: float = 10.0) -> None:
        super().__init__()
        self._prefixes = prefixes
        self._window = window
        self._seen: dict[tuple[str, int, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self._prefixes):
            return True
        key = (record.name, record.levelno, record.getMessage())
        now = time.monotonic()
        shown, repeats = self._seen.get(key, (float("-inf"), 0))
        if now - shown < self._window:
            self._seen[key] = (shown, repeats + 1)
            return False
        if len(self._seen) > 1000:  # bounded: forget lines not seen for a window
            self._seen = {k: v for k, v in self._seen.items() if now - v[0] < self._window}
        self._seen[key] = (now, 0)
        if repeats:
            record.msg = (
                f"{record.getMessage()} ({repeats} more like this in the last {self._window:.0f}s)"
            )
            record.args = None
        return True


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def bind_correlation_id(correlation_id: str | None) -> str:
    cid = correlation_id or new_correlation_id()
    structlog.contextvars.bind_contextvars(**{_CORRELATION_KEY: cid})
    return cid


def current_correlation_id() -> str | None:
    value = structlog.contextvars.get_contextvars().get(_CORRELATION_KEY)
    return str(value) if value else None

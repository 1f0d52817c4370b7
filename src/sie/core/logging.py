"""structlog JSON logs: one event name per line, with `event`, `level` and `duration_ms`.

The handbook's `jq` recipes read these lines (e.g. `select(.event == "nlp_processed")`).
Secrets never reach a log line: values of sensitive keys are masked, and connection URLs
lose their passwords, whatever the caller passes.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import structlog

SENSITIVE_KEYS = re.compile(r"(api[_-]?key|secret|password|passwd|token|authorization|dsn|credential)", re.I)
URL_PASSWORD = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<password>[^@/\s]+)@", re.I
)
API_KEY_PATTERN = re.compile(r"sie_[A-Za-z0-9]{8,}_[A-Za-z0-9_-]{16,}")


def redact_text(text: str) -> str:
    """Remove passwords from URLs and anything shaped like an SIE API key."""
    text = URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)
    return API_KEY_PATTERN.sub("sie_***", text)


def _redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event_dict.items()):
        if SENSITIVE_KEYS.search(key) and value is not None:
            event_dict[key] = "***"
        elif isinstance(value, str):
            event_dict[key] = redact_text(value)
    return event_dict


def configure_logging(level: str = "info", *, stream: Any = None) -> None:
    """Route structlog and stdlib logging (uvicorn, celery) through one JSON renderer."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        structlog.processors.format_exc_info,
        _redact,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "multipart"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    _take_over_server_loggers()
    # Python's warnings go through the JSON renderer too, not as plain text on stderr.
    logging.captureWarnings(True)


def _take_over_server_loggers() -> None:
    """Uvicorn's loggers write plain text through handlers of their own (its default `log_config`,
    applied before it imports the app): hand their records to the root's JSON handler instead."""
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # Each request already has its `http_request` line, with route and duration.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)


@contextmanager
def timed() -> Iterator[dict[str, float]]:
    """Measure a block; the yielded dict gains `duration_ms` when the block ends."""
    result: dict[str, float] = {}
    start = time.perf_counter()
    try:
        yield result
    finally:
        result["duration_ms"] = round((time.perf_counter() - start) * 1000, 2)

"""Structured logs that carry correlation and trace ids, never clinical content."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import datetime, timezone

correlation_id_var: ContextVar[str | None] = ContextVar("correlation_id", default=None)

# What a caller may give as ids that end up in every log line and on every event they cause:
# anything else (tens of kilobytes, spaces, control characters) is ignored, not stored.
CORRELATION_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
TRACEPARENT = re.compile(r"[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")  # W3C Trace Context


def usable_correlation_id(value: object) -> str | None:
    """The caller's correlation id if it is 1-128 characters of [A-Za-z0-9._:-], else None."""
    return value if isinstance(value, str) and CORRELATION_ID.fullmatch(value) else None


def usable_traceparent(value: object) -> str | None:
    """A W3C `traceparent` as given if it is well formed (lower-case hex), else None."""
    return value if isinstance(value, str) and TRACEPARENT.fullmatch(value) else None

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def _trace_ids() -> dict[str, str]:
    try:
        from opentelemetry import trace
    except ImportError:  # pragma: no cover - opentelemetry is a dependency
        return {}
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
            **_trace_ids(),
        }
        if correlation_id := correlation_id_var.get():
            entry["correlation_id"] = correlation_id
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(service: str, level: str = "INFO", as_json: bool = True,
                      levels: Mapping[str, str] | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if as_json:
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(logging.Formatter(f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx (still used by the command line and shared/broker_users.py) logs every
    # request's full URL at INFO; a URL may carry a credential in its query. Webhooks go through
    # aiohttp's client, which logs no request (only, at WARNING, proxy and .netrc settings it is
    # never asked to read); the dispatcher logs each attempt itself, by subscription id, and
    # records only the class of an error (aiohttp's messages name the URL).
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
    for name, logger_level in (levels or {}).items():
        logging.getLogger(name).setLevel(logger_level)

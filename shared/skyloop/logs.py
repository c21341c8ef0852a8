"""Structured JSON logs: one object per line, with the event's correlation id.

Powertools Logger does this on Lambda; this is the same shape for everywhere
else, so logs from every runtime can be queried the same way.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from typing import Any

correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id", default=None)

_STD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        cid = correlation_id.get()
        if cid:
            doc["correlation_id"] = cid
        for k, v in vars(record).items():
            if k not in _STD and not k.startswith("_"):
                doc["event_severity" if k == "severity" else k] = v
        doc["severity"] = record.levelname  # the field Cloud Logging grades a structured line by
        if record.exc_info and record.exc_info[0] is not None:
            doc["exception"] = record.exc_info[0].__name__
        return json.dumps(doc, default=str)


def setup(level: str = "WARNING") -> None:
    root = logging.getLogger("skyloop")
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        h = logging.StreamHandler(sys.stderr)
        h.setFormatter(JsonFormatter())
        root.addHandler(h)
    root.setLevel(level.upper())
    root.propagate = False

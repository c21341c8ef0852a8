"""What every cloud's MetricSource shares: per-minute values collected by timestamp become
Skyloop's records, with 5xx responses turned into a rate over the same minute's requests (a
canary at a tenth of the traffic makes a tenth of the errors of production with the same fault
rate, so counts would mislead)."""

from __future__ import annotations

from datetime import datetime
from typing import Mapping

from ..events import MetricRecord

ERRORS, REQUESTS = "errors_5xx", "requests"


def records(by_ts: Mapping[datetime, dict[str, float]], limit: int) -> list[MetricRecord]:
    rows = []
    for when, found in sorted(by_ts.items()):
        values = dict(found)
        errors = values.pop(ERRORS, None)
        if errors is not None or REQUESTS in values:
            requests = values.get(REQUESTS, 0.0)
            values["error_rate"] = (errors or 0.0) / requests if requests > 0 else 0.0
        if values:
            rows.append(MetricRecord(timestamp=when, values=values))
    return rows[-limit:]

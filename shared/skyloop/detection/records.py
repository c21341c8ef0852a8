"""Metric records from CSV or JSON lines, with the csv module: no pandas on this path."""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import datetime, timezone
from typing import Iterable, Iterator

from ..errors import InvalidMetrics
from ..events import MetricBatch, MetricRecord

TIME_COLUMNS = ("timestamp", "time", "ts", "datetime", "date")


def parse_time(value: object, where: str) -> datetime:
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise ValueError
            return datetime.fromtimestamp(float(value), tz=timezone.utc)
        text = str(value).strip()
        if text.replace(".", "", 1).isdigit():
            return datetime.fromtimestamp(float(text), tz=timezone.utc)
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)
    except (ValueError, OverflowError, OSError):
        raise InvalidMetrics(f"{where}: bad timestamp {str(value)[:40]!r}") from None


def _number(value: object, where: str) -> float:
    if value is None or (isinstance(value, str) and value.strip() in ("", "nan", "NaN", "null")):
        return math.nan
    if isinstance(value, bool):
        raise InvalidMetrics(f"{where}: boolean is not a metric value")
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidMetrics(f"{where}: {str(value)[:40]!r} is not a number") from None
    if math.isinf(x):
        raise InvalidMetrics(f"{where}: infinite value")
    return x


def records_from_csv(text: str, time_column: str | None = None) -> list[MetricRecord]:
    try:
        return _records_from_csv(text, time_column)
    except csv.Error as exc:  # stray quotes or a bare carriage return inside a field
        raise InvalidMetrics(f"metrics CSV does not parse: {exc}") from None


def _time_index(header: list[str], time_column: str | None) -> int:
    """The time column is named, never guessed: a first column of metrics read as epoch
    seconds puts every record in 1970 and the incident on the wrong metric."""
    lower = [h.strip().lower() for h in header]
    if time_column is not None:
        if time_column.strip().lower() not in lower:
            raise InvalidMetrics(f"metrics CSV has no column {time_column!r} (the time column asked for)")
        return lower.index(time_column.strip().lower())
    found = next((lower.index(t) for t in TIME_COLUMNS if t in lower), None)
    if found is None:
        raise InvalidMetrics(f"metrics CSV has no time column (one of {', '.join(TIME_COLUMNS)}); "
                             "name yours with --time-column")
    return found


def _records_from_csv(text: str, time_column: str | None) -> list[MetricRecord]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if not header:
        raise InvalidMetrics("metrics CSV is empty")
    tcol = _time_index(header, time_column)
    names = [h.strip() for i, h in enumerate(header) if i != tcol]
    if not names:
        raise InvalidMetrics("metrics CSV has no metric columns")
    out = []
    for n, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise InvalidMetrics(f"line {n}: {len(row)} fields, header has {len(header)}")
        values = {name: _number(v, f"line {n} {name}") for name, v in zip(names, (v for i, v in enumerate(row) if i != tcol))}
        out.append(MetricRecord(timestamp=parse_time(row[tcol], f"line {n}"), values=values))
    if not out:
        raise InvalidMetrics("metrics CSV has no rows")
    return out


def records_from_jsonl(text: str, time_column: str | None = None) -> list[MetricRecord]:
    keys = (time_column,) if time_column else TIME_COLUMNS
    out = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            raise InvalidMetrics(f"line {n}: not valid JSON") from None
        if not isinstance(doc, dict):
            raise InvalidMetrics(f"line {n}: expected an object")
        ts = next((doc[k] for k in keys if k in doc), None)
        if ts is None:
            raise InvalidMetrics(f"line {n}: no timestamp field (one of {', '.join(keys)})")
        raw = doc["values"] if isinstance(doc.get("values"), dict) else {k: v for k, v in doc.items() if k not in keys}
        values = {str(k): _number(v, f"line {n} {k}") for k, v in raw.items()}
        if not values:
            raise InvalidMetrics(f"line {n}: no metric values")
        out.append(MetricRecord(timestamp=parse_time(ts, f"line {n}"), values=values))
    if not out:
        raise InvalidMetrics("no metric records")
    return out


def load_records(path: str, time_column: str | None = None) -> list[MetricRecord]:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except UnicodeDecodeError as exc:
        raise InvalidMetrics(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    if path.endswith((".jsonl", ".ndjson", ".json")):
        return records_from_jsonl(text, time_column)
    return records_from_csv(text, time_column)


def batches(records: Iterable[MetricRecord], size: int, service: str, source: str = "local") -> Iterator[MetricBatch]:
    chunk: list[MetricRecord] = []
    for r in records:
        chunk.append(r)
        if len(chunk) >= size:
            yield MetricBatch(service=service, source=source, records=chunk)
            chunk = []
    if chunk:
        yield MetricBatch(service=service, source=source, records=chunk)

"""Parse and validate one export file: pure Python, no Dagster, no database.

`parse_file` never raises for bad content: every physical record ends either as a typed
row or as a `Reject` with its line number and the reason, so rows_read = kept + rejected.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation, localcontext
from pathlib import Path
from typing import Any, Iterator

from .sources import Field, SourceSpec

EXPORT_DATE_RE = re.compile(r"(\d{4}-\d{2}-\d{2})")
_MISSING = object()


@dataclass
class Reject:
    line_number: int
    reason: str
    payload: str


@dataclass
class ParseResult:
    rows: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    rows_read: int = 0


class FieldError(ValueError):
    pass


def export_date_of(path: Path) -> date | None:
    """The export (partition) date is the YYYY-MM-DD in the file name."""
    match = EXPORT_DATE_RE.search(path.name)
    if not match:
        return None
    try:
        return date.fromisoformat(match.group(1))
    except ValueError:
        return None


def read_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


# ---------------------------------------------------------------- value coercion


def _coerce(f: Field, value: Any, now: datetime, max_future: timedelta) -> Any:
    if f.type == "json":
        if isinstance(value, (dict, list)):
            return json.dumps(value, sort_keys=True, separators=(",", ":"))
        try:
            return json.dumps(json.loads(str(value)), sort_keys=True, separators=(",", ":"))
        except json.JSONDecodeError:
            raise FieldError(f"{f.column}: not valid JSON: {str(value)[:40]!r}") from None
    if f.unit and isinstance(value, str):
        text = value.strip()
        if text.endswith(f.unit):
            value = text[: -len(f.unit)].strip()
    if f.type == "epoch":
        seconds = _number(f, value)
        try:
            ts = datetime.fromtimestamp(float(seconds), tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            raise FieldError(f"{f.column}: {value} is not a valid epoch time") from None
        if ts > now + max_future:
            raise FieldError(f"{f.column}: {ts.isoformat()} is in the future (clock or timezone error)")
        return ts.replace(tzinfo=None)
    if f.type == "str":
        if isinstance(value, (dict, list)):
            raise FieldError(f"{f.column}: expected a string, got {type(value).__name__}")
        return str(value)
    if f.type == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1", "t", "yes"):
            return True
        if text in ("false", "0", "f", "no"):
            return False
        raise FieldError(f"{f.column}: not a boolean: {value!r}")
    if f.type == "timestamp":
        return _timestamp(f, value, now, max_future)
    number = _number(f, value)
    if f.min is not None and number < f.min:
        raise FieldError(f"{f.column}: {number} is below the minimum {f.min:g}")
    if f.max is not None and number > f.max:
        raise FieldError(f"{f.column}: {number} is above the maximum {f.max:g}")
    if f.type == "int":
        if number != number.to_integral_value():
            raise FieldError(f"{f.column}: expected an integer, got {value!r}")
        return int(number)
    if f.type == "float":
        return float(number)
    return _fit_decimal(f, number)


def decimal_precision(f: Field) -> tuple[int, int]:
    """(precision, scale) of a decimal field's column: DECIMAL(20,10) unless the field says."""
    return f.precision or (20, 10)


def _fit_decimal(f: Field, number: Decimal) -> Decimal:
    """The value exactly as the column stores it, or FieldError: never rounded silently."""
    precision, scale = decimal_precision(f)
    with localcontext() as ctx:
        ctx.prec = max(len(number.as_tuple().digits), precision) + 2  # exact: nothing rounds here
        if -number.normalize().as_tuple().exponent > scale:
            raise FieldError(f"{f.column}: {number} has more than {scale} decimals (DECIMAL({precision},{scale}))")
        if number != 0 and number.adjusted() >= precision - scale:
            raise FieldError(f"{f.column}: {number} does not fit DECIMAL({precision},{scale})")
        if number.as_tuple().exponent < -scale:  # trailing zeros beyond the scale: drop them
            number = number.quantize(Decimal(1).scaleb(-scale))
    return number


def _number(f: Field, value: Any) -> Decimal:
    if isinstance(value, bool) or isinstance(value, (dict, list)):
        raise FieldError(f"{f.column}: expected a number, got {json.dumps(value)[:40]}")
    if isinstance(value, float) and not math.isfinite(value):
        raise FieldError(f"{f.column}: {value} is not a finite number")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise FieldError(f"{f.column}: not a number: {str(value)[:40]!r}") from None
    if not number.is_finite():
        raise FieldError(f"{f.column}: {value} is not a finite number")
    return number


def _timestamp(f: Field, value: Any, now: datetime, max_future: timedelta) -> datetime:
    if not isinstance(value, str):
        raise FieldError(f"{f.column}: expected an ISO-8601 timestamp, got {value!r}")
    text = value.strip()
    if len(text) >= 10 and text[4] == "/" and text[7] == "/":
        text = text[:4] + "-" + text[5:7] + "-" + text[8:]  # nvidia-smi writes 2026/10/15 09:00:00.000
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        raise FieldError(f"{f.column}: not an ISO-8601 timestamp: {value[:40]!r}") from None
    # Exports without an offset are UTC by convention of every source we read.
    ts = ts.replace(tzinfo=timezone.utc) if ts.tzinfo is None else ts.astimezone(timezone.utc)
    if ts > now + max_future and not f.future_ok:
        raise FieldError(f"{f.column}: {value} is in the future (clock or timezone error)")
    return ts.replace(tzinfo=None)


def _lookup(record: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = record
    for part in path:
        if node is None:
            return None  # an absent parent (e.g. gpu_usage: null) makes the leaf absent
        if not isinstance(node, dict):
            return _MISSING
        node = node.get(part, None)
    return node


def validate_record(
    spec: SourceSpec, record: Any, now: datetime, max_future: timedelta
) -> tuple[dict[str, Any] | None, str | None]:
    """Return (typed row, None) or (None, reason)."""
    if not isinstance(record, dict):
        return None, f"expected a JSON object, got {type(record).__name__}"
    row: dict[str, Any] = {}
    errors: list[str] = []
    for f in spec.fields:
        value = record.get(".".join(f.path)) if spec.format == "csv" else _lookup(record, f.path)
        if value is _MISSING:
            errors.append(f"{f.column}: parent of {'.'.join(f.path)} is not an object")
            continue
        if isinstance(value, str) and value.strip() in spec.null_tokens:
            value = None
        if value is None or (isinstance(value, str) and value.strip() == ""):
            if f.required:
                errors.append(f"{f.column}: required field {'.'.join(f.path)} is missing")
            row[f.column] = None
            continue
        try:
            row[f.column] = _coerce(f, value, now, max_future)
        except FieldError as exc:
            errors.append(str(exc))
            continue
        if f.choices and row[f.column] not in f.choices:
            errors.append(f"{f.column}: {row[f.column]!r} is not one of {', '.join(f.choices)}")
    if errors:
        return None, "; ".join(errors)
    failed = [message for check, message in spec.row_checks if not check(row)]
    if failed:
        return None, "; ".join(failed)
    if spec.derive is not None:
        try:
            row.update(spec.derive(record, row))
        except ValueError as exc:
            return None, str(exc)
    return row, None


def redact(value: Any, private_keys: tuple[str, ...]) -> Any:
    """The record with every private key's value replaced, at any depth."""
    if not private_keys:
        return value
    if isinstance(value, dict):
        return {k: "[redacted]" if k in private_keys else redact(v, private_keys) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, private_keys) for v in value]
    return value


# ---------------------------------------------------------------- file readers


def _jsonl_records(data: bytes, private_keys: tuple[str, ...] = ()) -> Iterator[tuple[int, str, Any, str | None]]:
    """Yield (line_number, payload, record, error) for each non-blank physical line."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for number, raw in enumerate(data.split(b"\n"), start=1):
        raw = raw.rstrip(b"\r")
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield number, raw.decode("utf-8", "replace"), None, f"invalid UTF-8 at byte {exc.start}"
            continue
        try:
            record = json.loads(text, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            # unparseable text cannot be redacted key by key: keep only its length
            payload = text if not private_keys else f"[unparseable line of {len(text)} characters withheld]"
            yield number, payload, None, f"invalid JSON: {exc.msg} at column {exc.colno}"
            continue
        if private_keys:
            text = json.dumps(redact(record, private_keys), default=str)
        yield number, text, record, None


def _json_documents(data: bytes, private_keys: tuple[str, ...] = ()) -> Iterator[tuple[int, str, Any, str | None]]:
    """A file holding one JSON document, or JSON Lines of documents (a paged API dump)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        try:
            yield 1, text, json.loads(text, parse_float=Decimal), None
            return
        except json.JSONDecodeError:
            pass  # not one document: read it as one document per line
    yield from _jsonl_records(data, private_keys)


def _json_records(data: bytes, spec: SourceSpec) -> Iterator[tuple[int, str, Any, str | None]]:
    """Flatten each document into its records; the locator goes in front of the payload."""
    for number, payload, document, error in _json_documents(data, spec.private_keys):
        if error is not None:
            yield number, payload, None, error
            continue
        try:
            records = list(spec.extract(document))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            shown = json.dumps(redact(document, spec.private_keys), default=str)[:2000]
            yield number, shown, None, f"document does not have the {spec.name} shape: {exc!r}"
            continue
        for locator, record in records:
            text = json.dumps(redact(record, spec.private_keys), default=str)
            yield number, f"{locator} {text}", record, None


def _csv_records(data: bytes, spec: SourceSpec) -> Iterator[tuple[int, str, Any, str | None]]:
    text = data.decode("utf-8-sig", errors="surrogateescape")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return  # empty file: nothing read
    header = [h.strip() for h in header]
    expected = {f.path[0] for f in spec.fields if f.required}
    missing = sorted(expected - set(header))
    line = reader.line_num
    for values in reader:
        number = line + 1
        line = reader.line_num
        payload = ",".join(values)
        if not any(v.strip() for v in values):
            continue
        if any("\udc80" <= ch <= "\udcff" for v in values for ch in v):
            safe = payload.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            yield number, safe, None, "invalid UTF-8 bytes in row"
            continue
        if missing:
            yield number, payload, None, f"header lacks required column(s): {', '.join(missing)}"
            continue
        if len(values) != len(header):
            yield number, payload, None, f"expected {len(header)} fields, got {len(values)}"
            continue
        yield number, payload, dict(zip(header, (v.strip() for v in values))), None


def parse_bytes(
    spec: SourceSpec,
    data: bytes,
    now: datetime | None = None,
    max_future: timedelta = timedelta(hours=24),
) -> ParseResult:
    now = now or datetime.now(timezone.utc)
    result = ParseResult()
    seen_keys: dict[Any, int] = {}
    readers = {"jsonl": lambda d: _jsonl_records(d, spec.private_keys), "csv": lambda d: _csv_records(d, spec), "json": lambda d: _json_records(d, spec)}
    key_columns = (spec.key,) if isinstance(spec.key, str) else (spec.key or ())
    for number, payload, record, error in readers[spec.format](data):
        result.rows_read += 1
        if error is None:
            row, error = validate_record(spec, record, now, max_future)
        if error is None and key_columns:
            key = tuple(row[c] for c in key_columns)
            if key in seen_keys:
                shown = key[0] if len(key) == 1 else key
                error = f"duplicate {'/'.join(key_columns)} {shown!r} (first seen on line {seen_keys[key]})"
            else:
                seen_keys[key] = number
        if error is not None:
            locator = payload.split(" ", 1)[0] if spec.format == "json" and record is not None else None
            result.rejects.append(Reject(number, f"at {locator}: {error}" if locator else error, payload))
            continue
        row["_line_number"] = number
        row["_record_locator"] = payload.split(" ", 1)[0] if spec.format == "json" else None
        result.rows.append(row)
    return result


def parse_file(spec: SourceSpec, path: Path, now: datetime | None = None,
               max_future: timedelta = timedelta(hours=24)) -> ParseResult:
    return parse_bytes(spec, read_bytes(path), now=now, max_future=max_future)

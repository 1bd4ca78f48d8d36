"""Parse and validate one export file: pure Python, no Dagster, no database.

`parse_file` never raises for bad content: every physical record ends either as a typed
row or as a `Reject` with its line number and the reason, so rows_read = kept + rejected.
"""

from __future__ import annotations

import csv
import difflib
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
_BOM = b"\xef\xbb\xbf"
INT64 = (-(2**63), 2**63 - 1)  # what a BIGINT column holds
# An unknown CSV column this similar to a missing expected one is taken as a provider's
# rename (schema drift): the rows are quarantined rather than loaded with that column null.
DRIFT_SIMILARITY = 0.8
PAYLOAD_LIMIT = 2000  # characters of an unparseable document kept in its reject


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
            return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
        try:
            return json.dumps(json.loads(str(value)), sort_keys=True, separators=(",", ":"))
        except (json.JSONDecodeError, RecursionError):
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
        text = str(value)
        if not _is_valid_unicode(text):
            raise FieldError(f"{f.column}: not valid Unicode (a lone surrogate such as \\udc80)")
        return text
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
        if not INT64[0] <= number <= INT64[1]:
            raise FieldError(f"{f.column}: {number} does not fit a 64-bit integer")
        return int(number)
    if f.type == "float":
        as_float = float(number)
        if not math.isfinite(as_float):
            raise FieldError(f"{f.column}: {number} is out of the range of a double")
        return as_float
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
        raise FieldError(f"{f.column}: expected a number, got {json.dumps(value, default=str)[:40]}")
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
    try:
        ts = ts.replace(tzinfo=timezone.utc) if ts.tzinfo is None else ts.astimezone(timezone.utc)
    except OverflowError:  # e.g. 9999-12-31T23:00-05:00 is past year 9999 in UTC
        raise FieldError(f"{f.column}: {value[:40]!r} is out of range once converted to UTC") from None
    if ts > now + max_future and not f.future_ok:
        raise FieldError(f"{f.column}: {value} is in the future (clock or timezone error)")
    return ts.replace(tzinfo=None)


def _is_valid_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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
        except (ValueError, TypeError, ArithmeticError, KeyError, AttributeError) as exc:
            # any record the derivation cannot handle is that record's reject, not a crash
            return None, str(exc) if isinstance(exc, ValueError) else f"cannot derive {', '.join(spec.columns[len(spec.fields):])}: {exc!r}"
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


def _project(record: Any, paths: tuple[tuple[str, ...], ...]) -> Any:
    """Only the parts of `record` at `paths` (a whitelist), in the record's nesting."""
    if not isinstance(record, dict):
        return f"[{type(record).__name__} withheld]"
    out: dict[str, Any] = {}
    for path in paths:
        node: Any = record
        for part in path:
            if not isinstance(node, dict) or part not in node:
                break
            node = node[part]
        else:
            target = out
            for part in path[:-1]:
                target = target.setdefault(part, {})
                if not isinstance(target, dict):
                    break
            else:
                target[path[-1]] = node
    return out


def record_payload(spec: SourceSpec, record: Any) -> str:
    """What a reject keeps of a record. For a source that may carry prompt or response text
    (private_keys), only the values the spec reads (a whitelist), private keys redacted:
    content can hide under keys nobody listed (metadata, error text)."""
    if spec.private_keys:
        record = redact(_project(record, spec.payload_paths), spec.private_keys)
    return json.dumps(record, default=str)


def _withheld(text: str) -> str:
    return f"[unparseable text of {len(text)} characters withheld: it may hold prompt text]"


def _loads(text: str) -> Any:
    """json.loads with exact decimals; a nesting too deep for Python is a decode error."""
    try:
        return json.loads(text, parse_float=Decimal)
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", text, 0) from None


# ---------------------------------------------------------------- file readers


def _jsonl_records(data: bytes, private_keys: tuple[str, ...] = ()) -> Iterator[tuple[int, str, Any, str | None]]:
    """Yield (line_number, payload, record, error) for each non-blank physical line.

    Lines end at \\n (a \\r before it is dropped); a lone \\r does not end a line."""
    if data.startswith(_BOM):
        data = data[3:]
    for number, raw in enumerate(data.split(b"\n"), start=1):
        raw = raw.rstrip(b"\r")
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            shown = raw.decode("utf-8", "replace")
            yield number, _withheld(shown) if private_keys else shown, None, f"invalid UTF-8 at byte {exc.start}"
            continue
        try:
            record = _loads(text)
        except json.JSONDecodeError as exc:
            # unparseable text cannot be redacted key by key: keep only its length
            payload = text if not private_keys else _withheld(text)
            yield number, payload, None, f"invalid JSON: {exc.msg} at column {exc.colno}"
            continue
        yield number, text, record, None


def _is_json_lines(data: bytes) -> bool:
    """True when some line, starting at its first column, is a whole JSON object or array
    on its own: JSON Lines. A pretty-printed document has no such line ({ and } stand alone,
    inner lines are indented), so a broken one is one broken document, not N broken lines."""
    for raw in data.split(b"\n"):
        raw = raw.rstrip(b"\r")
        if raw[:1] in (b"{", b"[") and len(raw) > 1:
            try:
                if isinstance(_loads(raw.decode("utf-8")), (dict, list)):
                    return True
            except (UnicodeDecodeError, json.JSONDecodeError):
                continue
    return False


def _json_documents(data: bytes, private_keys: tuple[str, ...] = ()) -> Iterator[tuple[int, str, Any, str | None]]:
    """A file holding one JSON document, or JSON Lines of documents (a paged API dump).

    A single document that does not parse (truncated, corrupt, invalid UTF-8) is one
    reject for the whole file, with the position of the first error: its records cannot
    be told apart, and a partial page is not trusted."""
    if data.startswith(_BOM):
        data = data[3:]
    if not data.strip():
        return  # empty file: nothing read
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        text, error = None, f"invalid UTF-8 at byte {exc.start} (line {line})"
    else:
        try:
            yield 1, text, _loads(text), None
            return
        except json.JSONDecodeError as exc:
            error = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    if _is_json_lines(data):
        yield from _jsonl_records(data, private_keys)
        return
    shown = text if text is not None else data.decode("utf-8", "replace")
    payload = _withheld(shown) if private_keys else shown[:PAYLOAD_LIMIT]
    yield 1, payload, None, f"invalid JSON document (truncated or corrupt file): {error}"


def _json_records(data: bytes, spec: SourceSpec) -> Iterator[tuple[int, str, Any, str | None]]:
    """Flatten each document into its records; the locator goes in front of the payload."""
    for number, payload, document, error in _json_documents(data, spec.private_keys):
        if error is not None:
            yield number, payload, None, error
            continue
        try:
            records = list(spec.extract(document))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            if spec.private_keys:
                shown = f"[document of {len(payload)} characters withheld: it may hold prompt text]"
            else:
                shown = json.dumps(document, default=str)[:PAYLOAD_LIMIT]
            yield number, shown, None, f"document does not have the {spec.name} shape: {exc!r}"
            continue
        for locator, record in records:
            yield number, f"{locator} {record_payload(spec, record)}", record, None


def _canonical(name: str) -> str:
    return name.strip().casefold()


def _stem(name: str) -> str:
    return re.sub(r"\s*\[[^\]]*\]$", "", _canonical(name))  # "power.draw [W]" -> "power.draw"


def _renamed(expected: str, found: str) -> bool:
    """Whether an unknown column looks like a rename of an expected one: nearly the same
    name (cpu_request_cores -> cpu_requests_cores) or the same name extended
    (power.draw [W] -> power.draw.average [W])."""
    a, b = _canonical(expected), _canonical(found)
    if difflib.SequenceMatcher(None, a, b).ratio() >= DRIFT_SIMILARITY:
        return True
    return len(_stem(expected)) >= 4 and _stem(found).startswith(_stem(expected))


def csv_header_map(spec: SourceSpec, header: list[str]) -> tuple[list[str], str | None]:
    """The header with each column renamed to the name the spec knows it by (matched
    ignoring case and surrounding spaces), and the reason every row must be rejected, if
    any: a required column missing, or an expected column missing while a look-alike
    unknown column is present (a provider renamed it: schema drift)."""
    expected = {".".join(f.path) for f in spec.fields}  # a CSV header is the whole dotted path
    by_canonical = {_canonical(name): name for name in expected}
    mapped = [by_canonical.get(_canonical(h), h.strip()) for h in header]
    if any(not _is_valid_unicode(h) for h in mapped):
        return mapped, "invalid UTF-8 bytes in the header"
    present = set(mapped)
    unknown = [h for h in mapped if h not in expected]
    problems = []
    missing_required = sorted({".".join(f.path) for f in spec.fields if f.required} - present)
    if missing_required:
        problems.append(f"header lacks required column(s): {', '.join(missing_required)}")
    for name in sorted(expected - present):
        found = next((u for u in unknown if _renamed(name, u)), None)
        if found is not None:
            problems.append(f"schema drift: column {name!r} is missing but {found!r} is present (renamed by the provider?)")
    return mapped, "; ".join(problems) or None


def _csv_records(data: bytes, spec: SourceSpec) -> Iterator[tuple[int, str, Any, str | None]]:
    text = data.decode("utf-8-sig", errors="surrogateescape")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return  # empty file: nothing read
    except csv.Error as exc:
        header, header_error = [], f"unreadable CSV header: {exc}"
    else:
        header, header_error = csv_header_map(spec, header)
    line = reader.line_num
    while True:
        number = line + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a field over the csv module's size limit
            line = reader.line_num
            yield number, f"[unreadable CSV record on lines {number}..{line}]", None, f"unreadable CSV record: {exc}"
            continue
        line = reader.line_num
        payload = ",".join(values)
        if not any(v.strip() for v in values):
            continue
        if not _is_valid_unicode(payload):
            safe = payload.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            yield number, safe, None, "invalid UTF-8 bytes in row"
            continue
        if header_error:
            yield number, payload, None, header_error
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

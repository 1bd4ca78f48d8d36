"""read_frame (DuckDB -> pandas through Arrow, or in chunks) gives the same frame as DuckDB's own `.df()`, over
several chunks whose columns differ in what they hold (NULLs only in the last chunk, so a
chunk alone would convert to another dtype), and for an empty result."""

import duckdb
import pandas as pd

from orchestration.defs.resources import read_frame

ROWS = 450_000  # a chunk is 100 vectors of 2,048 rows: three chunks

SQL = f"""
select
    range as n,
    case when range < {ROWS - 10} then range::integer end as late_nulls,
    case when range % 3 = 0 then 'agent-' || (range % 97)::varchar end as label,
    (range / 7)::decimal(18, 6) as money,
    timestamp '2026-11-01' + to_seconds(range) as ts,
    range % 2 = 0 as flag
from range({ROWS})
order by n
"""


def test_read_frame_equals_duckdb_df_over_several_chunks():
    with duckdb.connect() as conn:
        expected = conn.execute(SQL).df()
        got = read_frame(conn, SQL)
    assert len(got) == ROWS
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert got["late_nulls"].isna().sum() == 10


def test_read_frame_of_an_empty_result_keeps_columns_and_dtypes():
    with duckdb.connect() as conn:
        sql = SQL.replace(f"from range({ROWS})", "from range(0)")
        expected = conn.execute(sql).df()
        got = read_frame(conn, sql)
    assert len(got) == 0 and list(got.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)


# Every DuckDB type, with and without NULLs: read_frame must give what .df() gives whether it
# takes the Arrow path (the common types) or the chunked one (the rest).
TYPES = {
    "i8": "(range % 100)::tinyint", "i16": "(range % 1000)::smallint", "i32": "range::integer",
    "i64": "range::bigint * 1000003", "u8": "(range % 200)::utinyint", "u16": "(range % 60000)::usmallint",
    "u32": "range::uinteger", "u64": "range::ubigint",
    # BIGINT beyond 2**53 with NULLs: a trip through float64 would round it
    "i64_null": "case when range % 5 = 0 then null else 9007199254740993 + range end",
    "i32_null": "case when range % 5 = 0 then null else range::integer end",
    "u8_null": "case when range % 5 = 0 then null else (range % 200)::utinyint end",
    "f32": "(range / 7)::float", "f64": "range / 7", "f64_null": "case when range % 5 = 0 then null else range / 7 end",
    "flag": "range % 2 = 0", "flag_null": "case when range % 5 = 0 then null else range % 2 = 0 end",
    "text": "'agent-' || range", "text_null": "case when range % 5 = 0 then null else 'x' || range end",
    "text_all_null": "null::varchar", "unicode": "'naïve ✓ ' || range",
    "ts": "timestamp '2026-01-01' + to_seconds(range)",
    "ts_null": "case when range % 5 = 0 then null else timestamp '2026-01-01' + to_seconds(range) end",
    "tstz": "timestamptz '2026-01-01 00:00:00+00' + to_seconds(range)",
    "day": "date '2026-01-01' + (range % 300)::integer",
    "day_null": "case when range % 5 = 0 then null else date '2026-01-01' + (range % 300)::integer end",
    "money": "((range * 7919) % 10000000 / 7 - 500000)::decimal(18, 6)",
    "money_null": "case when range % 5 = 0 then null else (range / 3)::decimal(18, 9) end",
    # a wide DECIMAL of ~1e12: a plain cast to DOUBLE differs from .df() in the last bit here
    "money_wide": "(range * 1234567.891)::decimal(38, 10)", "cents": "(range / 7)::decimal(9, 2)",
    "money_wide_neg": "(-(range % 1000) / 1e3)::decimal(24, 12)",
    "whole_wide": "(range::hugeint * 1000000007 * 1000000007 * 1000000007)::decimal(38, 0)",
    '"odd name"': "range % 3",  # a column name that needs quoting in the cast projection
}
FALLBACK = {"huge": "range::hugeint", "span": "to_seconds(range)", "ids": "[range, 1]"}


def _typed_sql(rows: int, extra: dict) -> str:
    cols = {**TYPES, **extra}
    return f"select {', '.join(f'{v} as {k}' for k, v in cols.items())} from range({rows}) order by i32 desc"


def test_read_frame_equals_duckdb_df_for_every_type():
    with duckdb.connect() as conn:
        for zone, rows in (("UTC", ROWS), ("America/New_York", 3), ("UTC", 0)):  # several chunks (and threads), a few rows, none
            conn.execute(f"set TimeZone = '{zone}'")
            sql = _typed_sql(rows, {})
            expected = conn.execute(sql).df()
            got = read_frame(conn, sql)
            pd.testing.assert_frame_equal(got, expected, check_exact=True)
        # by hand: the order the query asked for, and a BIGINT past 2**53 kept exact
        assert got.empty
        got = read_frame(conn, _typed_sql(10, {}))
        assert got["i32"].tolist() == list(range(9, -1, -1))
        assert str(got["i64_null"].dtype) == "Int64" and got["i64_null"].iloc[0] == 9007199254740993 + 9
        assert got["i64_null"].isna().tolist() == [False] * 4 + [True] + [False] * 4 + [True]
        assert str(got["day"].dtype).startswith("datetime64") and got["text_all_null"].tolist() == [None] * 10


def test_read_frame_equals_duckdb_df_for_types_it_reads_in_chunks():
    with duckdb.connect() as conn:
        for rows in (ROWS, 0):
            sql = _typed_sql(rows, FALLBACK)
            pd.testing.assert_frame_equal(read_frame(conn, sql), conn.execute(sql).df(), check_exact=True)

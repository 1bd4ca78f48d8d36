"""read_frame (chunked DuckDB -> pandas) gives the same frame as DuckDB's own `.df()`, over
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

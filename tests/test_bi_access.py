"""BI tools (Superset, Metabase via SQLAlchemy) reach the published warehouse through
`duckdb-engine`: both spellings of a read-only SQLAlchemy connection work, read the same
numbers as DuckDB itself, and cannot write."""

from pathlib import Path

import duckdb
import pandas as pd
import pytest
import sqlalchemy as sa


@pytest.fixture(scope="module")
def published(sample_warehouse) -> str:
    path = sample_warehouse["PUBLISHED_DUCKDB_PATH"]
    assert Path(path).exists(), "warehouse build did not publish the read-only copy"
    return path


def _direct(path: str, sql: str):
    with duckdb.connect(path, read_only=True) as conn:
        return conn.execute(sql).fetchall()


@pytest.mark.parametrize("how", ["url", "connect_args"])
def test_sqlalchemy_reads_the_published_file_read_only(published, how):
    if how == "url":
        engine = sa.create_engine(f"duckdb:///{published}?access_mode=read_only")
    else:
        engine = sa.create_engine(f"duckdb:///{published}", connect_args={"read_only": True})
    try:
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names(schema="marts"))
            assert {"dim_agents", "mart_chargeback_monthly", "mart_daily_usage"} <= tables
            by_department = pd.read_sql(sa.text(
                "select department, sum(amount_usd) as usd from marts.mart_chargeback_monthly group by 1 order by 1"), conn, coerce_float=False)
            with pytest.raises(sa.exc.DBAPIError, match="read-only"):
                conn.execute(sa.text("create table marts.bi_scratch as select 1 as x"))
    finally:
        engine.dispose()
    expected = _direct(published, "select department, sum(amount_usd) from marts.mart_chargeback_monthly group by 1 order by 1")
    assert list(by_department.itertuples(index=False, name=None)) == expected
    assert _direct(published, "select count(*) from information_schema.tables where table_name = 'bi_scratch'") == [(0,)]

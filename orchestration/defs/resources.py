import sys
from functools import cached_property
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource
from dagster_duckdb import DuckDBResource

from orchestration.project import dbt_project
from orchestration.settings import (
    DBT_EXECUTABLE,
    DUCKDB_MEMORY_LIMIT,
    DUCKDB_PATH,
    DUCKDB_STORAGE_VERSION,
    DUCKDB_TEMP_DIRECTORY,
)


class WarehouseDbtCliResource(DbtCliResource):
    """DbtCliResource without two set-up costs paid before every `dbt build` (~6 s of the
    warehouse_dbt step, measured on the sample data; the same at every size):

    - it runs `dbt --version` in a subprocess (~2.3 s: a cold dbt start) to tell dbt Core
      from the Fusion engine. When the executable is the dbt installed beside this
      interpreter, the dbt-core package's version is the same answer.
    - it builds an in-process dbt adapter (~3.6 s: loads the profile, the project and
      every macro) that only `fetch_row_counts()` / `fetch_column_metadata()` use; this
      project calls neither (row counts come from DuckDB in the steps that write), and
      dagster-dbt runs without one for Fusion.

    Both are private hooks of dagster-dbt (pinned, see pyproject.toml). Tests: the version
    is what `dbt --version` prints (test_definitions.py), and a build through this
    resource reports every model, seed and data test of the manifest (test_end_to_end.py)."""

    @cached_property
    def _cli_version(self):
        from importlib.metadata import version as installed_version

        from packaging import version

        if Path(self.dbt_executable) == Path(sys.executable).parent / "dbt":
            return version.parse(installed_version("dbt-core"))
        return DbtCliResource._cli_version.func(self)  # another dbt: ask it

    def _initialize_dbt_core_adapter(self, args):
        return None


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            # Connections are opened per step and closed straight after: DuckDB allows one
            # writer per file, and dbt needs the file as soon as ingest is done.
            "duckdb": DuckDBResource(
                database=str(DUCKDB_PATH),
                connection_config={
                    "storage_compatibility_version": DUCKDB_STORAGE_VERSION,
                    "memory_limit": DUCKDB_MEMORY_LIMIT,
                    "temp_directory": str(DUCKDB_TEMP_DIRECTORY),
                },
            ),
            "dbt": WarehouseDbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE),
        }
    )


# DuckDB types whose Arrow form converts to the same pandas column as DuckDB's own `.df()`
# (checked type by type in tests/test_read_frame.py); DATE and DECIMAL do after a cast in
# DuckDB (see _as_df_gives).
_ARROW_SAME = {"BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER",
               "UBIGINT", "FLOAT", "DOUBLE", "VARCHAR", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE"}
_NULLABLE = {"BOOLEAN": "boolean", "TINYINT": "Int8", "SMALLINT": "Int16", "INTEGER": "Int32", "BIGINT": "Int64",
             "UTINYINT": "UInt8", "USMALLINT": "UInt16", "UINTEGER": "UInt32", "UBIGINT": "UInt64"}


def read_frame(conn, sql: str):
    """A query's result as a pandas DataFrame: the same frame as `conn.execute(sql).df()`
    (same dtypes and values, tested type by type), without `.df()`'s cost.

    Through Arrow when every column has a type whose conversion is known to match `.df()`
    (every warehouse read): strings become pandas' Arrow-backed `str` columns without a
    Python object per value, most of the time `.df()` spends. At 10M calls the analytics
    step's inputs read in ~30 s instead of 52 s (in chunks of `.df()`), at a peak of
    12.1 GiB instead of 10.7 GiB for the process. Other types are fetched in chunks of
    `.df()`: `.df()` whole converts the entire materialized result at once, and at 10M
    calls the analytics step ran out of 24 GiB that way."""
    rel = conn.sql(sql)
    types = [str(t) for t in rel.types]
    columns = rel.columns
    arrow_ok = len(set(columns)) == len(columns) and all(
        t in _ARROW_SAME or t == "DATE" or t.startswith("DECIMAL(") for t in types)
    return _read_via_arrow(rel, columns, types) if arrow_ok else _read_in_chunks(conn, sql)


def _read_via_arrow(rel, columns: list[str], types: list[str]):
    import pandas as pd

    quoted = ['"' + c.replace('"', '""') + '"' for c in columns]
    if any(t == "DATE" or t.startswith("DECIMAL(") for t in types):
        # a projection keeps the query's row order
        rel = rel.project(", ".join(f"{_as_df_gives(q, t)} as {q}" for q, t in zip(quoted, types)))
    table = rel.to_arrow_table()
    rows = table.num_rows
    nulls = {c: table.column(c).null_count for c in columns}
    # .df() gives a column with NULLs pandas' nullable dtype (Int32, boolean, ...)
    nullable = {c: pd.api.types.pandas_dtype(_NULLABLE[t]).__from_arrow__(table.column(c))
                for c, t in zip(columns, types) if t in _NULLABLE and nulls[c]}
    # each Arrow column is released once converted: the peak stays near one copy of the data
    frame = table.to_pandas(split_blocks=True, self_destruct=True)
    del table
    for c, t in zip(columns, types):
        if c in nullable:
            frame[c] = nullable[c]
        elif t == "VARCHAR" and nulls[c] == rows:
            # .df() gives a column of nothing but NULLs (or no rows) object dtype, holding None
            frame[c] = pd.Series([None] * rows, index=frame.index, dtype=object)
    return frame


def _as_df_gives(column: str, duckdb_type: str) -> str:
    """SQL for the value `.df()` gives a DATE or DECIMAL column: a TIMESTAMP for a DATE; for
    a DECIMAL the unscaled integer as a double, divided by 10^scale (what `.df()` computes).
    A plain cast to DOUBLE gives the same for DECIMALs stored in 64 bits, but not always for
    wider ones (DECIMAL(38,10) of ~1e12: 27% of values differed in the last bit), and
    Arrow's own cast differs for 1 value in 4. The unscaled integer of a wide DECIMAL is its
    text without the point (DuckDB prints every decimal place)."""
    if duckdb_type == "DATE":
        return f"cast({column} as timestamp)"
    if duckdb_type.startswith("DECIMAL("):
        width, scale = (int(x) for x in duckdb_type[len("DECIMAL("):-1].split(","))
        if width <= 18 or scale == 0:
            return f"cast({column} as double)"
        return f"cast(cast(replace(cast({column} as varchar), '.', '') as hugeint) as double) / 1e{scale}"
    return column


def _read_in_chunks(conn, sql: str):
    import pandas as pd

    result = conn.execute(sql)
    parts = [result.fetch_df_chunk(100)]  # the first, even if empty: it carries the columns and dtypes
    while len(parts[-1]):
        parts.append(result.fetch_df_chunk(100))
    parts = [part for part in parts if len(part)] or parts[:1]
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]

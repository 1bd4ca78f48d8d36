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
            "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE),
        }
    )


def read_frame(conn, sql: str):
    """A query's result as a pandas DataFrame, fetched in chunks: the same frame as
    `conn.execute(sql).df()` (same dtypes and values), at about half its peak memory. `.df()`
    converts the whole materialized result at once: at 1M calls the LLM-call fact (0.38 GiB as
    a frame) peaked at 2.5 GiB that way and 1.35 GiB in chunks, and at 10M calls the analytics
    step ran out of 24 GiB."""
    import pandas as pd

    result = conn.execute(sql)
    parts = [result.fetch_df_chunk(100)]  # the first, even if empty: it carries the columns and dtypes
    while len(parts[-1]):
        parts.append(result.fetch_df_chunk(100))
    parts = [part for part in parts if len(part)] or parts[:1]
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]

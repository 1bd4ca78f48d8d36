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

"""Paths and knobs, from environment variables with working defaults.

Everything that differs between a laptop, CI and a server is read here once, so the
rest of the code never touches os.environ directly.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _path_from_env(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default


# The warehouse file. dbt reads the same variable (profiles.yml), so we export the
# resolved absolute path: dbt runs with dbt_project/ as its working directory and a
# relative path would otherwise point somewhere else.
DUCKDB_PATH = _path_from_env("DUCKDB_PATH", REPO_ROOT / "data" / "warehouse.duckdb")
os.environ["DUCKDB_PATH"] = str(DUCKDB_PATH)

# On-disk format of a newly created warehouse file. DuckDB 2.0 writes a format that the
# 1.x clients BI tools and the PyPI DuckDB CLI still ship cannot open; v1.4.0 keeps the
# file readable by them. Set to "latest" to use the newest format.
DUCKDB_STORAGE_VERSION = os.environ.get("DUCKDB_STORAGE_VERSION", "v1.4.0")
os.environ["DUCKDB_STORAGE_VERSION"] = DUCKDB_STORAGE_VERSION

# DuckDB's memory cap and where it spills what does not fit (big joins, sorts, window
# functions at 100M rows). dbt reads the same variables (profiles.yml); both exported.
DUCKDB_MEMORY_LIMIT = os.environ.get("DUCKDB_MEMORY_LIMIT", "8GB")
os.environ["DUCKDB_MEMORY_LIMIT"] = DUCKDB_MEMORY_LIMIT
DUCKDB_TEMP_DIRECTORY = _path_from_env("DUCKDB_TEMP_DIRECTORY", Path(f"{DUCKDB_PATH}.tmp"))
os.environ["DUCKDB_TEMP_DIRECTORY"] = str(DUCKDB_TEMP_DIRECTORY)

# The read-only copy BI tools, the API and the dashboard read. Replaced atomically after
# each successful run, so readers never hold the pipeline's own file (one writer per
# DuckDB file) and never see half a run.
PUBLISHED_DUCKDB_PATH = _path_from_env("PUBLISHED_DUCKDB_PATH", REPO_ROOT / "data" / "published" / "warehouse.duckdb")
os.environ["PUBLISHED_DUCKDB_PATH"] = str(PUBLISHED_DUCKDB_PATH)

# The dbt project Dagster and `warehouse build` run (its manifest is read from its target/).
# Override to build a copy with other seeds, e.g. a benchmark fleet (benchmarks/scale.py).
DBT_PROJECT_DIR = _path_from_env("DBT_PROJECT_DIR", REPO_ROOT / "dbt_project")

# Landing zone the ingest assets and the new-file sensor read.
RAW_DATA_DIR = _path_from_env("RAW_DATA_DIR", REPO_ROOT / "data" / "raw")

# First export day the daily partitions cover.
PARTITIONS_START_DATE = os.environ.get("WAREHOUSE_START_DATE", "2026-10-01")

# Processes the forecasts spread their series over (each series is seeded on its own, so
# the result does not depend on it). Default: one per core.
FORECAST_WORKERS = int(os.environ.get("FORECAST_WORKERS") or os.cpu_count() or 1)

# Timestamps further than this in the future (vs. load time) are rejected as clock errors.
MAX_FUTURE_SKEW_HOURS = int(os.environ.get("MAX_FUTURE_SKEW_HOURS", "24"))


def _dbt_executable() -> str:
    """dbt from this interpreter's environment, so a venv works without being activated."""
    beside_python = Path(sys.executable).parent / "dbt"
    return str(beside_python) if beside_python.exists() else (shutil.which("dbt") or "dbt")


DBT_EXECUTABLE = os.environ.get("DBT_EXECUTABLE") or _dbt_executable()

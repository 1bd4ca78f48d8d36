"""Put a DuckDB warehouse's raw layer in front of dbt's `spark` target.

The Dagster ingest assets load the exports into DuckDB's `raw` schema. To run the same
dbt project on Spark, every raw.* table is written to Parquet (DuckDB's own COPY) and
registered as an external table of Spark's `raw` database, in the Hive metastore the
`spark` profile uses (SPARK_WAREHOUSE_DIR, default dbt_project/target/spark). At scale
the Parquet files would sit in an object store and the ingest would write them directly.

    python dbt_project/spark/load_raw.py --duckdb /path/warehouse.duckdb \\
        --parquet-dir /path/raw_parquet

Run it before `dbt seed --target spark` / `dbt build --target spark`, from any directory.
The Derby metastore takes one process at a time: it must not run while dbt does.
"""

import argparse
import os
import sys
from pathlib import Path

import duckdb

DBT_PROJECT_DIR = Path(__file__).resolve().parents[1]


def spark_warehouse_dir() -> Path:
    """SPARK_WAREHOUSE_DIR as profiles.yml resolves it (relative to dbt_project/, where dbt runs)."""
    return (DBT_PROJECT_DIR / os.environ.get("SPARK_WAREHOUSE_DIR", "target/spark")).resolve()


def export_raw(duckdb_path: Path, parquet_dir: Path) -> list[str]:
    """Every table of DuckDB's raw schema to <parquet_dir>/<table>.parquet; returns the names."""
    parquet_dir.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(duckdb_path), read_only=True) as conn:
        tables = [t for (t,) in conn.execute(
            "select table_name from information_schema.tables "
            "where table_schema = 'raw' and table_type = 'BASE TABLE' order by 1").fetchall()]
        if not tables:
            raise SystemExit(f"{duckdb_path} has no raw.* tables: run the ingest (warehouse build) first")
        for table in tables:
            target = parquet_dir / f"{table}.parquet"
            conn.execute(f"copy raw.{table} to '{target}' (format parquet)")
    return tables


def spark_session():
    """A SparkSession with the `spark` profile's catalog settings (see profiles.yml)."""
    from pyspark.sql import SparkSession

    home = spark_warehouse_dir()
    home.mkdir(parents=True, exist_ok=True)
    return (SparkSession.builder
            .master(f"local[{os.environ.get('SPARK_LOCAL_CORES', '2')}]")
            .config("spark.sql.warehouse.dir", str(home / "warehouse"))
            .config("spark.hadoop.javax.jdo.option.ConnectionURL",
                    f"jdbc:derby:;databaseName={home / 'metastore_db'};create=true")
            .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={home}")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.enabled", "false")
            .enableHiveSupport()
            .getOrCreate())


def register_raw(spark, parquet_dir: Path, tables: list[str]) -> None:
    """raw.<table> as external Parquet tables (replaced, so a re-run picks up new files)."""
    spark.sql("create database if not exists raw")
    for table in tables:
        spark.sql(f"drop table if exists raw.{table}")
        spark.sql(f"create table raw.{table} using parquet location '{(parquet_dir / f'{table}.parquet').resolve()}'")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duckdb", type=Path, default=Path(os.environ.get("DUCKDB_PATH", DBT_PROJECT_DIR.parent / "data" / "warehouse.duckdb")),
                        help="DuckDB warehouse whose raw schema is exported (default: $DUCKDB_PATH)")
    parser.add_argument("--parquet-dir", type=Path, default=None,
                        help="where the Parquet files go (default: <SPARK_WAREHOUSE_DIR>/raw_parquet)")
    args = parser.parse_args(argv)
    parquet_dir = (args.parquet_dir or spark_warehouse_dir() / "raw_parquet").resolve()
    tables = export_raw(args.duckdb, parquet_dir)
    spark = spark_session()
    try:
        register_raw(spark, parquet_dir, tables)
    finally:
        spark.stop()
    print(f"registered {len(tables)} raw tables from {parquet_dir}: {', '.join(tables)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

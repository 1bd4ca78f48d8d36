"""The same dbt project on Apache Spark (dbt-spark, session mode, a local pyspark).

The shipped sample is built once in DuckDB (the `sample_warehouse` fixture, through
`warehouse build`); its raw layer is exported to Parquet and registered in Spark
(dbt_project/spark/load_raw.py), and `dbt build --target spark` runs the whole project
(seeds, every model, every data and unit test) in a throwaway copy. Then both engines
are queried: every mart has the same rows on Spark as in DuckDB, and the same totals.

Needs the `spark` extra (pip install -e ".[dev,spark]") and Java 17+. Run alone with
`pytest -m spark`.
"""

import importlib.util
import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from .conftest import BIN, REPO, copy_dbt_project, run

pytestmark = [pytest.mark.spark, pytest.mark.timeout(3600)]

FLOAT_TYPES = ("DOUBLE", "FLOAT", "REAL")

# The marts readers reconcile money with, and their cost columns: equal to the cent.
KEY_MART_TOTALS = {
    "mart_daily_usage": ["total_cost", "token_cost", "compute_cost"],
    "mart_token_budget_tracking": ["daily_total_cost", "month_to_date_cost"],
    "mart_infrastructure_cost_allocation": ["total_cost", "cloud_shared_cost", "rolling_30d_cost"],
    "mart_chargeback_monthly": ["amount_usd"],
}


def _load_raw_module(project: Path):
    spec = importlib.util.spec_from_file_location("spark_load_raw", project / "spark" / "load_raw.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def spark_build(sample_warehouse, tmp_path_factory):
    """The project built on Spark from the sample's raw tables; returns paths and dbt's results."""
    tmp = tmp_path_factory.mktemp("spark")
    project = copy_dbt_project(tmp)
    env = {"SPARK_WAREHOUSE_DIR": str(tmp / "spark"), "SPARK_DRIVER_MEMORY": "2g"}
    duckdb_path = Path(sample_warehouse["DUCKDB_PATH"])
    run([str(BIN / "python"), str(project / "spark" / "load_raw.py"), "--duckdb", str(duckdb_path),
         "--parquet-dir", str(tmp / "raw_parquet")], env=env)
    # dbt build runs the seeds too; the Derby metastore allows one process at a time
    run([str(BIN / "dbt"), "build", "--target", "spark", "--profiles-dir", "."], env=env, cwd=project, timeout=3000)
    return {"project": project, "env": env, "duckdb": duckdb_path, "tmp": tmp,
            "results": json.loads((project / "target" / "run_results.json").read_text())}


@pytest.fixture(scope="module")
def spark_marts(spark_build, monkeypatch_module):
    """Per mart on Spark: row count, the sum of every numeric column, and the non-float
    columns written to Parquet (for a row-by-row comparison in DuckDB)."""
    for key, value in spark_build["env"].items():
        monkeypatch_module.setenv(key, value)
    load_raw = _load_raw_module(spark_build["project"])
    with duckdb.connect(str(spark_build["duckdb"]), read_only=True) as conn:
        columns = _mart_columns(conn)
    spark = load_raw.spark_session()
    try:
        spark_tables = {row.tableName for row in spark.sql("show tables in marts").collect()
                        if spark.catalog.getTable(f"marts.{row.tableName}").tableType != "VIEW"}
        marts = {}
        for table, cols in columns.items():
            if table not in spark_tables:
                continue
            numeric = [c for c, t in cols if t in FLOAT_TYPES or t.startswith("DECIMAL")]
            exact = [c for c, t in cols if c not in numeric]
            sums = ", ".join(f"sum(`{c}`)" for c in numeric)
            row = spark.sql(f"select count(*){', ' + sums if sums else ''} from marts.{table}").collect()[0]
            out = spark_build["tmp"] / "marts_export" / table
            spark.sql(f"select {', '.join(f'`{c}`' for c in exact)} from marts.{table}").write.parquet(str(out))
            marts[table] = {"rows": row[0], "sums": dict(zip(numeric, row[1:])), "exact_columns": exact, "parquet": out}
    finally:
        spark.stop()
    return {"tables": spark_tables, "marts": marts, "columns": columns}


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def _mart_columns(conn) -> dict[str, list[tuple[str, str]]]:
    rows = conn.execute(
        "select c.table_name, c.column_name, c.data_type from information_schema.columns c "
        "join information_schema.tables t using (table_schema, table_name) "
        "where c.table_schema = 'marts' and t.table_type = 'BASE TABLE' "
        "order by c.table_name, c.ordinal_position").fetchall()
    columns: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in rows:
        columns.setdefault(table, []).append((column, data_type))
    return columns


def test_every_node_builds_and_passes_on_spark(spark_build):
    """Every seed, model, data test and unit test of the DuckDB project ran on Spark and passed."""
    results = spark_build["results"]["results"]
    failed = [(r["unique_id"], r["status"], (r.get("message") or "")[:300]) for r in results
              if r["status"] not in ("success", "pass")]
    assert not failed, failed
    manifest = json.loads((REPO / "dbt_project" / "target" / "manifest.json").read_text())
    expected = {uid for uid, node in {**manifest["nodes"], **manifest.get("unit_tests", {})}.items()
                if node["resource_type"] in ("model", "seed", "test", "unit_test")
                and node["config"].get("enabled", True)}
    ran = {r["unique_id"] for r in results if not r["unique_id"].startswith("operation.")}
    assert ran == expected, {"not run on spark": sorted(expected - ran)[:20], "only on spark": sorted(ran - expected)[:20]}
    assert any(uid.startswith("unit_test.") for uid in ran)


def test_spark_marts_have_the_duckdb_rows(spark_marts, spark_build):
    """Same marts, same row counts, and row for row the same keys, dates, counts and
    labels (every column but the float and DECIMAL measures, compared next)."""
    columns = spark_marts["columns"]
    assert set(columns) <= spark_marts["tables"], set(columns) - spark_marts["tables"]
    with duckdb.connect(str(spark_build["duckdb"]), read_only=True) as conn:
        conn.execute("set TimeZone = 'UTC'")
        for table, mart in spark_marts["marts"].items():
            types = dict(columns[table])
            assert mart["rows"] == conn.execute(f"select count(*) from marts.{table}").fetchone()[0], table
            projection = ", ".join(f'cast("{c}" as {types[c]}) as "{c}"' for c in mart["exact_columns"])
            duck = f"select {projection} from marts.{table}"
            spark = f"select {projection} from read_parquet('{mart['parquet']}/*.parquet')"
            only_duck = conn.execute(f"select count(*) from ({duck} except all {spark})").fetchone()[0]
            only_spark = conn.execute(f"select count(*) from ({spark} except all {duck})").fetchone()[0]
            assert (only_duck, only_spark) == (0, 0), (table, only_duck, only_spark)


def test_spark_marts_have_the_duckdb_totals(spark_marts, spark_build):
    """Every DECIMAL measure sums to the same amount to the cent, every float measure to
    nine significant digits (a ratio rounded to 6 decimals: within 1e-6 per row). (Per row the engines may differ in the 12th decimal: Spark
    rounds a double cast to DECIMAL half up, DuckDB half to even, and DuckDB divides
    DECIMALs in double precision where Spark stays in DECIMAL.)"""
    columns = spark_marts["columns"]
    differ = []  # every measure that differs, not just the first
    with duckdb.connect(str(spark_build["duckdb"]), read_only=True) as conn:
        for table, mart in spark_marts["marts"].items():
            types = dict(columns[table])
            for column, spark_sum in mart["sums"].items():
                duck_sum = conn.execute(f'select sum("{column}") from marts.{table}').fetchone()[0]
                if duck_sum is None or spark_sum is None:
                    same = duck_sum is None and spark_sum is None
                elif types[column].startswith("DECIMAL"):
                    same = abs(Decimal(str(spark_sum)) - duck_sum) < Decimal("0.005")
                else:
                    # a ratio the model rounds to 6 decimals may differ by 1e-6 per row: at a
                    # near-tie DuckDB's round(double) (x*1e6 rounded in binary) and Spark's
                    # (the double's exact decimal value, half up) go different ways
                    rows, unrounded = conn.execute(
                        f'select count(*), count(*) filter (where "{column}" <> round("{column}", 6)) '
                        f'from marts.{table}').fetchone()
                    slack = rows * 1e-6 if unrounded == 0 else 0.0
                    same = float(spark_sum) == pytest.approx(float(duck_sum), rel=1e-9, abs=max(1e-9, slack))
                if not same:
                    differ.append((table, column, duck_sum, spark_sum))
    assert differ == [], differ
    with duckdb.connect(str(spark_build["duckdb"]), read_only=True) as conn:
        for table, cost_columns in KEY_MART_TOTALS.items():
            for column in cost_columns:
                duck_total = conn.execute(f'select round(sum("{column}"), 2) from marts.{table}').fetchone()[0]
                assert duck_total > 0, (table, column)
                assert round(Decimal(str(spark_marts["marts"][table]["sums"][column])), 2) == duck_total, (table, column)

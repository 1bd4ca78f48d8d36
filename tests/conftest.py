import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "fixtures" / "tiny"
BIN = Path(sys.executable).parent


@pytest.fixture(scope="session", autouse=True)
def dbt_manifest():
    """Definitions are built from dbt's manifest; `dagster dev` makes it, tests must."""
    subprocess.run(
        [str(BIN / "dbt"), "parse", "--quiet", "--profiles-dir", "."],
        cwd=REPO / "dbt_project", check=True,
    )


def run(cmd: list[str], env: dict[str, str] | None = None, cwd: Path = REPO, timeout: int = 600):
    """Run a real command; fail the test with its output when it fails."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {proc.returncode}\n--- stdout\n{proc.stdout[-6000:]}\n--- stderr\n{proc.stderr[-6000:]}")
    return proc


def warehouse_env(tmp: Path, raw: Path = REPO / "data" / "raw") -> dict[str, str]:
    """The environment of a `warehouse build` of its own under `tmp`: warehouse and published
    files, a DAGSTER_HOME (with an empty dagster.yaml) and the exports read from `raw`."""
    home = tmp / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").touch()
    return {"DUCKDB_PATH": str(tmp / "warehouse.duckdb"), "RAW_DATA_DIR": str(raw), "DAGSTER_HOME": str(home),
            "PUBLISHED_DUCKDB_PATH": str(tmp / "published" / "warehouse.duckdb")}


def stop_process_group(proc: subprocess.Popen, timeout: float = 30) -> None:
    """Stop a server started with start_new_session=True and everything it spawned:
    SIGTERM to the group, SIGKILL if it has not exited within `timeout`."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def copy_dbt_project(dest: Path, seeds_from: Path | None = None) -> Path:
    """A throwaway copy of the dbt project, optionally with other agents/budgets seeds."""
    project = dest / "dbt_project"
    shutil.copytree(REPO / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    if seeds_from:
        for seed in seeds_from.glob("*.csv"):
            shutil.copy(seed, project / "seeds" / seed.name)
    return project


def mart_fingerprints(database: Path, schemas: tuple[str, ...] = ("marts",)) -> dict[str, tuple[int, str]]:
    """(row count, md5 over every row in a fixed order) for every table in `schemas`
    (keys are table names for marts alone, schema.table otherwise)."""
    import duckdb

    with duckdb.connect(str(database), read_only=True) as conn:
        tables = conn.execute(
            "select table_schema, table_name from information_schema.tables where table_schema in ? order by 1, 2",
            [list(schemas)]).fetchall()
        return {
            (t if schemas == ("marts",) else f"{s}.{t}"): conn.execute(
                f"select count(*), md5(coalesce(string_agg(r::varchar, '\n' order by r::varchar), '')) from {s}.{t} r"
            ).fetchone()
            for s, t in tables
        }


@pytest.fixture(scope="session")
def sample_warehouse(tmp_path_factory) -> dict[str, str]:
    """The shipped sample built once per session through `warehouse build` (the README's
    run command), in a temporary DuckDB file. Treat it as read-only: tests that change a
    warehouse build their own. Returns the environment the build ran with
    (DUCKDB_PATH, RAW_DATA_DIR, DAGSTER_HOME, PUBLISHED_DUCKDB_PATH: the
    read-only copy published at the end of the run)."""
    env = warehouse_env(tmp_path_factory.mktemp("sample_warehouse"))
    run([str(BIN / "warehouse"), "build"], env=env)
    return env

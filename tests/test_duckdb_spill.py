"""The dbt profile's DuckDB memory settings hold when a build spills to disk.

DuckDB refuses `SET temp_directory` once a query has spilled into it ("Cannot switch
temporary directory after the current one has been used"), even to the same path, and
dbt-duckdb applies a profile's `settings` again on every model's connection: with
temp_directory among them, the 10M-call benchmark build failed on its first spill. The
profile now sets it once, when the database opens (`config_options`). This builds a tiny
project with the real profiles.yml and a memory limit small enough that the first model
spills, then has later models open their connections."""

import subprocess
from pathlib import Path

import duckdb

from .conftest import BIN, REPO

# ~400 MB to sort under a 128 MB limit: it must spill. (Under 64 MB, with 3M rows, DuckDB sometimes
# ran out of memory before spilling: its sort buffers alone nearly filled the limit.)
SPILLS = "select range as i, md5(range::varchar) as s from range(6000000) order by s"


def _build(tmp_path: Path, profile: str) -> tuple[subprocess.CompletedProcess, Path]:
    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text(
        "name: spill_check\nversion: '1.0'\nprofile: agent_resource_warehouse\n"
        "models:\n  spill_check:\n    +materialized: table\n")
    (project / "profiles.yml").write_text(profile)
    (project / "models" / "sorted_rows.sql").write_text(SPILLS)
    for n in range(4):  # each opens its own connection after the spill
        (project / "models" / f"after_{n}.sql").write_text(
            f"select count(*) as n, {n} as k from {{{{ ref('sorted_rows') }}}}")
    database = tmp_path / "spill.duckdb"
    env = {"PATH": str(BIN), "HOME": str(tmp_path), "DUCKDB_PATH": str(database), "DUCKDB_MEMORY_LIMIT": "128MB",
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    proc = subprocess.run([str(BIN / "dbt"), "run", "--profiles-dir", str(project), "--project-dir", str(project)],
                          cwd=project, env=env, capture_output=True, text=True, timeout=300)
    return proc, database


def test_a_build_that_spills_to_disk_keeps_going(tmp_path: Path):
    proc, database = _build(tmp_path, (REPO / "dbt_project" / "profiles.yml").read_text())
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "PASS=5" in proc.stdout
    with duckdb.connect(str(database), read_only=True) as conn:
        assert conn.execute("select count(*), count(distinct s) from sorted_rows").fetchone() == (6_000_000, 6_000_000)
        assert conn.execute("select sum(n) from (" + " union all ".join(
            f"select n from after_{n}" for n in range(4)) + ")").fetchone()[0] == 24_000_000


def test_the_same_build_fails_with_temp_directory_set_per_connection(tmp_path: Path):
    """The control: the same project spills, and with temp_directory moved back under
    `settings` (re-applied on each connection) it fails as the 10M build did."""
    profile = (REPO / "dbt_project" / "profiles.yml").read_text()
    line = next(x for x in profile.splitlines() if x.strip().startswith("temp_directory:"))
    profile = profile.replace(line + "\n", "").replace("      settings:\n", "      settings:\n" + line + "\n", 1)
    assert profile.count("temp_directory:") == 1
    proc, _ = _build(tmp_path, profile)
    assert proc.returncode != 0
    assert "Cannot switch temporary directory after the current one has been used" in proc.stdout

"""Readers never block the pipeline and never see half a run; killed runs lose nothing.

Real processes throughout: `warehouse build` subprocesses, reader processes holding the
published DuckDB file open, SIGKILL to the whole process group (dbt included).
"""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from orchestration.publishing import publish, stale_temp_files

from .conftest import BIN, REPO, mart_fingerprints, run, warehouse_env

# One reader holds a single connection for its whole life (a BI tool left open); the other
# reconnects for every query (the API). Both check each snapshot against the row counts the
# publisher stamped into it, so a half-copied or half-built file would be caught.
READER = r"""
import json, sys, time, duckdb
path, stop, out, mode = sys.argv[1:5]
seen, errors, n = [], [], 0
held = duckdb.connect(path, read_only=True) if mode == "hold" else None
def snapshot(conn):
    run_id = conn.execute("select run_id from meta.publication").fetchone()[0]
    for table, expected in conn.execute("select table_name, row_count from meta.published_tables "
                                        "where table_name like 'marts.%' or table_name like 'analytics.%'").fetchall():
        got = conn.execute(f"select count(*) from {table}").fetchone()[0]
        if got != expected:
            raise AssertionError(f"{table}: {got} rows, published {expected}")
    return run_id
import os
while not os.path.exists(stop):
    try:
        if held is not None:
            run_id = snapshot(held)
        else:
            with duckdb.connect(path, read_only=True) as conn:
                run_id = snapshot(conn)
        if not seen or seen[-1] != run_id:
            seen.append(run_id)
        n += 1
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    time.sleep(0.05)
json.dump({"queries": n, "run_ids": seen, "errors": errors[:20]}, open(out, "w"))
"""


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run_id(path: Path) -> str:
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute("select run_id from meta.publication").fetchone()[0]


@pytest.fixture(scope="module")
def state(sample_warehouse, tmp_path_factory):
    """A fresh working file, and as the published copy the sample's (a previous good run)."""
    tmp = tmp_path_factory.mktemp("publishing")
    env = warehouse_env(tmp)
    published = Path(env["PUBLISHED_DUCKDB_PATH"])
    published.parent.mkdir()
    shutil.copy(sample_warehouse["PUBLISHED_DUCKDB_PATH"], published)
    return {"tmp": tmp, "env": env, "published": published,
            "sample_published": Path(sample_warehouse["PUBLISHED_DUCKDB_PATH"])}


def test_the_published_copy_is_read_only_and_stamped_with_its_run(sample_warehouse):
    published = Path(sample_warehouse["PUBLISHED_DUCKDB_PATH"])
    assert published.stat().st_mode & 0o777 == 0o444
    with duckdb.connect(sample_warehouse["DUCKDB_PATH"], read_only=True) as work, \
            duckdb.connect(str(published), read_only=True) as pub:
        for schema in ("marts", "analytics"):
            sql = (f"select table_name from information_schema.tables where table_schema = '{schema}' order by 1")
            assert pub.execute(sql).fetchall() == work.execute(sql).fetchall()
        assert pub.execute("select count(*) from marts.fct_llm_calls").fetchone() == \
            work.execute("select count(*) from marts.fct_llm_calls").fetchone()
        assert len(pub.execute("select run_id from meta.publication").fetchone()[0]) == 36
    assert mart_fingerprints(published) == mart_fingerprints(Path(sample_warehouse["DUCKDB_PATH"]))
    assert not stale_temp_files(published)


def test_readers_holding_the_published_file_neither_block_a_full_run_nor_see_half_of_it(state):
    tmp, env, published = state["tmp"], state["env"], state["published"]
    old_run = _run_id(published)
    stop = tmp / "stop-readers"
    readers = {
        mode: subprocess.Popen([sys.executable, "-c", READER, str(published), str(stop), str(tmp / f"{mode}.json"), mode])
        for mode in ("hold", "reconnect")
    }
    try:
        time.sleep(2)
        proc = run([str(BIN / "warehouse"), "build"], env=env)
        time.sleep(1)  # let the reconnecting reader see the new copy
    finally:
        stop.touch()
        for reader in readers.values():
            reader.wait(timeout=60)
    hold, reconnect = (json.loads((tmp / f"{m}.json").read_text()) for m in ("hold", "reconnect"))
    assert "succeeded" in proc.stdout
    new_run = _run_id(published)
    assert new_run != old_run
    assert hold["errors"] == [] and reconnect["errors"] == []
    assert hold["queries"] > 20 and reconnect["queries"] > 20
    assert hold["run_ids"] == [old_run]  # its open file never changed under it
    assert reconnect["run_ids"] == [old_run, new_run]  # one switch, nothing in between
    assert mart_fingerprints(published) == mart_fingerprints(state["sample_published"])


def _build_killed_at(env: dict[str, str], marker: str, delay: float) -> list[str]:
    """Start `warehouse build`, SIGKILL its whole process group `delay` s after `marker`
    appears in its log; return the log lines it wrote."""
    proc = subprocess.Popen([str(BIN / "warehouse"), "build"], env={**os.environ, **env}, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    lines: list[str] = []
    hit = threading.Event()

    def pump():
        for line in proc.stderr:
            lines.append(line)
            if marker in line:
                hit.set()

    threading.Thread(target=pump, daemon=True).start()
    try:
        assert hit.wait(timeout=300), f"never reached {marker!r}:\n{''.join(lines[-30:])}"
        time.sleep(delay)
        assert proc.poll() is None, f"the run ended before it could be killed:\n{''.join(lines[-30:])}"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    return lines


@pytest.mark.parametrize("stage,marker,delay", [
    ("ingest", '"raw_exports"', 2.0),
    ("dbt", '"warehouse_dbt"', 6.0),
])
def test_a_run_killed_mid_way_leaves_the_published_file_at_the_last_good_state(state, stage, marker, delay):
    env, published = state["env"], state["published"]
    if stage == "ingest":  # start from an empty working file so ingest has real work to do
        Path(env["DUCKDB_PATH"]).unlink()
    before_sha, before_run = _sha(published), _run_id(published)
    lines = _build_killed_at(env, f"Started execution of step {marker}", delay)
    assert not any("published__warehouse - STEP_START" in line for line in lines)
    assert _sha(published) == before_sha
    assert _run_id(published) == before_run
    assert mart_fingerprints(published) == mart_fingerprints(state["sample_published"])


def test_the_next_run_after_the_kills_completes_without_cleanup_and_loses_nothing(state):
    env, published = state["env"], state["published"]
    before_run = _run_id(published)
    proc = run([str(BIN / "warehouse"), "build"], env=env)
    assert "succeeded" in proc.stdout
    assert _run_id(published) != before_run
    assert mart_fingerprints(published) == mart_fingerprints(state["sample_published"])
    with duckdb.connect(env["DUCKDB_PATH"], read_only=True) as conn:
        # every file loaded once: a killed per-file transaction left neither rows nor log
        assert conn.execute("select count(*) from raw.load_log where status <> 'loaded'").fetchone()[0] == 0
        assert conn.execute("select count(*) - count(distinct (source, source_file)) from raw.load_log").fetchone()[0] == 0
        assert conn.execute("select count(*) from raw.llm_calls").fetchone()[0] == sum(
            1 for p in (REPO / "data" / "raw" / "llm_calls").glob("*.jsonl") for line in p.open() if line.strip())


def test_a_publication_that_fails_mid_copy_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    source, target = tmp_path / "work.duckdb", tmp_path / "pub" / "w.duckdb"
    with duckdb.connect(str(source)) as conn:
        conn.execute("create schema marts; create table marts.t as select 1 as x")
        publish(conn, source, target, "run-one")
        conn.execute("insert into marts.t values (2)")

        def broken_copy(src, dst):
            Path(dst).write_bytes(Path(src).read_bytes()[:4096])  # a partial file, then the crash
            raise OSError("disk full")

        monkeypatch.setattr(shutil, "copyfile", broken_copy)
        with pytest.raises(OSError, match="disk full"):
            publish(conn, source, target, "run-two")
    assert _run_id(target) == "run-one"
    with duckdb.connect(str(target), read_only=True) as pub:
        assert pub.execute("select count(*) from marts.t").fetchone()[0] == 1
    assert not stale_temp_files(target)

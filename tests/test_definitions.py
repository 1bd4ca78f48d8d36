"""The Dagster graph as an operator sees it: groups, lineage, checks, job, schedule, sensor."""

import json
import shutil
from pathlib import Path

import dagster as dg
import pytest

from .conftest import TINY


@pytest.fixture(scope="module")
def repo():
    from orchestration.definitions import defs

    return defs.get_repository_def()


def test_graph_runs_from_raw_exports_to_marts_grouped_by_layer(repo):
    graph = repo.asset_graph
    groups = {k.to_user_string(): graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert {g for g in groups.values()} == {"raw", "reference", "staging", "intermediate", "marts", "analytics", "forecasting", "alerts",
                                                 "publish"}
    for mart in ("fct_resource_utilization", "mart_daily_usage", "mart_token_budget_tracking",
                 "mart_infrastructure_cost_allocation"):
        assert groups[f"marts/{mart}"] == "marts"
    # lineage: daily usage reaches back to every raw export and to the rate card
    ancestors = graph.get_ancestor_asset_keys(dg.AssetKey(["marts", "mart_daily_usage"]))
    assert {dg.AssetKey(["raw", s]) for s in ("executions", "llm_calls", "api_calls")} <= set(ancestors)
    assert dg.AssetKey(["reference", "compute_rate_card"]) in set(ancestors)


def test_dbt_tests_are_asset_checks_and_every_raw_asset_has_a_conservation_check(repo):
    checks = {(c.asset_key.to_user_string(), c.name) for c in repo.asset_graph.asset_check_keys}
    for source in ("executions", "llm_calls", "api_calls"):
        assert (f"raw/{source}", "rows_conserved") in checks
    assert ("marts/fct_resource_utilization", "unique_fct_resource_utilization_execution_id") in checks
    assert len(checks) > 50


def test_raw_loads_are_daily_partitioned_with_single_run_backfills(repo):
    node = repo.asset_graph.get(dg.AssetKey(["raw", "executions"]))
    assert isinstance(node.partitions_def, dg.DailyPartitionsDefinition)
    assert node.backfill_policy == dg.BackfillPolicy.single_run()


def test_daily_schedule_targets_the_warehouse_job(repo):
    schedule = repo.get_schedule_def("daily_warehouse_schedule")
    assert schedule.job_name == "warehouse_job" and schedule.cron_schedule == "0 2 * * *"
    job = repo.get_job("warehouse_job")
    assert job.executor_def.name == "in_process"


def test_sensor_launches_one_run_over_the_days_with_new_files_and_then_rests(repo, tmp_path, monkeypatch):
    from orchestration import settings

    raw = tmp_path / "raw"
    shutil.copytree(TINY / "raw", raw)
    (raw / "llm_calls" / "notes.txt").write_text("no date in this name")
    monkeypatch.setattr(settings, "RAW_DATA_DIR", raw)
    sensor = repo.get_sensor_def("new_export_files_sensor")

    with dg.instance_for_test() as instance:
        first = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
        assert len(first.run_requests) == 1
        tags = first.run_requests[0].tags
        assert (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]) == ("2026-10-31", "2026-11-01")

        second = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=first.cursor))
        assert not second.run_requests and "no new or changed" in second.skip_message

        (raw / "api_calls" / "api_calls_2026-11-01.csv").write_text(
            (raw / "api_calls" / "api_calls_2026-11-01.csv").read_text() + "\n")
        third = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=second.cursor or first.cursor))
        tags = third.run_requests[0].tags
        assert (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]) == ("2026-11-01", "2026-11-01")
        assert "notes.txt" not in json.dumps(tags)


def _python(code: str, dbt_dir=None):
    """Run code in a fresh interpreter (with DBT_PROJECT_DIR=dbt_dir if given: a folder
    without a manifest makes the definitions load raise); it must exit 0."""
    import os
    import subprocess
    import sys

    env = dict(os.environ)
    if dbt_dir:
        env["DBT_PROJECT_DIR"] = str(dbt_dir)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    return out


def test_the_dbt_resource_knows_the_version_dbt_itself_reports_without_asking_it():
    """WarehouseDbtCliResource takes dbt's version from the installed dbt-core package
    instead of a `dbt --version` subprocess (~2.3 s a run): it must be the version that
    command prints, and another executable is still asked."""
    import re
    import subprocess

    from orchestration.definitions import defs
    from orchestration.defs.resources import WarehouseDbtCliResource
    from orchestration.settings import DBT_EXECUTABLE

    resource = defs.resources["dbt"]
    assert isinstance(resource, WarehouseDbtCliResource)
    printed = subprocess.run([DBT_EXECUTABLE, "--version"], capture_output=True, text=True, check=True).stdout
    assert str(resource._cli_version) == re.search(r"installed: (\d+\.\d+\.\d+)", printed).group(1)
    # the same executable by another path is not assumed to be this environment's dbt: asked
    other = WarehouseDbtCliResource(project_dir=resource.project_dir,
                                    dbt_executable=str(Path(DBT_EXECUTABLE).parent / ".." / "bin" / "dbt"))
    assert other._cli_version == resource._cli_version


def test_loading_the_definitions_leaves_the_heavy_libraries_to_the_runs():
    """What only a run needs is imported by the step that needs it: the definitions load
    (every reload of the code location) imports none of the data libraries or the loader."""
    heavy = ["numpy", "pandas", "pyarrow", "statsmodels", "genai_prices", "matplotlib",
             "orchestration.ingest.loader", "orchestration.ingest.fast_reader", "orchestration.analytics.report"]
    code = ("import sys, json; from orchestration.definitions import defs; defs.resolve_all_asset_specs(); "
            f"print(json.dumps([m for m in {heavy!r} if m in sys.modules]))")
    out = _python(code)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


@pytest.mark.parametrize("caller_gc, dbt_dir, loads", [
    ("on", None, True),   # the usual case: a code server, a run or a step process
    ("off", None, True),  # a caller that keeps the GC off itself must find it off
    ("on", "missing", False),  # a load that fails must not leave it off either
])
def test_the_definitions_load_leaves_the_garbage_collector_as_it_found_it(tmp_path, caller_gc, dbt_dir, loads):
    """The load runs with the cyclic GC off (definitions.py: ~0.2 s of the load); a process
    left without it would never free reference cycles."""
    code = ("import gc, json\n"
            f"{'gc.disable()' if caller_gc == 'off' else ''}\n"
            "import sys\n"
            "during = []\n"
            "def seen(phase, info):\n"
            "    # a collection while definitions.py runs its load (GC state saved, defs not yet made)\n"
            "    module = sys.modules.get('orchestration.definitions')\n"
            "    if phase == 'start' and hasattr(module, '_gc_was_enabled') and not hasattr(module, 'defs'):\n"
            "        during.append(info['generation'])\n"
            "gc.callbacks.append(seen)\n"
            "try:\n"
            "    from orchestration.definitions import defs\n"
            "    loaded = True\n"
            "except Exception:\n"
            "    loaded = False\n"
            "print(json.dumps({'enabled': gc.isenabled(), 'loaded': loaded, 'collections': len(during)}))\n")
    out = _python(code, tmp_path / dbt_dir if dbt_dir else None)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["loaded"] is loads
    assert result["enabled"] is (caller_gc == "on")
    if loads:
        # no collection ran during the load (gc.callbacks sees every one; with the GC on, as
        # before, ~600 did). A failed load is only checked for the GC being back on: the
        # module lingers while its exception unwinds, after the GC is on again.
        assert result["collections"] == 0


@pytest.mark.parametrize("dbt_dir, loads", [(None, True), ("missing", False)])
def test_the_exit_skips_the_gc_enabled_collection_and_still_frees_cycles(tmp_path, dbt_dir, loads):
    """definitions.py turns the GC off at exit: the full collection the interpreter runs at
    exit only while the GC is on (the one gc.callbacks sees) is skipped; the finalization
    still frees reference cycles (a cycle's __del__ runs, at exit), and a process that used
    DuckDB exits without nanobind's leak report. A failed load leaves the exit as it was."""
    code = ("import atexit, gc, os\n"
            "exiting = []\n"
            "atexit.register(exiting.append, True)  # registered first: runs after the load's hook\n"
            "def seen(phase, info, write=os.write):\n"
            "    if phase == 'start' and exiting:\n"
            "        write(1, b'collection at exit\\n')\n"
            "gc.callbacks.append(seen)\n"
            "class Node:\n"
            "    def __del__(self, write=os.write, exiting=exiting):\n"
            "        write(1, b'cycle freed at exit\\n' if exiting else b'cycle freed before exit\\n')\n"
            "try:\n"
            "    from orchestration.definitions import defs\n"
            "except Exception:\n"
            "    pass\n"
            "import duckdb\n"
            "print(len(duckdb.connect().execute('select 1::decimal(18, 6) as a, 2::bigint as b').df()), flush=True)\n"
            "a, b = Node(), Node()\n"
            "a.other, b.other = b, a\n"
            "del a, b\n")
    out = _python(code, tmp_path / dbt_dir if dbt_dir else None)
    lines = out.stdout.splitlines()
    assert lines[0] == "1"
    assert lines.count("cycle freed at exit") == 2
    assert ("collection at exit" in lines) is (not loads)
    assert "leaked" not in out.stderr

"""The analytics computed a shard of the agents at a time (report.build_sharded, and the
asset's reads: analytics.assets.build_tables) give exactly the tables the whole frames give
(report.build_all), on the shipped sample."""

import json
import shutil

import duckdb
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from .conftest import REPO, mart_fingerprints, sample_warehouse  # noqa: F401

TRUTH = json.loads((REPO / "data" / "sample_truth.json").read_text())


@pytest.fixture(scope="module")
def whole(sample_warehouse):  # noqa: F811
    """The sample's frames (30-day window) and the tables build_all gives from them."""
    from orchestration.analytics.report import build_all
    from orchestration.defs.analytics.assets import read_inputs

    with duckdb.connect(sample_warehouse["DUCKDB_PATH"], read_only=True) as conn:
        frames = read_inputs(conn, window_days=30)
    return frames, build_all(**frames)


def assert_tables_equal(got: dict, expected: dict) -> None:
    assert set(got) == set(expected)
    for name in expected:
        assert_frame_equal(got[name], expected[name], check_exact=True, obj=name)


def test_shards_split_by_hand_give_the_whole_frames_tables(whole):
    """Agents split into three uneven shards (the planted idle agents, whose executions end
    before the window does; two agents; the rest) and the endpoints into two groups: every
    table equals build_all's, to the bit. (Not one agent alone: pandas sums the floats of a
    group-by with a single group without its usual compensation, e.g. 999.9899999999999
    where two or more groups give 999.99, so a one-agent shard can differ in the last bit.)"""
    from orchestration.analytics import prompt_cache as pc
    from orchestration.analytics.report import Windows, build_sharded

    frames, expected = whole
    idle = set(TRUTH["idle_agents"])
    others = [a for a in frames["agents"]["agent_id"] if a not in idle]
    shard_of = {**{a: 0 for a in idle}, **{a: 1 for a in others[:2]}, **{a: 2 for a in others[2:]}}
    endpoints = sorted(frames["api_calls"]["endpoint"].dropna().unique())
    assert len(endpoints) >= 2

    def shard(i: int) -> dict:
        def mine(df):
            return df[df["agent_id"].map(shard_of) == i]
        return {"executions": mine(frames["executions"]), "llm_calls": mine(frames["llm_calls"]),
                "api_calls": mine(frames["api_calls"]), "agents": mine(frames["agents"])}

    groups = [frames["api_calls"][frames["api_calls"]["endpoint"].isin(endpoints[::2])],
              frames["api_calls"][~frames["api_calls"]["endpoint"].isin(endpoints[::2])]]
    windows = Windows.of(frames["executions"], frames["llm_calls"], frames["api_calls"])
    shards = [shard(i) for i in range(3)]
    # the split is real: each shard holds rows, and the idle agents' shard spans less than
    # the window (its own dates would give other monthly figures and periods)
    assert all(len(s["executions"]) for s in shards)
    assert shards[0]["executions"]["usage_date"].max() < frames["executions"]["usage_date"].max()
    cache = pc.fingerprint_prefix_cache(frames["llm_calls"], frames["prices"], window=windows.llm_calls)
    got = build_sharded(shards, groups, frames["agents"], frames["prices"], frames["rate_card"], windows, cache,
                        frames["gpu_samples"])
    assert_tables_equal(got, expected)


def test_the_warehouse_read_in_shards_gives_the_whole_frames_tables(sample_warehouse, whole):  # noqa: F811
    """build_tables with a shard size well under the sample's rows plans several agent shards
    and endpoint groups, reads them with their own SQL, replays the prompt cache in DuckDB,
    and gives build_all's tables."""
    from dagster_duckdb import DuckDBResource

    from orchestration.defs.analytics.assets import build_tables

    _, expected = whole
    with duckdb.connect(sample_warehouse["DUCKDB_PATH"], read_only=True) as conn:
        rows = conn.execute("""select (select count(*) from marts.fct_resource_utilization)
                                    + (select count(*) from marts.fct_llm_calls)
                                    + (select count(*) from marts.fct_api_calls)""").fetchone()[0]
        api_rows = conn.execute("select count(*) from marts.fct_api_calls").fetchone()[0]
    per_shard = rows // 5 + 1
    got, read = build_tables(DuckDBResource(database=sample_warehouse["DUCKDB_PATH"]), 30, per_shard)
    assert read["rows"] == rows  # the sample is 30 days: the window holds every row
    assert read["agent_shards"] == 5
    assert read["endpoint_groups"] >= -(-api_rows // per_shard) >= 2
    assert_tables_equal(got, expected)


def test_the_asset_writes_the_sharded_tables_and_says_how_it_read(sample_warehouse, tmp_path):  # noqa: F811
    """The asset with a small rows_per_shard writes the tables it writes reading the whole
    frames (every analytics table equal, row for row), and each materialization names the
    shards it read."""
    import dagster as dg
    from dagster_duckdb import DuckDBResource

    from orchestration.defs.analytics.assets import TABLES, analytics_tables

    def materialize(rows_per_shard: int):
        copy = tmp_path / f"w{rows_per_shard}.duckdb"
        shutil.copy(sample_warehouse["DUCKDB_PATH"], copy)
        result = dg.materialize(
            [analytics_tables], resources={"duckdb": DuckDBResource(database=str(copy))},
            run_config={"ops": {"analytics_tables": {"config": {"rows_per_shard": rows_per_shard}}}})
        assert result.success
        meta = {m.asset_key.path[-1]: m.metadata for m in result.asset_materializations_for_node("analytics_tables")}
        return copy, meta["findings"]

    sharded, sharded_meta = materialize(10_000)
    whole_file, whole_meta = materialize(10_000_000)
    assert sharded_meta["agent_shards"].value > 1 and sharded_meta["endpoint_groups"].value > 1
    assert whole_meta["agent_shards"].value == 1
    assert sharded_meta["rows_analysed"].value == whole_meta["rows_analysed"].value
    got, expected = (mart_fingerprints(f, ("analytics",)) for f in (sharded, whole_file))
    assert {f"analytics.{t}" for t in TABLES} <= set(expected)
    assert got == expected


def test_a_shard_without_the_window_s_first_days_is_judged_over_the_whole_window():
    """Agent b ran 3 times, all on the window's last day; its shard alone spans one day. Over
    the fleet's 10-day window it ran 0.3 times a day, under the idle threshold of 1: idle,
    saving its allocation held all month. Over its own day it would run 3 a day: busy."""
    from orchestration.analytics import waste as w
    from orchestration.analytics.findings import Window

    days = pd.date_range("2026-11-01", "2026-11-10", freq="D")
    fleet = pd.DataFrame({"agent_id": ["a"] * 10 + ["b"] * 3, "usage_date": list(days) + [days[-1]] * 3})
    b = fleet[fleet["agent_id"] == "b"]
    agents = pd.DataFrame({"agent_id": ["b"], "workspace_id": ["ws"], "allocated_cpu_cores": [2.0],
                           "allocated_memory_mb": [4096.0], "allocated_gpus": [0]})
    rates = {"cpu_core_hour": 0.06, "memory_gb_hour": 0.004, "gpu_hour": 1.0, "storage_gb_month": 0.023}
    table, rows = w.idle_agents(b, agents, rates, window=Window.of(fleet["usage_date"]))
    assert table.loc[0, "executions_per_day"] == pytest.approx(0.3)
    # 2 cores x $0.06 + 4 GB x $0.004 = $0.136 an hour, 30.4 x 24 hours
    assert [(r["subject_id"], r["monthly_saving_usd"], r["period"]) for r in rows] == [
        ("b", pytest.approx(0.136 * 729.6, abs=1e-6), "2026-11-01..2026-11-10 (10 days)")]
    alone, rows_alone = w.idle_agents(b, agents, rates)
    assert alone.loc[0, "executions_per_day"] == 3 and rows_alone == []


def test_pack_balances_the_rows_and_leaves_no_id_alone():
    """By hand: weights 100, 10, 9, 8, 1, 0 into 3 lists. Largest first into the lightest list:
    a=100 -> L0; b=10 -> L1; c=9 -> L2; d=8 -> L2 (9 < 10); e=1 -> L1 (10 < 17); f=0 -> L1
    (11 < 17). L0 = [a] is alone: it takes the longest list's (L1) last, lightest id, f."""
    from orchestration.defs.analytics.assets import pack

    weights = [("b", 10), ("a", 100), ("d", 8), ("c", 9), ("f", 0), ("e", 1)]
    assert pack(weights, 3) == [["a", "f"], ["b", "e"], ["c", "d"]]
    # never more lists than half the ids; one list for one id; the null id is an id
    assert pack(weights, 10) == pack(weights, 3)
    assert pack([("x", 5)], 4) == [["x"]]
    assert pack([(None, 7), ("x", 5), ("y", 1)], 2) == [[None, "x", "y"]]
    assert sorted(k for ids in pack([(str(i), i % 7) for i in range(50)], 9) for k in ids) == sorted(map(str, range(50)))

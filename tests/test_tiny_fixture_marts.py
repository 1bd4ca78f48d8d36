"""Four executions, two agents, two days across a month end: every mart number by hand.

Rates (rate card seed): CPU $0.06/core-hour, memory $0.004/GB-hour, GPU $0.0001/unit,
network $0.01/GiB, storage $0.023/GB-month. Prices per million tokens: gpt-4o-mini
0.15 input / 0.075 cached / 0.60 output; gpt-4o 2.50 / 1.25 / 10.00.

e1 agt_a 10-31: 30 core-s -> $0.0005; 61,440 MB-s = 60 GB-s -> $0.0000666667; 512 MB
    persisted -> $0.0115; 1 GiB network -> $0.01; 3,000 uncached + 1,000 cached + 1,000 out
    -> $0.00045 + $0.000075 + $0.0006 = $0.001125; one API call $0.002. Total $0.0251916667.
e2 agt_b 10-31 (failed): 240 core-s -> $0.004; 240 GB-s -> $0.0002666667; 1,000 GPU units
    -> $0.10; 0.5 GiB -> $0.005; 3,000 in + 3,000 out -> $0.0075 + $0.03. Total $0.1467666667.
e3 agt_a 11-01: 15 core-s -> $0.00025; 30 GB-s -> $0.0000333333; 8,000 in + 500 out
    -> $0.0012 + $0.0003. Total $0.0017833333.
e4 agt_b 11-01 (started 12:00+02:00 = 10:00 UTC): 60 core-s -> $0.001; 60 GB-s ->
    $0.0000666667; 488 uncached + 512 cached + 1,000 out -> $0.00122 + $0.00064 + $0.01;
    a 429 and its successful retry $0.001 + $0.005. Total $0.0189266667.
r4: an API call with no execution, agt_a 11-01, $0.003.
Budgets: agt_a 10,000 tokens/day; agt_b 5,000/day and $0.10/month.
"""

from decimal import Decimal as D

import duckdb
import pytest

from orchestration.pricing.catalog import build_price_catalog, write_price_catalog
from orchestration.ingest.loader import ensure_raw_schema, files_for_dates, load_file
from orchestration.ingest.sources import SOURCES

from .conftest import BIN, TINY, copy_dbt_project, run

CENT_FRACTION = D("0.000000001")


@pytest.fixture(scope="module")
def tiny_warehouse(tmp_path_factory):
    from datetime import date, datetime, timezone

    root = tmp_path_factory.mktemp("tiny")
    database = root / "warehouse.duckdb"
    with duckdb.connect(str(database)) as conn:
        ensure_raw_schema(conn)
        write_price_catalog(conn, build_price_catalog())  # what the raw/model_price_catalog asset writes
        for spec in SOURCES.values():
            for path in files_for_dates(TINY / "raw", spec, [date(2026, 10, 31), date(2026, 11, 1)]):
                report = load_file(conn, spec, path, TINY / "raw", now=datetime(2026, 11, 24, tzinfo=timezone.utc))
                assert report.rows_rejected == 0, report
    project = copy_dbt_project(root, seeds_from=TINY / "seeds")
    run([str(BIN / "dbt"), "build", "--profiles-dir", "."], env={"DUCKDB_PATH": str(database)}, cwd=project)
    with duckdb.connect(str(database), read_only=True) as conn:
        yield conn


def rows(conn, sql):
    cursor = conn.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r)) for r in cursor.fetchall()]


def close(actual, expected):
    return abs(D(actual) - D(expected)) < CENT_FRACTION


def test_each_execution_cost_component(tiny_warehouse):
    expected = {
        "e1": dict(cpu_cost="0.0005", memory_cost="0.0000666667", gpu_cost="0", storage_cost="0.0115",
                   network_cost="0.01", token_cost="0.001125", api_cost="0.002", total_cost="0.0251916667"),
        "e2": dict(cpu_cost="0.004", memory_cost="0.0002666667", gpu_cost="0.1", storage_cost="0",
                   network_cost="0.005", token_cost="0.0375", api_cost="0", total_cost="0.1467666667"),
        "e3": dict(cpu_cost="0.00025", memory_cost="0.0000333333", gpu_cost="0", storage_cost="0",
                   network_cost="0", token_cost="0.0015", api_cost="0", total_cost="0.0017833333"),
        "e4": dict(cpu_cost="0.001", memory_cost="0.0000666667", gpu_cost="0", storage_cost="0",
                   network_cost="0", token_cost="0.01186", api_cost="0.006", total_cost="0.0189266667"),
    }
    got = {r["execution_id"]: r for r in rows(tiny_warehouse, "select * from marts.fct_resource_utilization")}
    assert set(got) == set(expected)
    for execution_id, costs in expected.items():
        for column, value in costs.items():
            assert close(got[execution_id][column], value), (execution_id, column, got[execution_id][column], value)
    e4 = got["e4"]
    assert str(e4["timestamp"]) == "2026-11-01 10:00:00" and str(e4["usage_date"]) == "2026-11-01"
    assert (e4["input_tokens"], e4["prompt_cache_hits"], e4["uncached_input_tokens"]) == (1000, 512, 488)
    assert got["e2"]["status"] == "failed" and str(got["e1"]["price_valid_from"]) == "2024-07-18"


def test_cost_allocation_per_agent_day_and_rolling_window(tiny_warehouse):
    got = {
        (r["agent_id"], str(r["usage_date"])): r
        for r in rows(tiny_warehouse, "select * from marts.mart_infrastructure_cost_allocation")
    }
    assert set(got) == {("agt_a", "2026-10-31"), ("agt_a", "2026-11-01"), ("agt_b", "2026-10-31"), ("agt_b", "2026-11-01")}
    assert close(got["agt_a", "2026-11-01"]["api_cost"], "0.003")  # the call with no execution is still charged
    assert close(got["agt_a", "2026-11-01"]["total_cost"], "0.0047833333")
    assert close(got["agt_a", "2026-11-01"]["rolling_30d_cost"], "0.029975")
    assert close(got["agt_b", "2026-10-31"]["gpu_cost"], "0.1")
    assert close(got["agt_b", "2026-11-01"]["rolling_30d_cost"], "0.1656933333")
    # the allocation allocates exactly what was spent
    total = sum(D(r["total_cost"]) for r in got.values())
    assert close(total, D("0.0251916667") + D("0.1467666667") + D("0.0017833333") + D("0.0189266667") + D("0.003"))


def test_token_budget_tracking_by_hand(tiny_warehouse):
    got = {
        (r["agent_id"], str(r["usage_date"])): r
        for r in rows(tiny_warehouse, "select * from marts.mart_token_budget_tracking")
    }
    a1, a2, b1, b2 = got["agt_a", "2026-10-31"], got["agt_a", "2026-11-01"], got["agt_b", "2026-10-31"], got["agt_b", "2026-11-01"]
    # agt_a: 5,000 of 10,000 (50%), then 8,500 (85%: above 80% -> near_limit)
    assert (a1["daily_total_tokens"], a1["daily_budget_usage_pct"], a1["budget_status"]) == (5000, 50.0, "within_budget")
    assert (a2["daily_total_tokens"], a2["daily_budget_usage_pct"], a2["budget_status"]) == (8500, 85.0, "near_limit")
    assert a2["rolling_30d_tokens"] == 13500
    # agt_b: 6,000 of 5,000 (120%) -> over_budget; then 2,000 (40%)
    assert (b1["daily_total_tokens"], b1["daily_budget_usage_pct"], b1["budget_status"]) == (6000, 120.0, "over_budget")
    assert (b2["daily_budget_usage_pct"], b2["budget_status"], b2["rolling_30d_tokens"]) == (40.0, "within_budget", 8000)
    # calendar months: November starts from zero
    assert (b1["month_to_date_tokens"], b2["month_to_date_tokens"]) == (6000, 2000)
    assert str(b2["budget_month"]) == "2026-11-01"
    # cost budget $0.10/month: October spent $0.1468 -> over; November $0.0189 -> within
    assert b1["cost_budget_status"] == "over_budget" and close(b1["month_to_date_cost"], "0.1467666667")
    assert b2["cost_budget_status"] == "within_budget" and round(b2["cost_budget_usage_pct"], 2) == 18.93


def test_daily_usage_by_model(tiny_warehouse):
    got = {
        (r["agent_id"], r["model"], str(r["usage_date"])): r
        for r in rows(tiny_warehouse, "select * from marts.mart_daily_usage")
    }
    assert set(got) == {
        ("agt_a", "gpt-4o-mini", "2026-10-31"), ("agt_a", "gpt-4o-mini", "2026-11-01"),
        ("agt_b", "gpt-4o", "2026-10-31"), ("agt_b", "gpt-4o", "2026-11-01"),
        ("agt_a", "(no execution)", "2026-11-01"),
    }
    e1 = got["agt_a", "gpt-4o-mini", "2026-10-31"]
    assert (e1["executions"], e1["llm_calls"], e1["api_calls"]) == (1, 1, 1)
    assert (e1["input_tokens"], e1["cached_input_tokens"], e1["uncached_input_tokens"], e1["output_tokens"]) == (4000, 1000, 3000, 1000)
    b1 = got["agt_b", "gpt-4o", "2026-10-31"]
    assert (b1["failed_executions"], b1["failed_llm_calls"]) == (1, 1)
    assert close(b1["total_cost"], "0.1467666667") and close(b1["compute_cost"], "0.1042666667")
    orphan = got["agt_a", "(no execution)", "2026-11-01"]
    assert (orphan["api_calls"], orphan["executions"]) == (1, 0) and close(orphan["total_cost"], "0.003")


def test_llm_call_costs_match_their_execution(tiny_warehouse):
    by_call = dict(tiny_warehouse.execute("select call_id, token_cost from marts.fct_llm_calls").fetchall())
    assert close(by_call["c1"], "0.001125") and close(by_call["c4"], "0.01186")

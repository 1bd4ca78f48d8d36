"""Chargeback and the issue-4 marts on the shipped sample (built once, read-only)."""

import csv
import json
import shutil
from decimal import Decimal as D
from pathlib import Path

import duckdb
import pytest

from .conftest import BIN, REPO, run

ISSUE4_MODELS = [
    "fct_cost_ledger", "mart_chargeback_daily", "mart_chargeback_monthly", "mart_cost_per_query",
    "mart_quota_usage", "mart_api_usage_daily", "mart_api_usage_monthly", "mart_api_errors_daily",
    "mart_component_compute_hourly", "mart_container_compute_hourly", "mart_query_performance",
    "mart_query_performance_daily", "mart_queries_per_minute", "mart_agent_daily_cost",
]


@pytest.fixture(scope="module")
def conn(sample_warehouse):
    with duckdb.connect(sample_warehouse["DUCKDB_PATH"], read_only=True) as c:
        yield c


def test_chargeback_by_department_user_and_project_each_sum_to_the_allocation_total(conn):
    allocation_total = conn.execute("select sum(total_cost) from marts.mart_infrastructure_cost_allocation").fetchone()[0]
    assert allocation_total > 0
    rows = conn.execute("select department, user_id, project, amount_usd from marts.mart_chargeback_monthly").fetchall()
    for index, name in ((0, "department"), (1, "user"), (2, "project")):
        by_group: dict[str, D] = {}
        for row in rows:
            by_group[row[index]] = by_group.get(row[index], D(0)) + row[3]
        assert len(by_group) > 1, name
        assert round(sum(by_group.values()), 2) == round(allocation_total, 2), name
    daily = conn.execute("select sum(total_cost) from marts.mart_chargeback_daily").fetchone()[0]
    assert round(daily, 2) == round(allocation_total, 2)


def test_the_cloud_bill_is_charged_in_full_and_matches_the_focus_files(conn):
    billed = D(0)
    for path in sorted((REPO / "data" / "raw" / "focus").glob("*.csv")):
        billed += sum(D(r["BilledCost"]) for r in csv.DictReader(path.open()) if r["BilledCost"] not in ("", "NULL"))
    charged = conn.execute(
        "select sum(amount_usd) from marts.fct_cost_ledger where cost_component like 'cloud_%'").fetchone()[0]
    in_allocation = conn.execute(
        "select sum(cloud_direct_cost + cloud_shared_cost) from marts.mart_infrastructure_cost_allocation").fetchone()[0]
    assert billed > 0 and charged == billed and in_allocation == billed  # exact, not rounded


def test_api_usage_for_a_period_is_computed_over_the_calls_not_averaged(conn):
    period = conn.execute(
        "select agent_id, endpoint, total_calls, p95_latency_ms from "
        "marts.api_usage_for_period(date '2026-10-20', date '2026-10-26') order by total_calls desc limit 1").fetchone()
    agent, endpoint, calls, p95 = period
    latencies = sorted(r[0] for r in conn.execute(
        "select latency_ms from marts.fct_api_calls where agent_id = ? and endpoint = ? "
        "and usage_date between '2026-10-20' and '2026-10-26'", [agent, endpoint]).fetchall())
    assert len(latencies) == calls
    # linear interpolation between closest ranks, computed here by hand
    position = 0.95 * (len(latencies) - 1)
    low = int(position)
    expected = latencies[low] + (position - low) * (latencies[min(low + 1, len(latencies) - 1)] - latencies[low])
    assert p95 == pytest.approx(expected)


def test_the_rate_limited_endpoint_shows_throttling_and_retries(conn):
    truth = json.loads((REPO / "data" / "sample_truth.json").read_text())
    endpoint = truth["rate_limited_endpoints"][0]
    limited, retried, succeeded, others = conn.execute(
        "select sum(rate_limited_calls) filter (where endpoint = ?), sum(retried_requests) filter (where endpoint = ?), "
        "sum(retried_requests_succeeded) filter (where endpoint = ?), sum(rate_limited_calls) filter (where endpoint <> ?) "
        "from marts.mart_api_usage_monthly", [endpoint] * 4).fetchone()
    assert limited > 10 * max(others, 1) and 0 < succeeded <= retried


def test_monthly_retry_counts_are_the_months_retry_chains(conn):
    """mart_api_usage_monthly sums its days' retry counts (mart_api_usage_daily); the second
    method counts the month's chains in int_api_retry_chains directly (a chain belongs to the
    month of its first attempt, with its own agent and endpoint): every row equal, none lost."""
    got = conn.execute(
        "select workspace_id, agent_id, endpoint, usage_month, retried_requests, retried_requests_succeeded "
        "from marts.mart_api_usage_monthly where retried_requests > 0 order by all").fetchall()
    expected = conn.execute(
        "select workspace_id, agent_id, endpoint, cast(date_trunc('month', usage_date) as date), "
        "count(*) filter (where was_retried), count(*) filter (where was_retried and eventually_succeeded) "
        "from intermediate.int_api_retry_chains group by all having count(*) filter (where was_retried) > 0 "
        "order by all").fetchall()
    assert len(got) > 10 and got == expected


def test_quotas_crossed_in_the_sample(conn):
    rows = {(r[0], r[1], str(r[2])): r[3:] for r in conn.execute(
        "select scope_id, period, period_start, tokens_used, token_quota, quota_crossed_on from marts.mart_quota_usage").fetchall()}
    october = rows[("engineering", "month", "2026-10-01")]
    assert october[0] > october[1] and october[2] is not None  # engineering's October quota was crossed
    # recompute engineering's October tokens from the raw exports
    agents = {r["agent_id"]: r["department"] for r in csv.DictReader((REPO / "dbt_project/seeds/agents.csv").open())}
    tokens = 0
    for path in (REPO / "data" / "raw" / "executions").glob("executions_2026-10-*.jsonl"):
        for line in path.read_text().splitlines():
            e = json.loads(line)
            if agents[e["agent_id"]] == "engineering":
                tokens += e["llm_resources"]["total_tokens"]
    for path in (REPO / "data" / "raw" / "otel_genai_spans").glob("otel_genai_spans_2026-10-*.json"):
        for rs in json.loads(path.read_text())["resourceSpans"]:
            for span in rs["scopeSpans"][0]["spans"]:
                a = {x["key"]: x["value"] for x in span["attributes"]}
                if "gen_ai.agent.id" in a and agents[a["gen_ai.agent.id"]["stringValue"]] == "engineering":
                    tokens += int(a["gen_ai.usage.input_tokens"]["intValue"]) + int(a["gen_ai.usage.output_tokens"]["intValue"])
    assert october[0] == tokens


def test_dbt_docs_generate_and_every_issue4_column_is_described(sample_warehouse, tmp_path):
    project = tmp_path / "dbt_project"
    shutil.copytree(REPO / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs"))
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(sample_warehouse["DUCKDB_PATH"], copy)  # docs generate opens the file for writing
    run([str(BIN / "dbt"), "docs", "generate", "--profiles-dir", "."], env={"DUCKDB_PATH": str(copy)}, cwd=project)
    manifest = json.loads((project / "target" / "manifest.json").read_text())
    catalog = json.loads((project / "target" / "catalog.json").read_text())
    undescribed = []
    for model in ISSUE4_MODELS:
        node = manifest["nodes"][f"model.agent_resource_warehouse.{model}"]
        assert node["description"].strip(), model
        columns = catalog["nodes"][f"model.agent_resource_warehouse.{model}"]["columns"]
        for column in columns:
            if not node["columns"].get(column, {}).get("description", "").strip():
                undescribed.append(f"{model}.{column}")
    assert undescribed == []

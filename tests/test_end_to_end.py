"""The shipped sample through the real commands, against real DuckDB files.

`warehouse build` is the README's run command (the Dagster job as one run); the second
path uses the plain `dagster asset materialize` CLI. Expected figures are recomputed from
the raw export files in Python, not read back from the warehouse.
"""

import csv
import json
import shutil
from collections import Counter, defaultdict
from decimal import Decimal as D
from pathlib import Path

import duckdb
import pytest

from .conftest import BIN, REPO, mart_fingerprints, run, warehouse_env

SAMPLE = REPO / "data" / "raw"
MARTS = ["fct_resource_utilization", "mart_daily_usage", "mart_token_budget_tracking", "mart_infrastructure_cost_allocation"]


def _jsonl(folder: str):
    for path in sorted((SAMPLE / folder).glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                yield json.loads(line)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    env = warehouse_env(tmp)
    proc = run([str(BIN / "warehouse"), "build"], env=env)
    assert "succeeded" in proc.stdout, proc.stdout
    return tmp, env, proc.stdout


def test_build_populates_every_mart_and_keeps_every_row(built):
    tmp, env, _ = built
    executions = list(_jsonl("executions"))
    calls = list(_jsonl("llm_calls"))
    api_rows = [r for p in sorted((SAMPLE / "api_calls").glob("*.csv")) for r in csv.DictReader(p.open())]
    with duckdb.connect(env["DUCKDB_PATH"], read_only=True) as conn:
        count = lambda t: conn.execute(f"select count(*) from {t}").fetchone()[0]  # noqa: E731
        for mart in MARTS:
            assert count(f"marts.{mart}") > 0, mart
        assert count("raw.executions") == count("marts.fct_resource_utilization") == len(executions)
        assert count("raw.llm_calls") + count("raw.litellm_spend_logs") + count("raw.otel_genai_spans") == count("marts.fct_llm_calls")
        assert count("raw.llm_calls") == len(calls)
        assert count("raw.api_calls") == count("marts.fct_api_calls") == len(api_rows)
        assert count("raw.rejects") == 0
        # conservation, file by file, against line counts taken here
        logged = dict(conn.execute("select source_file, rows_read from raw.load_log").fetchall())
        for folder in ("executions", "llm_calls"):
            for path in (SAMPLE / folder).glob("*.jsonl"):
                assert logged[f"{folder}/{path.name}"] == len(path.read_text().splitlines())
        # one row per agent per active day in the allocation and budget marts
        agents = count("marts.dim_agents")
        days = len({e["timestamp"][:10] for e in executions} | {r["timestamp"][:10] for r in api_rows})
        assert count("marts.mart_infrastructure_cost_allocation") == agents * days
        assert count("marts.mart_token_budget_tracking") == agents * days


def test_the_build_prints_every_raw_and_marts_table_with_its_rows_and_no_view(built):
    """The summary `warehouse build` prints: one line per raw/marts table with its row count,
    counted here; views (raw.duplicate_keys, whose count groups every stored key) are not
    counted."""
    import re

    _, env, stdout = built
    printed = {m[1]: int(m[2].replace(",", "")) for m in re.finditer(r"^  ((?:raw|marts)\.\w+) +([\d,]+) rows$", stdout, re.M)}
    with duckdb.connect(env["DUCKDB_PATH"], read_only=True) as conn:
        kinds = dict(conn.execute("select table_schema || '.' || table_name, table_type from information_schema.tables "
                                  "where table_schema in ('raw', 'marts')").fetchall())
        expected = {t: conn.execute(f"select count(*) from {t}").fetchone()[0] for t, k in kinds.items() if k == "BASE TABLE"}
    assert kinds["raw.duplicate_keys"] == "VIEW" and "raw.duplicate_keys" not in printed
    assert printed == expected and printed["marts.fct_llm_calls"] > 0


def test_money_reconciles_with_the_raw_exports(built):
    _, env, _ = built
    api_cost = sum(D(r["cost_usd"]) for p in (SAMPLE / "api_calls").glob("*.csv") for r in csv.DictReader(p.open()))
    tokens = Counter()
    for e in _jsonl("executions"):
        tokens[e["agent_id"]] += e["llm_resources"]["total_tokens"]
    # calls made outside executions count against the agent's budget too
    for path in sorted((SAMPLE / "litellm_spend_logs").glob("*.json")):
        for row in json.loads(path.read_text()):
            tokens[row["agent_id"]] += row["total_tokens"]
    for path in sorted((SAMPLE / "otel_genai_spans").glob("*.json")):
        for rs in json.loads(path.read_text())["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                for span in ss["spans"]:
                    attrs = {a["key"]: a["value"] for a in span["attributes"]}
                    if "gen_ai.agent.id" in attrs:
                        tokens[attrs["gen_ai.agent.id"]["stringValue"]] += int(
                            attrs["gen_ai.usage.input_tokens"]["intValue"]) + int(attrs["gen_ai.usage.output_tokens"]["intValue"])
    with duckdb.connect(env["DUCKDB_PATH"], read_only=True) as conn:
        allocated_api, allocated_total = conn.execute(
            "select sum(api_cost), sum(total_cost) from marts.mart_infrastructure_cost_allocation").fetchone()
        execution_total_without_api, = conn.execute(
            "select sum(total_cost - api_cost) from marts.fct_resource_utilization").fetchone()
        outside_executions, = conn.execute(
            "select coalesce(sum(token_cost), 0) from marts.fct_llm_calls where is_outside_executions").fetchone()
        cloud_in_allocation, = conn.execute(
            "select sum(cloud_direct_cost + cloud_shared_cost) from marts.mart_infrastructure_cost_allocation").fetchone()
        budget_tokens = dict(conn.execute(
            "select agent_id, sum(daily_total_tokens) from marts.mart_token_budget_tracking group by 1").fetchall())
        usage_total, = conn.execute("select sum(total_cost) from marts.mart_daily_usage").fetchone()
    assert allocated_api == api_cost  # exact, not rounded: DECIMAL end to end
    # the cloud bill, summed from the FOCUS files here
    billed = sum(D(r["BilledCost"]) for p in (SAMPLE / "focus").glob("*.csv") for r in csv.DictReader(p.open())
                 if r["BilledCost"] not in ("", "NULL"))
    assert cloud_in_allocation == billed
    assert round(allocated_total, 2) == round(execution_total_without_api + outside_executions + api_cost + billed, 2)
    assert round(usage_total, 2) == round(allocated_total - billed, 2)  # daily usage has no cloud bill
    assert budget_tokens == dict(tokens) | {a: 0 for a in budget_tokens if a not in tokens}


def test_token_cost_matches_genai_prices_on_a_sample_of_executions(built):
    from genai_prices import Usage, calc_price

    _, env, _ = built
    executions = {e["execution_id"]: e for e in _jsonl("executions")}
    with duckdb.connect(env["DUCKDB_PATH"], read_only=True) as conn:
        priced = conn.execute(
            "select execution_id, token_cost from marts.fct_resource_utilization using sample 150 rows (reservoir, 7)"
        ).fetchall()
    for execution_id, token_cost in priced:
        llm = executions[execution_id]["llm_resources"]
        usage = Usage(input_tokens=llm["input_tokens"], cache_read_tokens=llm["prompt_cache_hits"],
                      output_tokens=llm["output_tokens"])
        expected = calc_price(usage, model_ref=llm["model"], provider_id=llm["provider"]).total_price
        assert abs(D(token_cost) - D(expected)) < D("0.000000001"), (execution_id, llm["model"], token_cost, expected)


def test_planted_budget_breaches_show_in_the_budget_mart(built):
    _, env, _ = built
    truth = json.loads((REPO / "data" / "sample_truth.json").read_text())
    with duckdb.connect(env["DUCKDB_PATH"], read_only=True) as conn:
        status_days = defaultdict(Counter)
        for agent, status, n in conn.execute(
            "select agent_id, budget_status, count(*) from marts.mart_token_budget_tracking group by 1, 2"
        ).fetchall():
            status_days[agent][status] = n
    for agent in truth["over_budget_agents"]:
        assert status_days[agent]["over_budget"] >= 15, (agent, status_days[agent])
    for agent in truth["near_limit_agents"]:
        assert status_days[agent]["near_limit"] >= 15, (agent, status_days[agent])
    flagged = {a for a, c in status_days.items() if c["over_budget"] or c["near_limit"]}
    assert flagged == set(truth["over_budget_agents"]) | set(truth["near_limit_agents"])


def test_rebuilding_on_the_same_files_changes_no_mart(built):
    tmp, env, _ = built
    log = "select * from raw.load_log order by all"
    with duckdb.connect(env["DUCKDB_PATH"], read_only=True) as conn:
        log_before = conn.execute(log).fetchall()
    before = mart_fingerprints(Path(env["DUCKDB_PATH"]))
    proc = run([str(BIN / "warehouse"), "build"], env=env)
    assert mart_fingerprints(Path(env["DUCKDB_PATH"])) == before
    with duckdb.connect(env["DUCKDB_PATH"], read_only=True) as conn:
        assert conn.execute(log).fetchall() == log_before  # no file was reloaded, not even re-stamped


def test_a_file_delivered_twice_under_another_name_changes_no_mart(built, tmp_path):
    tmp, env, _ = built
    before = mart_fingerprints(Path(env["DUCKDB_PATH"]))
    raw_copy = tmp_path / "raw"
    shutil.copytree(SAMPLE, raw_copy)
    duplicate = raw_copy / "llm_calls" / "llm_calls_2026-10-20_resent.jsonl"
    shutil.copy(raw_copy / "llm_calls" / "llm_calls_2026-10-20.jsonl", duplicate)
    run([str(BIN / "warehouse"), "build"], env={**env, "RAW_DATA_DIR": str(raw_copy)})
    assert mart_fingerprints(Path(env["DUCKDB_PATH"])) == before
    with duckdb.connect(env["DUCKDB_PATH"], read_only=True) as conn:
        rejected = conn.execute(
            "select count(*), any_value(reason) from raw.rejects where source_file = 'llm_calls/llm_calls_2026-10-20_resent.jsonl'"
        ).fetchone()
    assert rejected[0] == len(duplicate.read_text().splitlines())
    assert "byte-identical to llm_calls/llm_calls_2026-10-20.jsonl" in rejected[1]


def test_plain_dagster_cli_materializes_a_partition_range_then_the_models(tmp_path):
    env = warehouse_env(tmp_path)
    module = ["-m", "orchestration.definitions"]
    run([str(BIN / "dagster"), "asset", "materialize", *module, "--select", "raw/executions,raw/llm_calls,raw/api_calls",
         "--partition-range", "2026-10-15...2026-10-17"], env=env)
    run([str(BIN / "dagster"), "asset", "materialize", *module, "--select",
         "group:reference or group:staging or group:intermediate or group:marts"], env=env)
    expected = sum(1 for d in ("15", "16", "17") for _ in (SAMPLE / "executions" / f"executions_2026-10-{d}.jsonl").open())
    with duckdb.connect(env["DUCKDB_PATH"], read_only=True) as conn:
        got = conn.execute("select count(*), min(usage_date)::varchar, max(usage_date)::varchar from marts.fct_resource_utilization").fetchone()
    assert got == (expected, "2026-10-15", "2026-10-17")


def test_the_run_reports_every_dbt_model_seed_and_test_the_manifest_lists(built, monkeypatch):
    """The dbt step (WarehouseDbtCliResource: no in-process dbt adapter, dbt's version from the
    installed package) streams a materialization for every model and seed and a check
    evaluation, passed, for every test on one, as dbt's manifest lists them: read here
    from target/manifest.json and from the run's events in the build's DAGSTER_HOME."""
    import dagster as dg

    _, env, _ = built
    manifest = json.loads((REPO / "dbt_project" / "target" / "manifest.json").read_text())
    nodes = manifest["nodes"].values()
    built_nodes = {n["name"] for n in nodes if n["resource_type"] in ("model", "seed")}
    # a data test on a model or seed, or a singular test that reads exactly one (dagster-dbt's
    # rule; a singular test over several models, e.g. a reconciliation, is no one asset's check)
    tests_on_nodes = {n["name"] for n in nodes if n["resource_type"] == "test" and (
        (n.get("attached_node") or "").startswith(("model.", "seed."))
        or (not n.get("attached_node") and len(n["depends_on"]["nodes"]) == 1
            and n["depends_on"]["nodes"][0].startswith(("model.", "seed."))))}
    assert len(built_nodes) > 50 and len(tests_on_nodes) > 150

    monkeypatch.setenv("DAGSTER_HOME", env["DAGSTER_HOME"])
    with dg.DagsterInstance.get() as instance:
        # the fixture's build is the first run in this DAGSTER_HOME (other tests build again in it)
        first = min(instance.get_run_records(), key=lambda r: r.create_timestamp)
        events = [e.dagster_event for e in instance.all_logs(first.dagster_run.run_id) if e.is_dagster_event]
    materialized = {e.asset_key.path[-1] for e in events if e.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION
                    and e.step_key == "warehouse_dbt"}
    checks = [e.event_specific_data for e in events if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
              and e.step_key == "warehouse_dbt"]
    assert materialized == built_nodes
    assert {c.check_name for c in checks} == tests_on_nodes and len(checks) == len(tests_on_nodes)
    assert all(c.passed for c in checks)


def test_the_duckdb_cli_analysts_use_can_read_the_warehouse(built):
    _, env, _ = built
    # analysts open the published copy (the working file may be locked by a run)
    proc = run([str(BIN / "duckdb"), "-readonly", "-csv", env["PUBLISHED_DUCKDB_PATH"], "-c",
                "select count(*) from marts.fct_resource_utilization"])
    with duckdb.connect(env["DUCKDB_PATH"], read_only=True) as conn:
        expected = conn.execute("select count(*) from marts.fct_resource_utilization").fetchone()[0]
    assert proc.stdout.strip().splitlines()[-1] == str(expected)

"""Provider and gateway exports end to end, on hand-made files priced by hand.

The tiny fixture (two agents, tests/fixtures/tiny) plus one file per adapter
(tests/fixtures/providers) for 2026-10-31, loaded and run through a real `dbt build`.
Prices per million tokens: gpt-4o-mini 0.15 in / 0.075 cached / 0.60 out; claude-haiku-4-5
1.00 in / 0.10 cache read / 1.25 5-minute write / 2.00 1-hour write / 5.00 out;
claude-sonnet-4-5 3.00 / 0.30 / 3.75 / 15.00.
"""

import json
import shutil
from datetime import date, datetime, timezone
from decimal import Decimal as D

import duckdb
import pytest

from orchestration.pricing.catalog import build_price_catalog, write_price_catalog
from orchestration.ingest.loader import ensure_raw_schema, files_for_dates, load_file
from orchestration.ingest.parsing import parse_file
from orchestration.ingest.sources import SOURCES

from .conftest import BIN, REPO, TINY, copy_dbt_project, run

PROVIDERS = REPO / "tests" / "fixtures" / "providers" / "raw"
CANARY = "PRIVATE-PROMPT-CANARY-7f3a"
VENDOR = REPO.parent / "shared" / "real-data" / "vendor_api_examples" / "openai_usage_costs_api_examples.json"


def close(actual, expected):
    return actual is not None and abs(D(actual) - D(expected)) < D("0.000000001")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("providers")
    raw = root / "raw"
    shutil.copytree(TINY / "raw", raw)
    shutil.copytree(PROVIDERS, raw, dirs_exist_ok=True)
    database = root / "warehouse.duckdb"
    now = datetime(2026, 11, 24, tzinfo=timezone.utc)
    with duckdb.connect(str(database)) as conn:
        ensure_raw_schema(conn)
        write_price_catalog(conn, build_price_catalog())  # what the raw/model_price_catalog asset writes
        for spec in SOURCES.values():
            for path in files_for_dates(raw, spec, [date(2026, 10, 31), date(2026, 11, 1)]):
                report = load_file(conn, spec, path, raw, now=now)
                assert report.rows_rejected == 0, (report, conn.execute("select reason from raw.rejects").fetchall())
    project = copy_dbt_project(root, seeds_from=TINY / "seeds")
    run([str(BIN / "dbt"), "build", "--profiles-dir", "."], env={"DUCKDB_PATH": str(database)}, cwd=project)
    with duckdb.connect(str(database), read_only=True) as conn:
        yield conn


def one(conn, sql, *params):
    cursor = conn.execute(sql, list(params))
    names = [d[0] for d in cursor.description]
    rows = cursor.fetchall()
    assert len(rows) == 1, rows
    return dict(zip(names, rows[0]))


def test_litellm_call_buckets_cost_and_reported_spend(warehouse):
    call = one(warehouse, "select * from marts.fct_llm_calls where call_id = 'chatcmpl-1'")
    # 2,000 prompt tokens of which 1,024 cached (LiteLLM's usage object is OpenAI-shaped)
    assert (call["uncached_input_tokens"], call["cached_input_tokens"], call["output_tokens"]) == (976, 1024, 500)
    assert (call["agent_id"], call["workspace_id"], call["source_system"]) == ("agt_a", "ws_one", "litellm")
    # 976 x 0.15 + 1,024 x 0.075 + 500 x 0.60 per million = 0.0001464 + 0.0000768 + 0.0003
    assert close(call["token_cost"], "0.0005232")
    assert close(call["reported_cost_usd"], "0.00052")


def test_an_unknown_model_is_kept_unpriced_and_listed(warehouse):
    call = one(warehouse, "select * from marts.fct_llm_calls where call_id = 'chatcmpl-2'")
    assert call["token_cost"] is None and call["is_priced"] is False and call["total_tokens"] == 1100
    listed = one(warehouse, "select * from marts.mart_unpriced_models where model = 'mystery-model-x'")
    assert (listed["seen_in"], listed["rows_unpriced"], listed["tokens_unpriced"]) == ("call logs", 1, 1100)


def test_otel_span_buckets_and_cost(warehouse):
    span = one(warehouse, "select * from marts.fct_llm_calls where source_system = 'otel'")
    # input 10,000 includes 4,000 cache reads and 1,000 cache writes (OTel convention)
    assert (span["uncached_input_tokens"], span["cached_input_tokens"], span["cache_write_tokens"], span["output_tokens"]) == (5000, 4000, 1000, 2000)
    assert (span["agent_id"], span["model"], span["latency_ms"]) == ("agt_b", "claude-sonnet-4-5", 1500)
    # 5,000 x 3 + 4,000 x 0.30 + 1,000 x 3.75 + 2,000 x 15 per million
    assert close(span["token_cost"], "0.04995")
    # the HTTP span in the same export is not an LLM call
    assert warehouse.execute("select count(*) from raw.otel_genai_spans").fetchone() == (1,)


def test_openai_usage_pages_and_bill(warehouse):
    bucket = one(warehouse, "select * from marts.fct_provider_usage where provider = 'openai' and model = 'gpt-4o-mini'")
    assert bucket["reported_model"] == "gpt-4o-mini-2024-07-18"
    assert (bucket["uncached_input_tokens"], bucket["cache_read_tokens"], bucket["output_tokens"]) == (8000, 2000, 3000)
    # 8,000 x 0.15 + 2,000 x 0.075 + 3,000 x 0.60 per million
    assert close(bucket["computed_cost"], "0.00315")
    assert warehouse.execute("select count(*) from marts.fct_provider_usage where provider = 'openai'").fetchone() == (2,)
    row = one(warehouse, "select * from marts.mart_cost_reconciliation where usage_date = '2026-10-31' "
                         "and provider = 'openai' and model = 'gpt-4o-mini'")
    assert close(row["billed_cost"], "0.0035")
    assert close(row["bill_vs_usage_diff_usd"], "0.00035") and row["bill_vs_usage_drift_pct"] == pytest.approx(11.1111, abs=1e-4)
    # the logs: the gateway's call c1 ($0.001125) and LiteLLM's chatcmpl-1 ($0.0005232)
    assert close(row["computed_cost_from_logs"], "0.0016482") and row["logged_calls"] == 2
    assert close(row["bill_vs_logs_diff_usd"], D("0.0035") - D("0.0016482"))
    assert close(row["reported_cost_in_logs"], "0.00052")  # LiteLLM spend (the gateway's cost_usd is 0 here)


def test_anthropic_usage_and_cost_report_in_cents_agree(warehouse):
    bucket = one(warehouse, "select * from marts.fct_provider_usage where provider = 'anthropic'")
    assert (bucket["uncached_input_tokens"], bucket["cache_read_tokens"], bucket["cache_write_tokens"],
            bucket["cache_write_1h_tokens"], bucket["output_tokens"]) == (1000, 2000, 600, 100, 400)
    # 1,000 x 1 + 2,000 x 0.10 + 500 x 1.25 (5-minute writes) + 100 x 2.00 (1-hour) + 400 x 5 per million
    assert close(bucket["computed_cost"], "0.004025")
    row = one(warehouse, "select * from marts.mart_cost_reconciliation where provider = 'anthropic' and model = 'claude-haiku-4-5'")
    assert close(row["billed_cost"], "0.004025")  # "0.4025" cents
    assert close(row["bill_vs_usage_diff_usd"], "0")


def test_calls_outside_executions_are_charged_to_their_agent(warehouse):
    a = one(warehouse, "select * from marts.mart_infrastructure_cost_allocation where agent_id = 'agt_a' and usage_date = '2026-10-31'")
    b = one(warehouse, "select * from marts.mart_infrastructure_cost_allocation where agent_id = 'agt_b' and usage_date = '2026-10-31'")
    assert close(a["token_cost_outside_executions"], "0.0005232")
    assert close(a["total_cost"], D("0.0251916667") + D("0.0005232"))  # e1 + the LiteLLM call
    assert close(b["total_cost"], D("0.1467666667") + D("0.04995"))   # e2 + the OTel span
    budget = one(warehouse, "select * from marts.mart_token_budget_tracking where agent_id = 'agt_b' and usage_date = '2026-10-31'")
    assert budget["daily_total_tokens"] == 6000 + 12000


def test_prompt_text_never_reaches_the_warehouse(warehouse):
    assert CANARY in (PROVIDERS / "litellm_spend_logs" / "litellm_spend_logs_2026-10-31.json").read_text()
    assert CANARY in (PROVIDERS / "otel_genai_spans" / "otel_genai_spans_2026-10-31.json").read_text()
    hits = []
    # every column of every table and view (cast: JSON, lists and structs hold text too)
    for schema, table, column in warehouse.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where table_catalog = current_database()").fetchall():
        n = warehouse.execute(f'select count(*) from "{schema}"."{table}" where cast("{column}" as varchar) like ?',
                              [f"%{CANARY}%"]).fetchone()[0]
        if n:
            hits.append((schema, table, column, n))
    assert hits == []


def test_the_openai_documentation_examples_parse_exactly():
    examples = json.loads(VENDOR.read_text())
    usage = examples["/organization/usage/completions"]
    path = PROVIDERS.parent / "_vendor_usage.json"
    try:
        path.write_text(json.dumps(usage))
        rows = parse_file(SOURCES["openai_usage"], path).rows
        path.write_text(json.dumps(examples["/organization/costs"]))
        costs = parse_file(SOURCES["openai_costs"], path).rows
    finally:
        path.unlink()
    assert len(rows) == 1
    assert (rows[0]["input_tokens"], rows[0]["input_cached_tokens"], rows[0]["output_tokens"], rows[0]["num_model_requests"]) == (1000, 400, 500, 5)
    assert rows[0]["bucket_start"] == datetime(2024, 11, 1)
    assert costs[0]["amount_usd"] == D("0.06") and costs[0]["currency"] == "usd"

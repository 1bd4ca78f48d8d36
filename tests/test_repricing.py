"""Re-pricing: an override row for gpt-4o-mini from 2026-11-01 (between the tiny fixture's
two days) changes the cost of the rows on and after that day only, by exactly the
hand-computed amount, and records which price version each row used.

Catalog (genai-prices) gpt-4o-mini: 0.15 input / 0.075 cached / 0.60 output per million.
Override from 2026-11-01 (a negotiated price): 0.10 / 0.05 / 0.40.

e1 / c1 (10-31, gpt-4o-mini): 3,000 uncached + 1,000 cached + 1,000 out, catalog price both
    times: $0.00045 + $0.000075 + $0.0006 = $0.001125, unchanged.
e3 / c3 (11-01, gpt-4o-mini): 8,000 uncached + 500 out.
    before: 8,000 x 0.15 + 500 x 0.60 per million = $0.0012 + $0.0003 = $0.0015
    after:  8,000 x 0.10 + 500 x 0.40 per million = $0.0008 + $0.0002 = $0.0010  (-$0.0005)
e2, e4 (gpt-4o): unchanged.
"""

import shutil
from datetime import date, datetime, timezone
from decimal import Decimal as D

import duckdb
import pytest

from orchestration.ingest.loader import ensure_raw_schema, files_for_dates, load_file
from orchestration.ingest.sources import SOURCES
from orchestration.pricing.catalog import build_price_catalog, write_price_catalog

from .conftest import BIN, TINY, copy_dbt_project, run

OVERRIDE = ("openai,gpt-4o-mini,2026-11-01,0.10,0.05,0.10,0.40,128000,,,"
            "negotiated price from November (test)\n")


def snapshot(database):
    with duckdb.connect(str(database), read_only=True) as conn:
        executions = {r[0]: r[1:] for r in conn.execute(
            "select execution_id, token_cost, total_cost, price_valid_from, price_source "
            "from intermediate.int_execution_costs").fetchall()}
        calls = {r[0]: r[1:] for r in conn.execute(
            "select call_id, token_cost, price_valid_from from marts.fct_llm_calls").fetchall()}
        prices = conn.execute(
            "select valid_from, valid_to, input_usd_per_mtok, price_source from intermediate.int_model_prices "
            "where provider = 'openai' and model = 'gpt-4o-mini' order by valid_from").fetchall()
    return executions, calls, prices


@pytest.fixture(scope="module")
def before_and_after(tmp_path_factory):
    root = tmp_path_factory.mktemp("repricing")
    database = root / "warehouse.duckdb"
    with duckdb.connect(str(database)) as conn:
        ensure_raw_schema(conn)
        for spec in SOURCES.values():
            for path in files_for_dates(TINY / "raw", spec, [date(2026, 10, 31), date(2026, 11, 1)]):
                load_file(conn, spec, path, TINY / "raw", now=datetime(2026, 11, 24, tzinfo=timezone.utc))
        # what the Dagster asset raw/model_price_catalog writes
        write_price_catalog(conn, build_price_catalog())
    project = copy_dbt_project(root, seeds_from=TINY / "seeds")
    env = {"DUCKDB_PATH": str(database)}
    run([str(BIN / "dbt"), "build", "--profiles-dir", "."], env=env, cwd=project)
    before = snapshot(database)
    overrides = project / "seeds" / "model_price_overrides.csv"
    overrides.write_text(overrides.read_text() + OVERRIDE)
    run([str(BIN / "dbt"), "build", "--profiles-dir", "."], env=env, cwd=project)
    after = snapshot(database)
    shutil.rmtree(project, ignore_errors=True)
    return before, after


def test_the_override_splits_the_price_history(before_and_after):
    (_, _, prices_before), (_, _, prices_after) = before_and_after
    assert prices_before == [(date(2024, 7, 18), None, D("0.15"), "genai-prices")]
    assert prices_after == [(date(2024, 7, 18), date(2026, 11, 1), D("0.15"), "genai-prices"),
                            (date(2026, 11, 1), None, D("0.10"), "override")]


def test_only_rows_from_the_override_on_change_cost_by_the_hand_computed_amount(before_and_after):
    (ex_before, calls_before, _), (ex_after, calls_after, _) = before_and_after
    assert set(ex_before) == set(ex_after) == {"e1", "e2", "e3", "e4"}
    for execution_id in ("e1", "e2", "e4"):
        assert ex_after[execution_id] == ex_before[execution_id], execution_id
    assert ex_before["e1"][0] == D("0.001125") and ex_before["e1"][2:] == (date(2024, 7, 18), "genai-prices")
    assert ex_before["e3"][0] == D("0.0015") and ex_before["e3"][2:] == (date(2024, 7, 18), "genai-prices")
    assert ex_after["e3"][0] == D("0.001") and ex_after["e3"][2:] == (date(2026, 11, 1), "override")
    assert ex_after["e3"][1] - ex_before["e3"][1] == D("-0.0005")  # total cost moves by the token cost only

    for call_id in ("c1", "c2", "c4"):
        assert calls_after[call_id] == calls_before[call_id], call_id
    assert calls_before["c3"] == (D("0.0015"), date(2024, 7, 18))
    assert calls_after["c3"] == (D("0.001"), date(2026, 11, 1))

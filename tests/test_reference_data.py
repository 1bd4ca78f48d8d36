"""Reference data and the sample generator: the price catalog agrees with genai-prices, the generator
is deterministic and its files agree with each other."""

import csv
import importlib.util
import json
from collections import defaultdict
import warnings
from datetime import date, datetime, time, timezone
from decimal import Decimal as D

import pandas as pd
import pytest
from genai_prices import Usage, calc_price

from orchestration.pricing.catalog import build_price_catalog, resolve_model

from .conftest import REPO


def given(value) -> bool:
    return value is not None and not pd.isna(value)


def test_model_price_catalog_matches_genai_prices():
    """Every dated price row of the catalog table (orchestration.pricing.catalog) equals what
    genai-prices itself charges on a day inside that period, bucket by bucket."""
    catalog = build_price_catalog()
    assert len(catalog) > 2000 and catalog["provider"].nunique() > 30
    assert not catalog.duplicated(["provider", "model", "valid_from"]).any()
    checked = 0
    for row in catalog.itertuples():
        note = row.price_note if isinstance(row.price_note, str) else ""
        if not given(row.input_usd_per_mtok) or not row.aliases or "time-of-day" in note:
            continue
        when = datetime.combine(row.valid_from, time(12), tzinfo=timezone.utc)
        tokens = 1_000  # x1000 below: under every tier threshold (the base tier is what the row holds)
        assert not given(row.tier_threshold_input_tokens) or row.tier_threshold_input_tokens > 2 * tokens

        def price(**usage):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                calc = calc_price(Usage(**usage), model_ref=row.aliases[0], provider_id=row.provider,
                                  genai_request_timestamp=when)
            assert calc.model.id == row.model
            return 1000 * calc.total_price

        fixed = price(input_tokens=0)  # per-request fees (Perplexity), not token prices
        base = price(input_tokens=tokens) - fixed
        assert base == row.input_usd_per_mtok, row
        if given(row.output_usd_per_mtok):
            assert price(input_tokens=tokens, output_tokens=tokens) - fixed - base == row.output_usd_per_mtok, row
        if given(row.cache_read_usd_per_mtok):
            assert price(input_tokens=tokens, cache_read_tokens=tokens) - fixed == row.cache_read_usd_per_mtok, row
        if given(row.cache_write_usd_per_mtok):
            assert price(input_tokens=tokens, cache_write_tokens=tokens) - fixed == row.cache_write_usd_per_mtok, row
        if given(row.cache_write_1h_usd_per_mtok):
            assert price(input_tokens=tokens, cache_write_tokens=tokens, cache_write_1h_tokens=tokens) - fixed \
                == row.cache_write_1h_usd_per_mtok, row
        if row.is_tiered and given(row.input_tier_usd_per_mtok):
            big = int(row.tier_threshold_input_tokens) + 1
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tier = calc_price(Usage(input_tokens=big), model_ref=row.aliases[0], provider_id=row.provider,
                                  genai_request_timestamp=when).total_price
            assert tier - fixed / 1000 == big * row.input_tier_usd_per_mtok / 1_000_000, row
        checked += 1
    assert checked > 2000


def test_export_model_strings_resolve_to_catalog_prices():
    """The sample's provider/model strings and dated variants of them, through genai-prices'
    own matching, land on the catalog rows whose aliases carry them."""
    catalog = build_price_catalog()
    aliases = {(r.provider, a): r.model for r in catalog.itertuples() for a in r.aliases}
    sample = {("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("openai", "gpt-4.1-mini"),
              ("anthropic", "claude-sonnet-4-5"), ("anthropic", "claude-haiku-4-5"), ("google", "gemini-2.5-flash")}
    for provider, model in sample:
        assert aliases[(provider, model)] == model == resolve_model(provider, model)
    assert aliases[("openai", "gpt-4o-mini-2024-07-18")] == "gpt-4o-mini"
    assert aliases[("google", "gemini-2.5-flash-preview-09-2025")] == "gemini-2.5-flash"
    assert resolve_model("anthropic", "claude-sonnet-4-5-20250929") == "claude-sonnet-4-5"
    assert resolve_model("openai", "no-such-model") is None
    first = catalog[(catalog.provider == "openai") & (catalog.model == "gpt-4o-mini")]
    assert list(first.valid_from) == [date(2024, 7, 18)] and list(first.valid_from_basis) == ["first dated model id"]


def test_model_price_override_seed_is_well_formed():
    rows = list(csv.DictReader((REPO / "dbt_project" / "seeds" / "model_price_overrides.csv").open()))
    assert rows, "ship at least one documented example row"
    catalog = build_price_catalog()
    known = {(r.provider, a) for r in catalog.itertuples() for a in r.aliases}
    for row in rows:
        assert D(row["input_usd_per_mtok"]) >= 0 and D(row["output_usd_per_mtok"]) >= 0 and row["note"]
        date.fromisoformat(row["valid_from"])
        # the shipped example prices a model the catalog lacks, so it re-prices nothing in the sample
        assert (row["provider"], row["model"]) not in known


@pytest.fixture(scope="module")
def generator():
    spec = importlib.util.spec_from_file_location("generate", REPO / "data" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_generator_is_deterministic_and_reproduces_the_shipped_sample(generator, tmp_path):
    generator.generate(tmp_path / "raw", tmp_path / "seeds", date(2026, 10, 15), 30, 20, 300, 42,
                       truth_path=tmp_path / "truth.json", progress=False)
    shipped = _files(REPO / "data" / "raw")
    assert _files(tmp_path / "raw") == shipped
    for seed in ("agents.csv", "budgets.csv"):
        assert (tmp_path / "seeds" / seed).read_bytes() == (REPO / "dbt_project" / "seeds" / seed).read_bytes()


def test_generated_files_agree_with_each_other(generator, tmp_path):
    counts = generator.generate(tmp_path / "raw", tmp_path / "seeds", date(2026, 3, 2), 3, 25, 400, 7, progress=False)
    executions = {}
    for path in (tmp_path / "raw" / "executions").glob("*.jsonl"):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            executions[record["execution_id"]] = record
    sums = defaultdict(lambda: [0, 0, 0, 0])
    for path in (tmp_path / "raw" / "llm_calls").glob("*.jsonl"):
        for line in path.read_text().splitlines():
            call = json.loads(line)
            s = sums[call["execution_id"]]
            s[0] += call["prompt_tokens"]; s[1] += call["completion_tokens"]; s[2] += call["cached_tokens"]; s[3] += 1
    api = defaultdict(int)
    for path in (tmp_path / "raw" / "api_calls").glob("*.csv"):
        for row in csv.DictReader(path.open()):
            api[row["execution_id"]] += 1
    assert len(executions) == counts["executions"] and set(sums) == set(executions)
    for execution_id, record in executions.items():
        llm = record["llm_resources"]
        assert [llm["input_tokens"], llm["output_tokens"], llm["prompt_cache_hits"], llm["llm_calls"]] == sums[execution_id]
        assert record["api_calls_count"] == api.get(execution_id, 0)
    agent_ids = {r["agent_id"] for r in csv.DictReader((tmp_path / "seeds" / "agents.csv").open())}
    assert len(agent_ids) == 25 and {r["agent_id"] for r in executions.values()} <= agent_ids

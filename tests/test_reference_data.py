"""Seeds and the sample generator: prices agree with the maintained catalog, the generator
is deterministic and its files agree with each other."""

import csv
import importlib.util
import json
from collections import defaultdict
from datetime import date
from decimal import Decimal as D

import pytest
from genai_prices import Usage, calc_price

from .conftest import REPO


def test_model_price_seed_matches_genai_prices():
    seed = list(csv.DictReader((REPO / "dbt_project" / "seeds" / "model_prices.csv").open()))
    assert seed
    for row in seed:
        million = 100_000  # x10 below: stays under Anthropic's 200k-token long-context tier

        def price(**tokens):
            return 10 * calc_price(Usage(**tokens), model_ref=row["model"], provider_id=row["provider"]).total_price

        assert price(input_tokens=million) == D(row["input_usd_per_mtok"]), row["model"]
        assert price(input_tokens=million, output_tokens=million) - price(input_tokens=million) == D(row["output_usd_per_mtok"])
        assert price(input_tokens=million, cache_read_tokens=million) == D(row["cached_input_usd_per_mtok"]), row["model"]
        if row["provider"] == "anthropic":  # the only ones here with a cache-write surcharge
            assert price(input_tokens=million, cache_write_tokens=million) == D(row["cache_write_usd_per_mtok"])


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

"""The scale benchmark's moving parts, untimed: the generator's sizing knob and its
array-summed provider reports, and the DuckDB floor and the pandas pipeline computing the
same headline marts as the warehouse on the shipped sample."""

import importlib.util
import json
import shutil
import sys
from datetime import date
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import pandas_pipeline  # noqa: E402
import scale  # noqa: E402


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generator():
    return _load("generate_for_scale", REPO / "data" / "generate.py")


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _gateway_calls(raw: Path) -> int:
    return sum(len(p.read_text().splitlines()) for p in (raw / "llm_calls").glob("*.jsonl"))


def test_provider_reports_from_arrays_equal_the_ones_read_back_from_the_call_log(generator, tmp_path):
    # 1,001 agents: four-digit agent ids and more than one workspace per department
    generator.generate(tmp_path / "raw", tmp_path / "seeds", date(2026, 3, 2), 3, 1001, 600, 11, progress=False)
    fast = {k: v for k, v in _files(tmp_path / "raw").items() if k.split("/")[0] in
            ("openai_usage", "openai_costs", "anthropic_usage", "anthropic_costs")}
    assert len(fast) == 12 and all(fast.values())
    # the original path: provider_exports sums the written call log itself
    provider_exports = _load("provider_exports_for_scale", REPO / "data" / "provider_exports.py")
    slow_raw = tmp_path / "slow"
    shutil.copytree(tmp_path / "raw" / "llm_calls", slow_raw / "llm_calls")
    provider_exports.write_provider_exports(slow_raw, tmp_path / "seeds", date(2026, 3, 2), 3, 11, generator.PRICES)
    slow = {k: v for k, v in _files(slow_raw).items() if k in fast}
    assert slow == fast


def test_llm_calls_per_day_sizes_the_call_log(generator, tmp_path):
    counts = generator.generate(tmp_path / "raw", tmp_path / "seeds", date(2026, 3, 2), 14, 200, 0, 5, progress=False,
                                llm_calls_per_day=3000)
    calls = _gateway_calls(tmp_path / "raw")
    assert calls == counts["llm_calls"]
    # near-limit agents throttle themselves and counts are Poisson: about, not exactly
    assert 0.9 * 14 * 3000 < calls < 1.1 * 14 * 3000


def test_floor_and_pandas_compute_the_warehouse_marts_on_the_sample(sample_warehouse, tmp_path):
    database = Path(sample_warehouse["DUCKDB_PATH"])
    raw = REPO / "data" / "raw"
    ref = scale.export_reference(database, tmp_path / "ref")
    warehouse = scale.warehouse_checks(database)
    scale.run_floor(raw, ref, tmp_path / "floor.json")
    floor = json.loads((tmp_path / "floor.json").read_text())
    pandas = pandas_pipeline.run(raw, ref)
    assert scale.disagreements("sample", {"warehouse": warehouse, "floor": floor, "pandas": pandas}) == []
    # and against what the generator says it wrote (every call log: gateway, LiteLLM, OTel)
    counts = json.loads((REPO / "data" / "sample_truth.json").read_text())["measured"]["counts"]
    assert floor["daily_usage.executions"] == counts["executions"]
    assert floor["daily_usage.llm_calls"] == counts["llm_calls"] + counts["litellm_spend_logs"] + counts["otel_genai_spans"]
    assert floor["daily_usage.api_calls"] == counts["api_calls"]
    # the allocation mart carries the whole cloud bill on top of the direct costs
    truth = json.loads((REPO / "data" / "sample_truth.json").read_text())
    billed = float(truth["infrastructure"]["focus_billed_cost_usd"])
    assert abs(floor["allocation.total_cost"] - floor["daily_usage.total_cost"] - billed) < 0.01


def test_disagreements_name_the_check_and_every_value():
    a = {"daily_usage.rows": 3, "daily_usage.total_cost": 10.004}
    assert scale.disagreements("x", {"one": a, "two": {**a, "daily_usage.total_cost": 10.0}}) == []
    problems = scale.disagreements("x", {"one": a, "two": {"daily_usage.rows": 4, "daily_usage.total_cost": 10.02}})
    assert problems == ["x: daily_usage.rows: one=3, two=4", "x: daily_usage.total_cost: one=10.004, two=10.02"]

"""Each analytics function on a small fixture whose answer is known by construction; every
dollar figure is computed by hand here (rates: cpu $0.06/core-hour, memory $0.004/GB-hour,
GPU $1/GPU-hour, a month = 30.4 days = 729.6 h)."""

import io
import json

import pandas as pd
import pytest

from orchestration.analytics import api_optimization as api
from orchestration.analytics import cost_optimization as co
from orchestration.analytics import prompt_cache as pc
from orchestration.analytics import waste as w
from orchestration.analytics.allocation import tier_for
from orchestration.analytics.efficiency import efficiency_scores
from orchestration.analytics.findings import findings_frame, finding, monthly
from orchestration.analytics.what_if import what_if

from .conftest import REPO

RATES = {"cpu_core_hour": 0.06, "memory_gb_hour": 0.004, "gpu_hour": 1.0, "storage_gb_month": 0.023}
H = 30.4 * 24


def executions(agent, n, day0="2026-11-01", days=10, **over):
    rows = []
    for i in range(n):
        ts = pd.Timestamp(day0) + pd.Timedelta(days=i % days, hours=9, minutes=i)
        row = {"execution_id": f"{agent}-{i}", "agent_id": agent, "workspace_id": "ws", "task_type": "t",
               "timestamp": ts, "usage_date": ts.normalize(), "execution_duration_ms": 10_000, "status": "success",
               "quality_score": 0.9, "cpu_peak_percent": 100.0, "allocated_cpu_cores": 2.0, "memory_peak_mb": 3900.0,
               "cpu_core_seconds": 10.0, "gpu_usage_percent": None, "gpu_compute_units": 0, "total_tokens": 1000,
               "input_tokens": 900, "output_tokens": 100, "prompt_cache_hits": 0, "total_cost": 0.01,
               "token_cost": 0.005, "cpu_cost": 0.001, "memory_cost": 0.001, "compute_cost": 0.002,
               "cache_size_mb": 0.0, "model_name": "gpt-4o-mini", "llm_provider": "openai"}
        row.update(over)
        rows.append(row)
    return pd.DataFrame(rows)


def agents(*rows):
    return pd.DataFrame([{"agent_id": a, "workspace_id": "ws", "allocated_cpu_cores": c, "allocated_memory_mb": m,
                          "allocated_gpus": g, "compute_tier": "standard", "primary_model": "gpt-4o-mini"}
                         for a, c, m, g in rows])


def test_idle_agent_found_with_its_standing_allocation_cost():
    ex = pd.concat([executions("busy", 100), executions("idle", 2)])
    ag = agents(("busy", 2, 4096, 0), ("idle", 4, 8192, 0))
    table, rows = w.idle_agents(ex, ag, RATES)
    assert [r["subject_id"] for r in rows] == ["idle"]
    # 4 cores x $0.06 + 8 GB x $0.004 = $0.272/h, all month
    assert rows[0]["monthly_saving_usd"] == pytest.approx((4 * 0.06 + 8 * 0.004) * H, abs=1e-6)
    assert rows[0]["monthly_saving_usd"] == pytest.approx(198.4512, abs=1e-6)


def test_oversized_allocation_found_and_rightsized_by_hand():
    ex = pd.concat([executions("big", 50, cpu_peak_percent=10.0, allocated_cpu_cores=8.0, memory_peak_mb=1000.0),
                    executions("fit", 50)])
    ag = agents(("big", 8, 16384, 0), ("fit", 2, 4096, 0))
    sizing = co.rightsizing(ex, ag, RATES)
    rows = w.oversized_agents(sizing)
    assert [r["subject_id"] for r in rows] == ["big"]
    big = sizing.set_index("agent_id").loc["big"]
    # p95 peak 0.8 cores / 0.65 = 1.23 -> 1.25 cores; 1000 MB / 0.65 = 1538 -> 1792 MB
    assert big["recommended_cpu_cores"] == 1.25 and big["recommended_memory_mb"] == 1792
    hand = (8 - 1.25) * 0.06 * H + (16384 - 1792) / 1024 * 0.004 * H
    assert rows[0]["monthly_saving_usd"] == pytest.approx(hand, abs=1e-6)
    assert rows[0]["monthly_saving_usd"] == pytest.approx(337.0752, abs=1e-6)


def api_calls(agent, endpoint, fingerprints, start="2026-11-01 10:00", step_s=60, cost=0.005, status=200):
    rows = []
    for i, fp in enumerate(fingerprints):
        ts = pd.Timestamp(start) + pd.Timedelta(seconds=step_s * i)
        st = status[i] if isinstance(status, list) else status
        rows.append({"request_id": f"{agent}-{endpoint}-{i}", "execution_id": f"{agent}-x{i}", "agent_id": agent,
                     "workspace_id": "ws", "requested_at": ts, "usage_date": ts.normalize(), "endpoint": endpoint,
                     "status_code": st, "is_success": st < 400, "latency_ms": 100, "is_rate_limited": st == 429,
                     "retry_attempt": 0, "error_type": None if st < 400 else f"e{st}", "cost_usd": cost,
                     "request_fingerprint": fp})
    return pd.DataFrame(rows)


def test_duplicated_request_series_is_cached_with_the_repeats_cost():
    calls = pd.concat([
        api_calls("dup", "search", ["same"] * 40),                          # 39 repeats
        api_calls("fresh", "search", [f"f{i}" for i in range(40)]),         # none
        api_calls("few", "search", ["a"] * 4 + [f"g{i}" for i in range(36)]),  # 3 repeats: 7.5% < 20%
    ])
    table, rows = api.api_caching(calls)
    assert [r["subject_id"] for r in rows] == ["dup"]
    # 39 hits x $0.005 in a one-day window, x 30.4
    assert rows[0]["monthly_saving_usd"] == pytest.approx(39 * 0.005 * 30.4, abs=1e-6)
    assert table.set_index("agent_id").loc["few", "hit_rate"] == pytest.approx(3 / 40)


def test_failing_and_rate_limited_endpoints_with_their_wasted_cost():
    failing = api_calls("a", "flaky", [f"f{i}" for i in range(40)], cost=0.01, status=[200, 500] * 20)
    limited = api_calls("a", "limited", [f"l{i}" for i in range(100)], step_s=1, status=[429] * 30 + [200] * 70)
    fine = api_calls("a", "fine", [f"k{i}" for i in range(100)], status=[200] * 99 + [500])
    calls = pd.concat([failing, limited, fine])
    _, fail_rows = api.failing_endpoints(calls)
    assert [r["subject_id"] for r in fail_rows] == ["flaky"]
    assert fail_rows[0]["monthly_saving_usd"] == pytest.approx(20 * 0.01 * 30.4, abs=1e-6)
    _, rl_rows = api.rate_limits(calls)
    assert [r["subject_id"] for r in rl_rows] == ["limited"]
    assert rl_rows[0]["monthly_saving_usd"] == pytest.approx(30 * 0.005 * 30.4, abs=1e-6)


def test_calls_prepared_once_give_what_each_analysis_gives_from_the_raw_calls():
    """build_all sorts the API calls once (api.prepare) for the four analyses: each must
    return what it returns from the unsorted calls, and none may change the shared frame."""
    calls = pd.concat([
        api_calls("a", "flaky", [f"f{i}" for i in range(40)], cost=0.01, status=[200, 500] * 20),
        api_calls("a", "limited", [f"l{i}" for i in range(100)], step_s=1, status=[429] * 30 + [200] * 70),
        api_calls("dup", "search", ["same"] * 40, start="2026-11-01 09:30"),
    ]).sample(frac=1, random_state=3)  # out of time order, a shuffled index
    prepared = api.prepare(calls)
    assert prepared["requested_at"].is_monotonic_increasing and api.prepare(prepared).equals(prepared)
    before = prepared.copy()
    for analysis in (api.api_caching, api.api_batching, api.rate_limits, api.failing_endpoints):
        (raw_table, raw_rows), (table, rows) = analysis(calls), analysis(prepared)
        pd.testing.assert_frame_equal(table, raw_table, check_exact=True)
        assert rows == raw_rows
    pd.testing.assert_frame_equal(prepared, before, check_exact=True)


def test_cheaper_model_that_serves_the_same_tasks_is_recommended_with_genai_prices():
    common = {"input_tokens": 1000, "prompt_cache_hits": 0, "output_tokens": 100, "llm_provider": "anthropic"}
    ex = pd.concat([
        executions("a", 40, days=1, model_name="claude-sonnet-4-5", **common),
        executions("a", 40, days=1, model_name="claude-haiku-4-5", **common),
        # agent b: haiku succeeds less often -> no recommendation
        executions("b", 40, days=1, model_name="claude-sonnet-4-5", **common),
        executions("b", 40, days=1, model_name="claude-haiku-4-5", status="failed", **common),
    ], ignore_index=True)
    prices = pd.DataFrame({"provider": ["anthropic", "anthropic"], "model": ["claude-sonnet-4-5", "claude-haiku-4-5"]})
    table, rows = co.model_selection(ex, prices)
    assert [r["subject_id"] for r in rows] == ["a"]
    # sonnet $3 / $15 per M, haiku $1 / $5 per M (Anthropic list prices): per execution
    # 1000 x 3e-6 + 100 x 15e-6 = $0.0045 vs $0.0015; 40 executions in one day
    assert rows[0]["monthly_saving_usd"] == pytest.approx(40 * (0.0045 - 0.0015) * 30.4, abs=1e-6)
    b = table[(table["agent_id"] == "b") & (table["current_model"] == "claude-sonnet-4-5")]
    assert b["status"].tolist() == ["failed_gate"]


NVIDIA_SMI = """timestamp, index, name, uuid, utilization.gpu [%], utilization.memory [%], memory.used [MiB], memory.total [MiB], power.draw [W]
2026/11/20 10:00:00.000, 0, NVIDIA A10G, GPU-7f3a9c1e-2b4d-4e8f-9a1b-3c5d7e9f1a2b, 3 %, 1 %, 412 MiB, 23028 MiB, 26.31 W
2026/11/20 10:00:00.000, 1, NVIDIA A10G, GPU-0d8e6b2a-9c7f-4a1e-b3d5-6f8a0c2e4b6d, 88 %, 61 %, 19876 MiB, 23028 MiB, 231.40 W
2026/11/20 10:01:00.000, 0, NVIDIA A10G, GPU-7f3a9c1e-2b4d-4e8f-9a1b-3c5d7e9f1a2b, 2 %, 1 %, 412 MiB, 23028 MiB, 25.98 W
2026/11/20 10:01:00.000, 1, NVIDIA A10G, GPU-0d8e6b2a-9c7f-4a1e-b3d5-6f8a0c2e4b6d, 91 %, 63 %, 19876 MiB, 23028 MiB, 236.02 W
2026/11/20 10:02:00.000, 0, NVIDIA A10G, GPU-7f3a9c1e-2b4d-4e8f-9a1b-3c5d7e9f1a2b, 4 %, 2 %, 412 MiB, 23028 MiB, 27.10 W
2026/11/20 10:02:00.000, 1, NVIDIA A10G, GPU-0d8e6b2a-9c7f-4a1e-b3d5-6f8a0c2e4b6d, 79 %, 58 %, 19876 MiB, 23028 MiB, 219.77 W
2026/11/20 10:03:00.000, 0, NVIDIA A10G, GPU-7f3a9c1e-2b4d-4e8f-9a1b-3c5d7e9f1a2b, 3 %, 1 %, 412 MiB, 23028 MiB, 26.05 W
2026/11/20 10:03:00.000, 1, NVIDIA A10G, GPU-0d8e6b2a-9c7f-4a1e-b3d5-6f8a0c2e4b6d, 85 %, 60 %, 19876 MiB, 23028 MiB, 228.64 W
"""


def parse_nvidia_smi(text: str, host: str) -> pd.DataFrame:
    raw = pd.read_csv(io.StringIO(text), skipinitialspace=True)
    raw.columns = [c.split(" [")[0] for c in raw.columns]
    num = lambda s: pd.to_numeric(s.astype(str).str.split(" ").str[0])  # noqa: E731  "3 %" -> 3
    return pd.DataFrame({
        "sampled_at": pd.to_datetime(raw["timestamp"], format="%Y/%m/%d %H:%M:%S.%f"), "host": host,
        "gpu_index": raw["index"], "gpu_uuid": raw["uuid"], "gpu_name": raw["name"],
        "utilization_gpu_pct": num(raw["utilization.gpu"]), "memory_used_mib": num(raw["memory.used"]),
        "memory_total_mib": num(raw["memory.total"]), "power_draw_w": num(raw["power.draw"])})


def test_find_idle_gpus_on_real_nvidia_smi_csv():
    samples = parse_nvidia_smi(NVIDIA_SMI, "gpu-node-1")
    gpus = w.find_idle_gpus(samples, usd_per_gpu_hour=1.006)
    idle = gpus[gpus["idle"]]
    assert idle["gpu_uuid"].tolist() == ["GPU-7f3a9c1e-2b4d-4e8f-9a1b-3c5d7e9f1a2b"]
    row = idle.iloc[0]
    assert row["mean_util_pct"] == pytest.approx(3.0)
    assert row["hours_observed"] == pytest.approx(3 / 60)
    assert row["observed_cost_usd"] == pytest.approx(3 / 60 * 1.006, abs=1e-6)
    assert row["monthly_saving_usd"] == pytest.approx(1.006 * H, abs=1e-6)
    assert gpus.loc[~gpus["idle"], "monthly_saving_usd"].tolist() == [0.0]
    rows = w.idle_gpu_findings(gpus, 1.006)
    assert len(rows) == 1 and rows[0]["subject_type"] == "gpu"


def test_low_utilization_gpu_agent_from_executions():
    ex = pd.concat([executions("lazy", 40, gpu_usage_percent=4.0), executions("busy", 40, gpu_usage_percent=70.0)])
    _, rows = w.gpu_waste_from_executions(ex, agents(("lazy", 8, 32768, 1), ("busy", 4, 16384, 1)), RATES)
    assert [(r["subject_id"], r["monthly_saving_usd"]) for r in rows] == [("lazy", pytest.approx(1.0 * H))]


def test_high_failure_agent_saving_is_the_failures_above_the_fleet_median():
    ex = pd.concat([executions("bad", 40, days=1, status="failed") .assign(status=["failed"] * 10 + ["success"] * 30),
                    executions("ok1", 40, days=1), executions("ok2", 40, days=1)
                    .assign(status=["failed"] * 1 + ["success"] * 39)], ignore_index=True)
    _, rows = w.failed_execution_cost(ex)
    assert [r["subject_id"] for r in rows] == ["bad"]
    # failure rates 25%, 0%, 2.5% -> median 2.5%; excess share (25 - 2.5) / 25 = 0.9 of
    # the failures' cost (10 x $0.01), in a one-day window
    assert rows[0]["monthly_saving_usd"] == pytest.approx(10 * 0.01 * 0.9 * 30.4, abs=1e-6)


def test_fingerprint_prefix_cache_saving_net_of_cache_writes():
    t0 = pd.Timestamp("2026-11-01 10:00")
    calls = pd.DataFrame([{"workspace_id": "ws", "agent_id": "a", "model": "claude-haiku-4-5", "prompt_fingerprint": "p",
                           "started_at": t0 + pd.Timedelta(minutes=m), "usage_date": t0.normalize(),
                           "input_tokens": n, "cached_input_tokens": 0} for m, n in [(0, 2000), (2, 2500), (4, 2000), (30, 3000)]]
                         + [{"workspace_id": "ws", "agent_id": "a", "model": "claude-haiku-4-5", "prompt_fingerprint": "short",
                             "started_at": t0, "usage_date": t0.normalize(), "input_tokens": 500, "cached_input_tokens": 0}])
    prices = pd.DataFrame({"model": ["claude-haiku-4-5"], "input_usd_per_mtok": [1.0], "cached_input_usd_per_mtok": [0.1],
                           "cache_write_usd_per_mtok": [1.25]})
    out = pc.fingerprint_prefix_cache(calls, prices, ttl_minutes=5).iloc[0]
    # prefix 2000 tokens; calls at 2 and 4 min are hits (2 x 2000), 0 and 30 min write it
    assert out["cacheable_tokens"] == 4000 and out["cache_writes"] == 2
    assert out["cacheable_share"] == pytest.approx(4000 / 10000)
    hand = 4000 * (1.0 - 0.1) / 1e6 - 2 * 2000 * (1.25 - 1.0) / 1e6
    assert out["saving_in_window_usd"] == pytest.approx(hand, abs=1e-9)
    assert out["monthly_saving_usd"] == pytest.approx(monthly(hand, 1))


def test_prefix_cache_share_tiny_trace_two_ways():
    trace = pd.DataFrame({"request_no": [0, 1, 2, 3], "input_length": [1000, 1300, 700, 1024],
                          "hash_ids": [[1, 2], [1, 2, 3], [1, 4], [5, 2]]})
    # r1: blocks 1, 2 seen -> 512 + 512; r2: block 1 -> 512; r3: block 5 new, so 2 does not count
    for method in (pc.prefix_cache_share_replay, pc.prefix_cache_share_sql):
        got = method(trace)
        assert got["cacheable_tokens"] == 1536 and got["input_tokens"] == 4024


def test_mooncake_cacheable_share_agrees_two_ways():
    path = REPO.parent / "shared" / "real-data" / "mooncake" / "conversation_trace.jsonl"
    trace = pc.read_mooncake(path)
    a, b = pc.prefix_cache_share_replay(trace), pc.prefix_cache_share_sql(trace)
    assert a["requests"] == 12031
    assert a["input_tokens"] == sum(json.loads(line)["input_length"] for line in path.open())
    assert a["cacheable_tokens"] == b["cacheable_tokens"]
    assert 0.05 < a["cacheable_share"] < 0.95


def test_efficiency_scores_rank_normalized_with_zero_cost_and_weights():
    ex = pd.concat([
        executions("cheap", 40, total_cost=0.0),                   # zero cost: ranks first everywhere
        executions("mid", 40, total_cost=0.01),
        executions("dear", 40, total_cost=0.10, status="failed"),  # worst everywhere
        executions("rare", 3, total_cost=0.01),                    # too few executions: unscored
    ])
    s = efficiency_scores(ex).set_index("agent_id")
    assert s.loc["cheap", "overall_score"] == pytest.approx(1.0)
    assert s.loc["mid", "overall_score"] == pytest.approx(0.5)
    assert s.loc["dear", "overall_score"] == pytest.approx(0.0)
    assert pd.isna(s.loc["rare", "overall_score"])
    w2 = {"tokens_per_usd": 1, "tasks_per_usd": 0, "success_per_usd": 0, "speed_per_usd": 0, "quality_per_usd": 0}
    assert efficiency_scores(ex, w2).set_index("agent_id").loc["mid", "overall_score"] == pytest.approx(0.5)
    assert s.loc["cheap", "percentile_in_workspace"] == 100


def test_what_if_against_hand_computed_targets():
    f = findings_frame([
        finding("waste", "idle_agent", "agent", "x", "e", "p", 300.0, "a", "low"),
        finding("cost_optimization", "model_selection", "agent", "y", "e", "p", 50.0, "a", "low"),
        finding("waste", "unused_cache", "agent", "z", "e", "p", 0.5, "a", "low"),  # P3: not applied
    ])
    base = {"total_cost_usd": 1000.0, "token_cost_usd": 200.0, "total_tokens": 2e6, "successful_tasks": 1000.0}
    df = what_if(base, f, waste_total=400.0).set_index("metric")
    assert df.loc["total_cost", "projected"] == pytest.approx(650.0)
    assert df.loc["total_cost", "change_pct"] == pytest.approx(-35.0) and df.loc["total_cost", "meets_target"]
    assert df.loc["token_efficiency", "change_pct"] == pytest.approx((2e6 / 150 - 2e6 / 200) / (2e6 / 200) * 100, abs=1e-3)
    assert df.loc["waste", "projected"] == pytest.approx(100.0) and df.loc["waste", "change_pct"] == pytest.approx(-75.0)
    assert df.loc["cost_per_task", "change_pct"] == pytest.approx((1000 / 650 - 1) * 100, abs=1e-3)


def test_tiers_and_finding_rows_carry_a_reason():
    assert tier_for(1, 2048, 0) == "economy" and tier_for(1.5, 4096, 0) == "standard"
    assert tier_for(1, 1024, 1) == "performance" and tier_for(8, 4096, 0) == "premium"
    with pytest.raises(ValueError):
        finding("waste", "k", "agent", "a", "e", "p", 0.0, "", "low")


def test_duplicate_llm_calls_by_hand_with_exact_money():
    t0 = pd.Timestamp("2026-11-01 08:00")
    base = {"workspace_id": "ws", "agent_id": "a", "model": "gpt-4o-mini", "prompt_fingerprint": "p",
            "input_tokens": 1200, "is_success": True, "usage_date": t0.normalize()}
    calls = pd.DataFrame([
        {**base, "started_at": t0, "token_cost": 0.0000012},                               # first: not a duplicate
        {**base, "started_at": t0 + pd.Timedelta(hours=2), "token_cost": 0.0000013},       # duplicate
        {**base, "started_at": t0 + pd.Timedelta(hours=3), "token_cost": 0.0000011,
         "is_success": False},                                                             # duplicate (fails itself)
        {**base, "started_at": t0 + pd.Timedelta(hours=4), "token_cost": 0.0000011, "input_tokens": 1201},  # other size
        {**base, "started_at": t0 + pd.Timedelta(hours=27), "token_cost": 0.0000010},      # 25 h after the last success
        {**base, "agent_id": "b", "started_at": t0, "token_cost": 0.5},
        {**base, "agent_id": "b", "started_at": t0, "token_cost": 0.5},                    # same instant: not before
    ])
    out = pc.duplicate_llm_calls(calls).set_index("agent_id")
    assert out.loc["a", ["calls", "duplicate_calls"]].tolist() == [5, 2]
    assert out.loc["b", ["calls", "duplicate_calls"]].tolist() == [2, 0]
    # $0.0000013 + $0.0000011 = $0.0000024 exactly (summed in DECIMAL), 6 decimals: 0.000002
    assert out.loc["a", "duplicate_cost_usd"] == 0.000002
    assert out.loc["a", "hit_rate"] == 0.4


def test_prompt_cache_saving_half_a_millionth_rounds_up():
    """Money is summed exactly: 87,900 redundant tokens x ($0.15 - $0.075)/M = $0.0065925
    exactly, which rounds half up to $0.006593. In floats the product is
    0.0065924999... and rounded to $0.006592 (the sample's gpt-4o-mini prices; found at 10M)."""
    t0 = pd.Timestamp("2026-11-01 10:00")
    calls = pd.DataFrame([{"workspace_id": "ws", "agent_id": "a", "model": "gpt-4o-mini", "prompt_fingerprint": "p",
                           "started_at": t0 + pd.Timedelta(minutes=m), "usage_date": t0.normalize(),
                           "input_tokens": 87_900, "cached_input_tokens": 0} for m in (0, 1)])
    prices = pd.DataFrame({"model": ["gpt-4o-mini"], "input_usd_per_mtok": [0.15], "cached_input_usd_per_mtok": [0.075],
                           "cache_write_usd_per_mtok": [0.15]})
    out = pc.fingerprint_prefix_cache(calls, prices, ttl_minutes=5).iloc[0]
    assert out["redundant_prefix_tokens"] == 87_900 and out["cache_writes"] == 1
    assert out["saving_in_window_usd"] == 0.006593


# ---------------------------------------------------------------- group_quantile


def test_group_quantile_by_hand():
    """Group a: 1, 2, 3, 4 -> p95 at position 0.95 x 3 = 2.85 between 3 and 4 = 3.85; p10 at
    0.3 -> 1.3. Group b: one value. Group c: only missing values -> NaN. Keys sorted."""
    from orchestration.analytics.frames import group_quantile

    df = pd.DataFrame({"k": ["c", "a", "b", "a", "a", "a", "c"],
                       "v": [float("nan"), 4.0, 7.0, 1.0, 3.0, 2.0, float("nan")]})
    p95, p10 = group_quantile(df, "k", "v", 0.95), group_quantile(df, "k", "v", 0.10)
    assert list(p95.index) == ["a", "b", "c"]
    assert p95["a"] == pytest.approx(3.85) and p95["b"] == 7.0 and pd.isna(p95["c"])
    assert p10["a"] == pytest.approx(1.3) and p10["b"] == 7.0


@pytest.mark.parametrize("kind", ["float", "ties", "int", "missing"])
def test_group_quantile_is_series_quantile_per_group_to_the_bit(kind):
    """The second method: pandas' Series.quantile on each group (np.quantile), which the
    analyses called per agent before; every value equal to the bit, keys one or two columns."""
    import numpy as np

    from orchestration.analytics.frames import group_quantile

    rng = np.random.default_rng(["float", "ties", "int", "missing"].index(kind))
    for _ in range(6):
        n, groups = int(rng.integers(1, 2000)), int(rng.integers(1, 50))
        values = {"float": rng.normal(size=n) * 10.0 ** rng.integers(-3, 6), "ties": rng.integers(0, 5, n).astype(float),
                  "int": rng.integers(0, 10**6, n), "missing": rng.normal(size=n)}[kind]
        df = pd.DataFrame({"k": rng.integers(0, groups, n).astype(str), "k2": rng.integers(0, 3, n), "v": values})
        if kind == "missing":
            df.loc[rng.random(n) < 0.3, "v"] = np.nan
            df.loc[df["k"] == df["k"].iloc[0], "v"] = np.nan  # a group without values
        for q in (0.0, 0.1, 0.5, 0.65, 0.95, 0.99, 1.0):
            for by in ("k", ["k", "k2"]):
                expected = df.groupby(by)["v"].agg(lambda s: s.quantile(q))
                got = group_quantile(df, by, "v", q)
                assert got.index.equals(expected.index)
                assert np.array_equal(got.to_numpy(), expected.to_numpy(dtype=float), equal_nan=True), (q, by)


def llm_calls(agent, provider, model, latencies, errors=0):
    return pd.DataFrame([{"agent_id": agent, "provider": provider, "model": model, "is_success": i >= errors,
                          "latency_ms": latency} for i, latency in enumerate(latencies)])


def test_dynamic_allocation_by_hand():
    """Tier, primary and fallback model, switch condition, scaling and targets per agent,
    each worked out by hand from the fixture."""
    from orchestration.analytics.allocation import dynamic_allocation

    ex = pd.concat([
        # 'a': 40 runs on gpt-4o, 38 succeed; every run 10 s, $0.01, a 4 MB cache
        executions("a", 40, model_name="gpt-4o", cache_size_mb=4.0,
                   status=None).assign(status=["success"] * 38 + ["failed"] * 2),
        executions("c", 10, model_name="claude-haiku-4-5", llm_provider="anthropic"),
    ], ignore_index=True)
    calls = pd.concat([
        llm_calls("a", "openai", "gpt-4o", [100] * 20, errors=2),
        llm_calls("a", "openai", "gpt-4o-mini", range(200, 2001, 200)),   # 10 calls, none failed
        llm_calls("a", "openai", "gpt-4.1-mini", [50] * 10),               # 10 calls too
        llm_calls("a", "anthropic", "claude-haiku-4-5", [50] * 30),        # most calls, another provider
        llm_calls("c", "anthropic", "claude-haiku-4-5", [70] * 10),
    ], ignore_index=True)
    ag = agents(("a", 2, 4096, 0), ("b", 1, 1024, 0), ("c", 1, 2048, 0))
    sizing = pd.DataFrame({"agent_id": ["a"], "recommended_cpu_cores": [1.0], "recommended_memory_mb": [2048.0]})
    scaling = pd.DataFrame({"agent_id": ["a"], "min_instances": [1], "max_instances": [3], "cooldown_s": [600]})
    # two recommended cheaper models for 'a' saving the same: the first listed wins the tie
    models = pd.DataFrame({"agent_id": ["a", "a", "a"], "status": ["recommended", "recommended", "failed_gate"],
                           "executions": [40, 40, 40], "monthly_saving_usd": [5.0, 5.0, 9.0],
                           "candidate_model": ["gpt-4o-mini", "gpt-4.1-mini", "gpt-3.5"]})
    out = dynamic_allocation(ex, calls, ag, sizing, scaling, models).set_index("agent_id")

    a = out.loc["a"]
    assert (a["recommended_tier"], a["cpu_cores"], a["memory_mb"], a["gpus"]) == ("economy", 1.0, 2048.0, 0)
    # primary: the recommendation (its 80 executions >= half of 40); fallback: the same provider's
    # other model with the most calls (gpt-4o, 20), not anthropic's 30
    assert (a["primary_model"], a["fallback_model"]) == ("gpt-4o-mini", "gpt-4o")
    # gpt-4o-mini: no errors -> the 5% floor; p95 of 200..2000 = 1800 + 0.55 x 200 = 1910 ms, x 1.5
    assert a["switch_condition"] == "error rate over 15 min > 5.0% or p95 latency > 2,865 ms"
    assert (a["min_instances"], a["max_instances"], a["cooldown_s"]) == (1, 3, 600)
    assert (a["prompt_cache"], a["response_cache_mb"], a["response_cache_ttl_h"]) == ("on, 5 min TTL", 5.0, 24)
    # 10 s x 1.2; success 38/40 = 0.95 - 2 points; p95 cost $0.01
    assert (a["max_latency_ms"], a["min_success_rate"], a["max_cost_per_execution_usd"]) == (12000, 0.93, 0.01)

    b = out.loc["b"]  # no history
    assert (b["switch_condition"], b["primary_model"], b["min_instances"], b["prompt_cache"]) == (
        "no history", "gpt-4o-mini", 0, "off")
    assert b["recommended_tier"] == "economy" and pd.isna(b["max_latency_ms"])

    c = out.loc["c"]  # one model of its provider: nothing to fall back to; no sizing: its allocation
    assert (c["primary_model"], c["fallback_model"]) == ("claude-haiku-4-5", "claude-haiku-4-5")
    assert c["switch_condition"] == "no fallback of the same provider observed; alert instead"
    assert (c["cpu_cores"], c["memory_mb"], c["recommended_tier"], c["min_instances"]) == (1, 2048, "economy", 1)
    assert c["min_success_rate"] == 0.98  # 100% observed - 2 points (above the 0.9 floor)


@pytest.mark.parametrize("seed", range(5))
def test_first_max_is_what_a_descending_sort_puts_first(seed):
    """frames.first_max against pandas' own stable sort_values(ascending=False).iloc[0], on
    small frames full of ties and missing values."""
    import numpy as np

    from orchestration.analytics.frames import first_max

    rng = np.random.default_rng(seed)
    for _ in range(300):
        n = int(rng.integers(1, 40))
        values = rng.integers(0, 4, n).astype(float)
        values[rng.random(n) < 0.2] = np.nan
        frame = pd.DataFrame({"v": values, "i": range(n)})
        expected = frame.sort_values("v", ascending=False, kind="stable").iloc[0]["i"]
        assert first_max(frame.to_dict("records"), "v")["i"] == expected
    assert first_max([], "v") is None

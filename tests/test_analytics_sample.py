"""The shipped sample through `warehouse build`: every inefficiency the generator planted
(data/sample_truth.json) is found, and no healthy agent is flagged."""

import json

import duckdb
import pytest

from .conftest import REPO, sample_warehouse  # noqa: F401

TRUTH = json.loads((REPO / "data" / "sample_truth.json").read_text())
# planted list -> the finding kind that must name each of its members
PLANTED = {
    "idle_agents": "idle_agent",
    "oversized_agents": "oversized_allocation",
    "low_util_gpu_agents": "idle_gpu",
    "redundant_api_agents": "api_response_cache",
    "high_failure_agents": "high_failure_rate",
    "rate_limited_endpoints": "rate_limit_backoff",
}
# Kinds that say something is wrong with the subject (optimizations open to every agent,
# such as prompt caching, spot or a cheaper model that passed the gate, are not flags).
FLAG_KINDS = set(PLANTED.values()) | {"failing_endpoint", "unused_cache", "response_cache"}


@pytest.fixture(scope="module")
def findings(sample_warehouse):  # noqa: F811
    with duckdb.connect(sample_warehouse["DUCKDB_PATH"], read_only=True) as conn:
        return conn.sql("select * from analytics.findings").df()


@pytest.mark.parametrize("planted", sorted(PLANTED))
def test_every_planted_inefficiency_is_found_with_a_dollar_figure(findings, planted):
    kind = PLANTED[planted]
    found = findings[findings["kind"] == kind]
    missing = set(TRUTH[planted]) - set(found["subject_id"])
    assert not missing, f"{planted}: {sorted(missing)} not found as {kind}"
    assert (found.set_index("subject_id").loc[TRUTH[planted], "monthly_saving_usd"] > 0).all()


def test_no_healthy_agent_is_flagged(findings):
    flagged = findings[findings["kind"].isin(FLAG_KINDS) & findings["subject_type"].eq("agent")]
    assert set(flagged["subject_id"]) & set(TRUTH["healthy_agents"]) == set()
    # and nothing is flagged that was not planted
    planted = set().union(*(TRUTH[p] for p in PLANTED))
    assert set(flagged["subject_id"]) <= planted


def test_every_finding_has_evidence_and_a_dollar_figure_or_a_reason(findings):
    assert findings["finding_id"].is_unique
    assert findings["evidence"].str.len().gt(0).all() and findings["period"].str.len().gt(0).all()
    zero = findings[findings["monthly_saving_usd"] == 0]
    assert zero["assumption"].str.contains("no dollar saving").all()
    assert set(findings["effort"]) <= {"low", "medium", "high"} and set(findings["priority"]) <= {"P1", "P2", "P3"}


def test_analytics_tables_and_what_if_are_written(sample_warehouse):  # noqa: F811
    with duckdb.connect(sample_warehouse["DUCKDB_PATH"], read_only=True) as conn:
        names = {t for (t,) in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'analytics'").fetchall()}
        assert {"findings", "efficiency_scores", "token_distribution", "prompt_cache", "waste_summary",
                "agent_allocation", "what_if", "cost_roadmap", "gpu_idle_telemetry"} <= names
        wi = conn.sql("select * from analytics.what_if").df()
        assert set(wi["metric"]) == {"total_cost", "token_efficiency", "waste", "cost_per_task"}
        # 20 agents, one allocation row each; the waste total equals its lines
        assert conn.execute("select count(*) from analytics.agent_allocation").fetchone()[0] == 20
        lines, total = conn.execute("""select sum(monthly_waste_usd) filter (where kind <> 'total'),
                                              sum(monthly_waste_usd) filter (where kind = 'total')
                                       from analytics.waste_summary""").fetchone()
        assert lines == pytest.approx(total, abs=1e-5)


def test_the_analysed_columns_give_the_tables_every_column_gives(sample_warehouse):  # noqa: F811
    """The step reads only ANALYSED_COLUMNS of the marts: every analytics table must be what
    the analyses compute from every column (a column missing from the list would raise or
    change a table here)."""
    from pandas.testing import assert_frame_equal

    from orchestration.analytics.report import build_all
    from orchestration.defs.analytics.assets import read_inputs

    with duckdb.connect(sample_warehouse["DUCKDB_PATH"], read_only=True) as conn:
        every = read_inputs(conn, columns=lambda table: "*")
        analysed = read_inputs(conn)
    assert len(analysed["llm_calls"].columns) < len(every["llm_calls"].columns)
    expected, got = build_all(**every), build_all(**analysed)
    assert set(got) == set(expected)
    for name in expected:
        assert_frame_equal(got[name], expected[name], check_exact=True, obj=name)


def test_the_analyses_read_the_last_window_days_of_the_facts(sample_warehouse):  # noqa: F811
    """read_inputs' window: the facts from the N days ending on the latest usage date (the
    sample runs 2026-10-15..2026-11-13, so 10 days start on 2026-11-04), the agents whole;
    30 days is the whole 30-day sample. The rows are counted here with their own SQL."""
    import datetime as dt

    from orchestration.defs.analytics.assets import read_inputs

    facts = {"executions": "fct_resource_utilization", "llm_calls": "fct_llm_calls", "api_calls": "fct_api_calls"}
    with duckdb.connect(sample_warehouse["DUCKDB_PATH"], read_only=True) as conn:
        every, month, ten = (read_inputs(conn, window_days=n) for n in (0, 30, 10))

        def count(sql):
            return conn.execute(sql).fetchone()[0]

        for name, table in facts.items():
            assert len(every[name]) == count(f"select count(*) from marts.{table}")
            assert len(month[name]) == len(every[name])
            assert len(ten[name]) == count(f"select count(*) from marts.{table} where usage_date >= '2026-11-04'")
            assert 0 < len(ten[name]) < len(every[name])
            assert ten[name]["usage_date"].min() == dt.datetime(2026, 11, 4)  # .df() gives DATE as datetime64
        assert len(ten["gpu_samples"]) == count("select count(*) from marts.fct_gpu_samples where sampled_at >= '2026-11-04'")
        assert ten["gpu_samples"]["sampled_at"].min() == dt.datetime(2026, 11, 4)
        assert len(ten["agents"]) == len(every["agents"]) == 20


def test_the_asset_analyses_the_configured_window(sample_warehouse, tmp_path):  # noqa: F811
    """The asset's window comes from its run config (AnalyticsSettings.window_days): on a copy
    of the sample with 10 days, its tables are the analyses of those 10 days, and the
    materialization says which window it analysed."""
    import shutil

    import dagster as dg
    from dagster_duckdb import DuckDBResource
    from pandas.testing import assert_frame_equal

    from orchestration.analytics.report import build_all
    from orchestration.defs.analytics.assets import analytics_tables, read_inputs

    copy = tmp_path / "w.duckdb"
    shutil.copy(sample_warehouse["DUCKDB_PATH"], copy)
    result = dg.materialize(
        [analytics_tables], resources={"duckdb": DuckDBResource(database=str(copy))},
        run_config={"ops": {"analytics_tables": {"config": {"window_days": 10}}}})
    assert result.success
    meta = {m.asset_key.path[-1]: m.metadata for m in result.asset_materializations_for_node("analytics_tables")}
    assert meta["cost_summary"]["window"].value == "2026-11-04..2026-11-13 (10 days)"
    with duckdb.connect(str(copy), read_only=True) as conn:
        expected = build_all(**read_inputs(conn, window_days=10))
        for name in ("cost_summary", "efficiency_scores", "rightsizing", "findings"):
            assert_frame_equal(conn.sql(f"select * from analytics.{name}").df(), expected[name],
                               check_dtype=False, obj=name)
    assert expected["cost_summary"]["window_days"].iloc[0] == 10

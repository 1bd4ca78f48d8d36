"""Alert rules by construction, the alerts asset and its checks on the sample, and the
critical-alerts sensor against a real local HTTP server (127.0.0.1)."""

import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import dagster as dg
import duckdb
import pandas as pd
import pytest
from dagster_duckdb import DuckDBResource

from orchestration.analytics import alerting

from .conftest import sample_warehouse  # noqa: F401


def tracking_rows(values, budget=1000, monthly=None, cost=None, cost_budget=None, start="2026-11-01"):
    days = pd.date_range(start, periods=len(values))
    mtd = pd.Series(values).cumsum().to_numpy()
    return pd.DataFrame({
        "workspace_id": "w", "agent_id": "a", "usage_date": days, "daily_total_tokens": values,
        "daily_token_budget": budget, "budget_month": days.to_period("M").to_timestamp(),
        "month_to_date_tokens": mtd, "monthly_token_budget": monthly,
        "month_to_date_cost": cost if cost is not None else 0.0, "monthly_cost_budget_usd": cost_budget})


def test_daily_token_thresholds_are_strictly_above_80_and_90_percent():
    t = tracking_rows([799, 800, 801, 900, 901, 1200])
    a = pd.DataFrame(alerting.budget_threshold_alerts(t))
    got = dict(zip(a["alert_time"].dt.day, a["severity"]))
    # 79.9% and exactly 80%: nothing; 80.1% and exactly 90%: warning; 90.1%, 120%: critical
    assert got == {3: "warning", 4: "warning", 5: "critical", 6: "critical"}
    crit = a[a["alert_time"].dt.day == 5].iloc[0]
    assert crit["value"] == pytest.approx(90.1) and crit["threshold"] == 90 and crit["rule"] == "daily_token_budget"
    assert crit["subject"] == "w/a" and "901" in crit["message"]


def test_cpu_rule_is_critical_above_80_percent():
    cpu = pd.DataFrame({"workspace_id": "w", "agent_id": ["a", "b"], "usage_date": pd.Timestamp("2026-11-13"),
                        "cpu_pct": [80.0, 80.5]})
    a = pd.DataFrame(alerting.cpu_alerts(cpu))
    assert a["agent_id"].tolist() == ["b"] and a["severity"].tolist() == ["critical"] and a["threshold"].tolist() == [80.0]


def test_monthly_rules_fire_once_per_month_and_severity_dated_at_the_crossing():
    # monthly budget 1,000: month to date 300, 600, 850 (85%: warning), 950 (critical), 1,100
    t = tracking_rows([300, 300, 250, 100, 150], budget=None, monthly=1000,
                      cost=[1.0, 2, 3, 4, 5], cost_budget=4.2)
    a = pd.DataFrame(alerting.budget_threshold_alerts(t))
    tok = a[a["rule"] == "monthly_token_budget"].set_index("severity")
    assert tok.loc["warning", "alert_time"] == pd.Timestamp("2026-11-03")
    assert tok.loc["critical", "alert_time"] == pd.Timestamp("2026-11-04")
    assert len(tok) == 2 and set(tok["period"]) == {"2026-11"}
    cost = a[a["rule"] == "monthly_cost_budget"].set_index("severity")
    # 4 / 4.2 = 95.2% on day 4: critical, straight past the warning
    assert len(cost) == 1 and cost.loc["critical", "alert_time"] == pd.Timestamp("2026-11-04")
    assert a["alert_id"].is_unique


def test_forecast_breach_alerts_from_projections():
    base = {"as_of_date": pd.Timestamp("2026-11-13").date(), "workspace_id": "w", "unit": "tokens",
            "budget": 100.0, "projected_end_of_period": 120.0, "period_end": pd.Timestamp("2026-11-30").date(),
            "period_start": pd.Timestamp("2026-11-01").date()}
    p = pd.DataFrame([
        {**base, "agent_id": "a", "budget_type": "monthly_tokens", "p_breach": 0.85, "already_breached": False,
         "expected_breach_date": pd.Timestamp("2026-11-20").date(), "p_breach_on_expected_date": None},
        {**base, "agent_id": "b", "budget_type": "monthly_tokens", "p_breach": 0.6, "already_breached": False,
         "expected_breach_date": pd.Timestamp("2026-11-28").date(), "p_breach_on_expected_date": None},
        {**base, "agent_id": "c", "budget_type": "monthly_tokens", "p_breach": 0.49, "already_breached": False,
         "expected_breach_date": None, "p_breach_on_expected_date": None},
        {**base, "agent_id": "d", "budget_type": "monthly_cost", "p_breach": 1.0, "already_breached": True,
         "expected_breach_date": pd.Timestamp("2026-11-05").date(), "p_breach_on_expected_date": None},
        {**base, "agent_id": "e", "budget_type": "daily_tokens", "p_breach": 0.0, "already_breached": False,
         "period_start": pd.Timestamp("2026-11-14").date(),
         "expected_breach_date": pd.Timestamp("2026-11-16").date(), "p_breach_on_expected_date": 0.97},
    ])
    a = pd.DataFrame(alerting.forecast_alerts(p)).set_index("agent_id")
    assert a.loc["a", "severity"] == "critical" and a.loc["a", "threshold"] == 0.8
    assert a.loc["b", "severity"] == "warning" and a.loc["b", "threshold"] == 0.5
    assert "c" not in a.index and "d" not in a.index  # unlikely; already over (a threshold rule's job)
    assert a.loc["e", "severity"] == "critical" and a.loc["e", "period"] == "2026-11-16"
    assert a.loc["e", "rule"] == "forecast_budget_breach:daily_tokens"


def test_current_alerts_and_check_outcome():
    t = tracking_rows([950, 850, 100])
    a = alerting.build_alerts(pd.DataFrame(columns=["workspace_id", "agent_id", "usage_date", "cpu_pct"]), t,
                              pd.DataFrame(columns=["already_breached"]))
    assert alerting.check_outcome(alerting.current_alerts(a, "2026-11-01")) == (False, "critical")
    assert alerting.check_outcome(alerting.current_alerts(a, "2026-11-02")) == (False, "warning")
    assert alerting.check_outcome(alerting.current_alerts(a, "2026-11-03")) == (True, None)


# ---------------------------------------------------------------- the sample


def test_sample_alerts_table_has_the_planted_agents(sample_warehouse):  # noqa: F811
    with duckdb.connect(sample_warehouse["DUCKDB_PATH"], read_only=True) as conn:
        a = conn.execute("select * from analytics.alerts").df()
        over = conn.execute("""select agent_id, usage_date from marts.mart_token_budget_tracking
                               where daily_total_tokens > 0.9 * daily_token_budget""").df()
    assert list(a.columns[:13]) == alerting.ALERT_COLUMNS
    daily = a[a["rule"] == "daily_token_budget"]
    crit = daily[daily["severity"] == "critical"]
    # exactly the agent-days above 90% of the daily budget, recomputed from the mart
    assert set(zip(crit["agent_id"], crit["alert_time"].dt.date)) == set(zip(over["agent_id"], over["usage_date"].dt.date))
    assert {"agt_002", "agt_006"} <= set(crit["agent_id"])
    assert "agt_015" in set(daily["agent_id"])  # the near-limit agent warns (or worse) some days
    assert {"agt_001", "agt_010"}.isdisjoint(set(daily["agent_id"]))  # healthy agents
    fb = a[a["rule"] == "forecast_budget_breach:daily_tokens"]
    assert {"agt_002", "agt_006"} <= set(fb["agent_id"])
    assert a["alert_id"].is_unique and set(a["severity"]) <= {"warning", "critical"}


def test_alert_checks_carry_severity(sample_warehouse, tmp_path):  # noqa: F811
    """Re-materialize the alerts asset on a copy of the sample: the token budget check fails
    with ERROR severity (agt_002 and agt_006 are over on the latest day), CPU passes."""
    from orchestration.defs.alerts.assets import alerts

    db = tmp_path / "copy.duckdb"
    shutil.copy(sample_warehouse["DUCKDB_PATH"], db)
    result = dg.materialize([alerts], resources={"duckdb": DuckDBResource(database=str(db))})
    evals = {e.asset_check_evaluation_data.asset_check_key.name: e.asset_check_evaluation_data
             for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    assert set(evals) == {"cpu_utilization", "token_budget", "cost_budget", "forecast_budget_breach"}
    assert evals["cpu_utilization"].passed
    assert not evals["token_budget"].passed and evals["token_budget"].severity == dg.AssetCheckSeverity.ERROR
    assert evals["token_budget"].metadata["critical"].value >= 2


# ---------------------------------------------------------------- the sensor


class _Recorder(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.headers["Content-Type"], json.loads(body)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    _Recorder.received = []
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", _Recorder.received
    server.shutdown()
    server.server_close()


def _write_alerts(db, rows):
    df = pd.DataFrame(rows, columns=alerting.ALERT_COLUMNS)
    with duckdb.connect(str(db)) as conn:
        conn.execute("create schema if not exists analytics")
        conn.register("df_view", df)
        conn.execute("create or replace table analytics.alerts as select * from df_view")


def _alert(agent, severity, day="2026-11-13"):
    return {"alert_id": alerting.alert_id("daily_token_budget", agent, day, severity), "alert_time": pd.Timestamp(day),
            "subject_type": "agent", "subject": f"w/{agent}", "workspace_id": "w", "agent_id": agent,
            "rule": "daily_token_budget", "period": day, "value": 95.0 if severity == "critical" else 85.0,
            "threshold": 90.0 if severity == "critical" else 80.0, "unit": "percent", "severity": severity,
            "message": f"{agent} over"}


def _tick(db, cursor=None):
    from orchestration.defs.alerts.sensors import critical_alerts_sensor

    ctx = dg.build_sensor_context(cursor=cursor, resources={"duckdb": DuckDBResource(database=str(db))})
    result = critical_alerts_sensor(ctx)
    return result, ctx.cursor


def test_sensor_posts_new_critical_alerts_once(tmp_path, webhook, monkeypatch):
    url, received = webhook
    monkeypatch.setenv("ALERT_WEBHOOK_URL", url)
    db = tmp_path / "w.duckdb"
    _write_alerts(db, [_alert("a", "critical"), _alert("b", "warning")])

    _, cursor = _tick(db)
    assert len(received) == 1
    content_type, payload = received[0]
    assert content_type == "application/json" and payload["count"] == 1
    assert payload["alerts"][0]["agent_id"] == "a" and payload["alerts"][0]["severity"] == "critical"

    _, cursor = _tick(db, cursor)  # nothing new: nothing posted
    assert len(received) == 1

    _write_alerts(db, [_alert("a", "critical"), _alert("b", "warning"), _alert("c", "critical")])
    _, cursor = _tick(db, cursor)  # only the new one
    assert len(received) == 2 and [a["agent_id"] for a in received[1][1]["alerts"]] == ["c"]


def test_sensor_without_url_or_with_a_dead_url(tmp_path, webhook, monkeypatch):
    url, received = webhook
    db = tmp_path / "w.duckdb"
    _write_alerts(db, [_alert("a", "critical")])

    monkeypatch.delenv("ALERT_WEBHOOK_URL", raising=False)
    result, cursor = _tick(db)
    assert "not set" in result.skip_message and json.loads(cursor) == [_alert("a", "critical")["alert_id"]]
    assert received == []

    # a webhook that refuses connections: the alerts stay unsent (cursor unchanged) to retry
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    dead = f"http://127.0.0.1:{server.server_port}/hook"
    server.server_close()
    monkeypatch.setenv("ALERT_WEBHOOK_URL", dead)
    result, cursor2 = _tick(db, None)
    assert "failed" in result.skip_message and cursor2 is None
    monkeypatch.setenv("ALERT_WEBHOOK_URL", url)
    _tick(db, cursor2)
    assert len(received) == 1


def test_sensor_skips_when_no_table(tmp_path):
    db = tmp_path / "empty.duckdb"
    duckdb.connect(str(db)).close()
    result, _ = _tick(db)
    assert "does not exist" in result.skip_message


def test_threshold_rules_equal_a_row_by_row_reading_of_the_rules_on_random_agent_days():
    """The rules fire on exactly the rows the rule table says (a second, plain reading of it
    here), also where budgets are missing, zero or negative, values sit on a threshold or are
    missing: the rules read only the rows that can exceed a threshold (alerting._may_exceed)."""
    import numpy as np

    rng = np.random.default_rng(7)
    n, agents = 600, ["a1", "a2", "a3", "a4", "a5", "a6"]
    days = pd.date_range("2026-10-20", periods=n // len(agents))
    t = pd.DataFrame({"workspace_id": "w", "agent_id": np.repeat(agents, len(days)),
                      "usage_date": np.tile(days, len(agents))})
    t["budget_month"] = t["usage_date"].dt.to_period("M").dt.to_timestamp()
    t["daily_token_budget"] = pd.array(rng.choice([1000, 0, -5, None, 2000], n, p=[.5, .1, .05, .15, .2]), dtype="Int64")
    t["daily_total_tokens"] = rng.choice([0, 500, 800, 801, 900, 901, 1600, 1800, 2500], n)
    t["monthly_token_budget"] = pd.array(rng.choice([10_000, None, 0], n, p=[.8, .1, .1]), dtype="Int64")
    t["month_to_date_tokens"] = t.groupby(["agent_id", "budget_month"])["daily_total_tokens"].cumsum()
    t["monthly_cost_budget_usd"] = rng.choice([50.0, np.nan, 0.0, -1.0], n, p=[.7, .1, .1, .1])
    t["month_to_date_cost"] = np.where(rng.random(n) < .05, np.nan, rng.choice([10.0, 40.0, 40.5, 45.0, 45.5, 80.0], n))
    cpu = pd.DataFrame({"workspace_id": "w", "agent_id": t["agent_id"], "usage_date": t["usage_date"],
                        "cpu_pct": rng.choice([10.0, 80.0, 80.0000001, 95.0, np.nan], n)})

    def severity(pct, warning=80.0, critical=90.0):
        return "critical" if pct > critical else "warning" if warning is not None and pct > warning else None

    expected = set()
    for r in cpu.itertuples():
        if r.cpu_pct > 80:
            expected.add(("cpu_utilization", r.agent_id, r.usage_date, "critical"))
    first = {}
    for r in t.sort_values(["usage_date", "agent_id"]).itertuples():
        if pd.notna(r.daily_token_budget) and r.daily_token_budget > 0:
            if s := severity(r.daily_total_tokens / r.daily_token_budget * 100):
                expected.add(("daily_token_budget", r.agent_id, r.usage_date, s))
        for rule, used, budget in (("monthly_token_budget", r.month_to_date_tokens, r.monthly_token_budget),
                                   ("monthly_cost_budget", r.month_to_date_cost, r.monthly_cost_budget_usd)):
            if pd.notna(budget) and budget > 0 and pd.notna(used) and (s := severity(used / budget * 100)):
                first.setdefault((rule, r.agent_id, r.budget_month, s), r.usage_date)
    expected |= {(rule, agent, day, s) for (rule, agent, _, s), day in first.items()}

    got = pd.DataFrame(alerting.cpu_alerts(cpu) + alerting.budget_threshold_alerts(t))
    assert set(zip(got["rule"], got["agent_id"], got["alert_time"], got["severity"])) == expected
    assert len(got) == len(expected) and {s for *_, s in expected} == {"warning", "critical"}
    assert {rule for rule, *_ in expected} == {"cpu_utilization", "daily_token_budget", "monthly_token_budget",
                                               "monthly_cost_budget"}

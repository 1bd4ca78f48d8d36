"""analytics.alerts: the seed's threshold rules and forecast budget breaches, with one asset
check per rule family (severity WARN for warnings, ERROR for critical alerts)."""

import dagster as dg
from dagster_duckdb import DuckDBResource

ALERTS_KEY = dg.AssetKey(["analytics", "alerts"])

# check name -> rules it covers
CHECKS = {
    "cpu_utilization": ("cpu_utilization",),
    "token_budget": ("daily_token_budget", "monthly_token_budget"),
    "cost_budget": ("monthly_cost_budget",),
    "forecast_budget_breach": ("forecast_budget_breach:daily_tokens", "forecast_budget_breach:monthly_tokens",
                               "forecast_budget_breach:monthly_cost"),
}
CHECK_DESCRIPTIONS = {
    "cpu_utilization": "No agent's mean CPU on the latest day above 80% (critical).",
    "token_budget": "No agent above 80% (warning) / 90% (critical) of its daily token budget on the latest day, "
                    "or of its monthly token budget this month.",
    "cost_budget": "No agent above 80% (warning) / 90% (critical) of its monthly cost budget this month.",
    "forecast_budget_breach": "No budget forecast to break: probability >= 0.5 (warning) / >= 0.8 (critical).",
}

CPU_DAILY_SQL = """
select workspace_id, agent_id, usage_date,
       -- summed in DECIMAL: a parallel DOUBLE sum depends on row order, and rebuilds must be identical
       (sum((cpu_usage_percent * execution_duration_ms)::decimal(38, 6))
        / nullif(sum(execution_duration_ms), 0))::double as cpu_pct
from marts.fct_resource_utilization
where cpu_usage_percent is not null and execution_duration_ms > 0
group by all
order by all
"""


@dg.asset(
    key=ALERTS_KEY,
    group_name="alerts",
    kinds={"python", "duckdb"},
    deps=[dg.AssetKey(["marts", "fct_resource_utilization"]), dg.AssetKey(["marts", "mart_token_budget_tracking"]),
          dg.AssetKey(["analytics", "budget_projections"])],
    check_specs=[dg.AssetCheckSpec(name, asset=ALERTS_KEY, description=CHECK_DESCRIPTIONS[name]) for name in CHECKS],
    description="One row per alert: time, subject, rule, value, threshold, severity (warning / critical), message. "
                "Threshold rules over the whole history, forecast breaches as of the latest day.",
)
def alerts(context: dg.AssetExecutionContext, duckdb: DuckDBResource):
    # pandas and the rules are imported here, not at module level: definitions load faster
    import pandas as pd

    from orchestration.analytics import alerting

    with duckdb.get_connection() as conn:
        cpu_daily = conn.execute(CPU_DAILY_SQL).df()
        tracking = conn.execute(
            "select workspace_id, agent_id, usage_date, daily_total_tokens, daily_token_budget, budget_month, "
            "month_to_date_tokens, monthly_token_budget, month_to_date_cost::double as month_to_date_cost, "
            "monthly_cost_budget_usd::double as monthly_cost_budget_usd from marts.mart_token_budget_tracking order by all").df()
        projections = conn.execute("select * from analytics.budget_projections order by all").df()
    as_of = pd.Timestamp(tracking["usage_date"].max())
    df = alerting.build_alerts(cpu_daily, tracking, projections)
    with duckdb.get_connection() as conn:
        conn.execute("create schema if not exists analytics")
        conn.register("df_view", df)
        conn.execute("create or replace table analytics.alerts as select * from df_view")
        conn.unregister("df_view")

    now = alerting.current_alerts(df, as_of)
    results = []
    for name, rules in CHECKS.items():
        subset = now[now["rule"].isin(rules)]
        passed, worst = alerting.check_outcome(subset)
        results.append(dg.AssetCheckResult(
            check_name=name, passed=passed,
            severity=dg.AssetCheckSeverity.ERROR if worst == "critical" else dg.AssetCheckSeverity.WARN,
            metadata={"as_of_date": str(as_of.date()), "critical": int((subset["severity"] == "critical").sum()),
                      "warning": int((subset["severity"] == "warning").sum()),
                      "subjects": dg.MetadataValue.md(
                          "\n".join(f"- **{r.severity}** {r.message}" for r in subset.head(20).itertuples()) or "none")},
        ))
    preview = now.head(20)[["alert_time", "subject", "rule", "value", "threshold", "severity"]]
    return dg.MaterializeResult(
        metadata={"dagster/row_count": len(df), "as_of_date": str(as_of.date()),
                  "current_critical": int((now["severity"] == "critical").sum()),
                  "current_warning": int((now["severity"] == "warning").sum()),
                  "current_alerts": dg.MetadataValue.md(preview.to_markdown(index=False) if len(preview) else "none")},
        check_results=results,
    )

"""The dashboard page: eight panels over the published warehouse, rendered per request.

Figures are built with plotly (Python) and drawn in the browser by plotly.js, which the
API serves itself from the plotly package (`/dashboard/plotly.min.js`): no CDN, so the
page works on a machine without internet. Every panel is a <section id="panel-..."> and
the page carries its key figures as data-* attributes, so a browser test can compare what
is shown with the marts.
"""

from __future__ import annotations

import html
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from .queries import fetch_dicts, latest_data_date

PLOTLY_JS = get_plotlyjs()
PRIORITY_COLORS = {"P1": "#d62728", "P2": "#ff7f0e", "P3": "#1f77b4", None: "#7f7f7f"}
SEVERITY_COLORS = {"critical": "#d62728", "warning": "#ff9f1c"}
CONFIG = {"displayModeBar": False, "responsive": True}

# Alerts still in force on the latest day: that day's daily alerts, this month's monthly
# alerts, and the forecast alerts (computed as of the latest day).
ACTIVE_ALERTS_SQL = """
select severity, rule, subject, agent_id, period, value, threshold, unit, message
from analytics.alerts
where period = strftime(?::date, '%Y-%m-%d') or period = strftime(?::date, '%Y-%m')
   or rule like 'forecast_budget_breach:%'
order by case severity when 'critical' then 0 else 1 end, rule, subject
"""


def _money(value) -> str:
    return f"${value:,.2f}"


def _fig_html(fig: go.Figure, div_id: str, height: int) -> str:
    fig.update_layout(height=height, margin=dict(l=60, r=20, t=50, b=45), template="plotly_white",
                      font=dict(size=12))
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=CONFIG)


def _gauges(conn, latest: date) -> tuple[str, dict]:
    week_start = latest - timedelta(days=6)
    cpu, mem, gpu = conn.execute("""
        select sum(cpu_usage_percent * execution_duration_ms) / nullif(sum(execution_duration_ms), 0),
               100 * sum(memory_usage_mb * execution_duration_ms)
                   / nullif(sum(memory_allocated_mb * execution_duration_ms), 0),
               avg(gpu_usage_percent) filter (where gpu_compute_units > 0)
        from marts.fct_resource_utilization where usage_date between ? and ?""",
                                 [week_start, latest]).fetchone()
    tokens_pct, cost_pct = conn.execute("""
        select 100 * sum(month_to_date_tokens) / nullif(sum(monthly_token_budget), 0),
               100 * sum(month_to_date_cost) / nullif(sum(monthly_cost_budget_usd), 0)
        from marts.mart_token_budget_tracking where usage_date = ?""", [latest]).fetchone()
    gauges = [("CPU utilisation<br><sub>last 7 days, % of allocated</sub>", cpu),
              ("Memory utilisation<br><sub>last 7 days, % of allocated</sub>", mem),
              ("GPU utilisation<br><sub>last 7 days, GPU runs</sub>", gpu),
              ("Token budget used<br><sub>month to date, %</sub>", tokens_pct),
              ("Cost budget used<br><sub>month to date, %</sub>", cost_pct)]
    fig = go.Figure()
    for i, (title, value) in enumerate(gauges):
        v = float(value) if value is not None else 0.0
        fig.add_trace(go.Indicator(
            mode="gauge+number", value=v, number={"suffix": "%", "valueformat": ".1f"},
            title={"text": title, "font": {"size": 13}},
            domain={"x": [i / len(gauges) + 0.03, (i + 1) / len(gauges) - 0.03], "y": [0, 1]},
            gauge={"axis": {"range": [0, max(100, v * 1.1)]},
                   "bar": {"color": "#d62728" if v > 80 else "#2ca02c"},
                   "steps": [{"range": [0, 80], "color": "#f2f2f2"}, {"range": [80, max(100, v * 1.1)], "color": "#fde0dd"}],
                   "threshold": {"line": {"color": "#d62728", "width": 3}, "value": 80}}))
    hooks = {"cpu-pct": f"{float(cpu or 0):.1f}", "cost-budget-pct": f"{float(cost_pct or 0):.1f}"}
    return _fig_html(fig, "chart-gauges", 260), hooks


def _burndown(conn, latest: date) -> tuple[str, dict]:
    month_start = latest.replace(day=1)
    month_end = (month_start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    (budget,) = conn.execute("select coalesce(sum(monthly_cost_budget_usd), 0) from marts.dim_agents").fetchone()
    actual = conn.execute("""
        select usage_date, sum(daily_total_cost) from marts.mart_token_budget_tracking
        where usage_date between ? and ? group by 1 order by 1""", [month_start, latest]).fetchall()
    forecast = conn.execute("""
        select forecast_date, mean from analytics.forecasts
        where series_id = 'daily|total|*|*|cost_usd' and forecast_date <= ? order by 1""", [month_end]).fetchall()
    budget_f = float(budget)
    days, remaining, spent = [], [], Decimal(0)
    for day, cost in actual:
        spent += cost
        days.append(day)
        remaining.append(budget_f - float(spent))
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[month_start - timedelta(days=1), month_end], y=[budget_f, 0], name="ideal burn",
                             mode="lines", line=dict(dash="dot", color="#7f7f7f")))
    fig.add_trace(go.Scatter(x=[month_start - timedelta(days=1), *days], y=[budget_f, *remaining],
                             name="budget remaining (actual)", mode="lines+markers", line=dict(color="#1f77b4", width=3)))
    if forecast and days:
        proj, left = [days[-1]], [remaining[-1]]
        for day, mean in forecast:
            proj.append(day)
            left.append(left[-1] - mean)
        fig.add_trace(go.Scatter(x=proj, y=left, name="projected (forecast mean)", mode="lines",
                                 line=dict(color="#ff7f0e", dash="dash", width=3)))
    fig.add_hline(y=0, line_color="#d62728", line_width=1)
    fig.update_layout(title=f"Monthly cost budget {_money(budget)} ({month_start:%B %Y}): "
                            f"{_money(spent)} spent to {latest}",
                      yaxis_title="USD left in the budget", legend=dict(orientation="h", y=-0.2))
    return _fig_html(fig, "chart-burndown", 360), {"budget-usd": f"{budget:.2f}", "spent-usd": f"{spent:.2f}"}


def _heatmap(conn) -> tuple[str, dict]:
    rows = fetch_dicts(conn, """
        select t.agent_id || ' ' || a.agent_name as agent, t.usage_date, t.daily_total_tokens, t.daily_budget_usage_pct
        from marts.mart_token_budget_tracking t join marts.dim_agents a using (agent_id)
        order by t.agent_id desc, t.usage_date""")
    agents = list(dict.fromkeys(r["agent"] for r in rows))
    dates = sorted({r["usage_date"] for r in rows})
    index = {(r["agent"], r["usage_date"]): r for r in rows}
    z = [[index.get((a, d), {}).get("daily_total_tokens") for d in dates] for a in agents]
    text = [[f"{index[(a, d)]['daily_budget_usage_pct']:.0f}% of daily budget"
             if (a, d) in index and index[(a, d)]["daily_budget_usage_pct"] is not None else "" for d in dates]
            for a in agents]
    fig = go.Figure(go.Heatmap(z=z, x=dates, y=agents, text=text, colorscale="YlOrRd",
                               colorbar=dict(title="tokens"),
                               hovertemplate="%{y}<br>%{x}<br>%{z:,} tokens<br>%{text}<extra></extra>"))
    fig.update_layout(title="Tokens per agent and day", yaxis=dict(dtick=1))
    return _fig_html(fig, "chart-heatmap", 40 + 24 * len(agents) + 100), {"agents": len(agents), "days": len(dates)}


def _api_timeline(conn) -> tuple[str, dict]:
    rows = fetch_dicts(conn, """
        select usage_date, sum(total_calls) as calls, sum(failed_calls) as failed, sum(rate_limited_calls) as limited
        from marts.mart_api_usage_daily group by 1 order by 1""")
    x = [r["usage_date"] for r in rows]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Bar(x=x, y=[int(r["calls"] - r["failed"]) for r in rows], name="successful", marker_color="#2ca02c"))
    fig.add_trace(go.Bar(x=x, y=[int(r["failed"] - r["limited"]) for r in rows], name="errors", marker_color="#d62728"))
    fig.add_trace(go.Bar(x=x, y=[int(r["limited"]) for r in rows], name="rate-limited (429)", marker_color="#ff9f1c"))
    fig.add_trace(go.Scatter(x=x, y=[100 * float(r["failed"] / r["calls"]) if r["calls"] else 0 for r in rows],
                             name="error rate %", mode="lines+markers", line=dict(color="#000000")),
                  secondary_y=True)
    total, failed = sum(int(r["calls"]) for r in rows), sum(int(r["failed"]) for r in rows)
    fig.update_layout(barmode="stack", title=f"External API calls per day: {total:,} calls, {failed:,} failed",
                      legend=dict(orientation="h", y=-0.2))
    fig.update_yaxes(title_text="calls", secondary_y=False)
    fig.update_yaxes(title_text="error rate %", secondary_y=True, rangemode="tozero")
    return _fig_html(fig, "chart-api", 360), {"calls": total, "failed": failed}


def _waste(conn) -> tuple[str, dict]:
    rows = fetch_dicts(conn, """
        select line, monthly_waste_usd, findings, priority from analytics.waste_summary
        where kind <> 'total' and monthly_waste_usd > 0 order by monthly_waste_usd""")
    (total,) = conn.execute("select coalesce(sum(monthly_waste_usd), 0) from analytics.waste_summary "
                            "where kind <> 'total'").fetchone()
    fig = go.Figure(go.Bar(x=[r["monthly_waste_usd"] for r in rows], y=[r["line"] for r in rows], orientation="h",
                           marker_color=[PRIORITY_COLORS.get(r["priority"], "#7f7f7f") for r in rows],
                           text=[f"${r['monthly_waste_usd']:,.2f} ({r['findings']})" for r in rows],
                           textposition="auto"))
    fig.update_layout(title=f"Waste: {_money(total)} per month", xaxis_title="USD per month (log scale)",
                      xaxis_type="log", margin=dict(l=220))
    return _fig_html(fig, "chart-waste", 360), {"total-usd": f"{total:.2f}", "lines": len(rows)}


def _recommendations(conn) -> tuple[str, dict]:
    rows = fetch_dicts(conn, """
        select kind, subject_id, priority, effort, monthly_saving_usd, evidence from analytics.findings
        order by priority nulls last, monthly_saving_usd desc nulls last, finding_id""")
    top = sorted([r for r in rows if (r["monthly_saving_usd"] or 0) > 0], key=lambda r: r["monthly_saving_usd"])[-10:]
    fig = go.Figure(go.Bar(x=[r["monthly_saving_usd"] for r in top],
                           y=[f"{r['kind']}: {r['subject_id'][:28]}" for r in top], orientation="h",
                           marker_color=[PRIORITY_COLORS.get(r["priority"], "#7f7f7f") for r in top],
                           text=[f"{r['priority']} · ${r['monthly_saving_usd']:,.2f}" for r in top],
                           textposition="auto"))
    fig.update_layout(title="Top recommendations by monthly saving", xaxis_title="USD per month (log scale)",
                      xaxis_type="log", margin=dict(l=260))
    table = "".join(
        f"<tr><td class='prio {html.escape(r['priority'] or '')}'>{html.escape(r['priority'] or '-')}</td>"
        f"<td>{html.escape(r['kind'])}</td><td>{html.escape(r['subject_id'])}</td>"
        f"<td class='num'>{'' if r['monthly_saving_usd'] is None else _money(r['monthly_saving_usd'])}</td>"
        f"<td>{html.escape(r['effort'] or '')}</td><td class='evidence'>{html.escape(r['evidence'] or '')}</td></tr>"
        for r in rows[:12])
    body = (_fig_html(fig, "chart-recommendations", 380)
            + "<table class='list' id='recommendations-table'><thead><tr><th>prio</th><th>kind</th><th>subject</th>"
              f"<th>saving / month</th><th>effort</th><th>evidence</th></tr></thead><tbody>{table}</tbody></table>")
    return body, {"count": len(rows)}


def _fan(conn, metric: str, history_sql: str, title: str, unit: str, div_id: str) -> tuple[str, int]:
    history = conn.execute(history_sql).fetchall()
    fc = fetch_dicts(conn, """
        select forecast_date, mean, median, lower_80, upper_80, lower_95, upper_95, model
        from analytics.forecasts where series_id = ? order by step""", [f"daily|total|*|*|{metric}"])
    x = [r["forecast_date"] for r in fc]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x + x[::-1], y=[r["upper_95"] for r in fc] + [r["lower_95"] for r in fc][::-1],
                             fill="toself", fillcolor="rgba(255,127,14,0.15)", line=dict(width=0), name="95% interval"))
    fig.add_trace(go.Scatter(x=x + x[::-1], y=[r["upper_80"] for r in fc] + [r["lower_80"] for r in fc][::-1],
                             fill="toself", fillcolor="rgba(255,127,14,0.35)", line=dict(width=0), name="80% interval"))
    fig.add_trace(go.Scatter(x=x, y=[r["median"] for r in fc], name="forecast median", mode="lines",
                             line=dict(color="#ff7f0e", width=2)))
    fig.add_trace(go.Scatter(x=[d for d, _ in history], y=[float(v) for _, v in history], name="actual",
                             mode="lines+markers", line=dict(color="#1f77b4", width=2)))
    model = fc[0]["model"] if fc else "none"
    fig.update_layout(title=f"{title}: 30-day forecast ({model})", yaxis_title=unit, legend=dict(orientation="h", y=-0.2))
    return _fig_html(fig, div_id, 340), len(fc)


def _alerts(conn, latest: date) -> tuple[str, dict]:
    rows = fetch_dicts(conn, ACTIVE_ALERTS_SQL, [latest, latest])
    counts: dict[tuple[str, str], int] = {}
    for r in rows:
        counts[(r["rule"], r["severity"])] = counts.get((r["rule"], r["severity"]), 0) + 1
    rules = sorted({rule for rule, _ in counts})
    fig = go.Figure([go.Bar(x=[counts.get((rule, sev), 0) for rule in rules], y=rules, orientation="h", name=sev,
                            marker_color=color) for sev, color in SEVERITY_COLORS.items()])
    fig.update_layout(barmode="stack", title=f"Active alerts on {latest}: {len(rows)}", xaxis_title="alerts",
                      margin=dict(l=260), legend=dict(orientation="h", y=-0.25), xaxis=dict(dtick=1))
    table = "".join(
        f"<tr class='{html.escape(r['severity'])}'><td>{html.escape(r['severity'])}</td><td>{html.escape(r['rule'])}</td>"
        f"<td>{html.escape(r['subject'] or '')}</td><td>{html.escape(r['message'] or '')}</td></tr>" for r in rows)
    body = (_fig_html(fig, "chart-alerts", 300)
            + "<div class='scroll'><table class='list' id='alerts-table'><thead><tr><th>severity</th><th>rule</th>"
              f"<th>subject</th><th>message</th></tr></thead><tbody>{table}</tbody></table></div>")
    return body, {"count": len(rows), "critical": sum(r["severity"] == "critical" for r in rows)}


def _attrs(prefix: str, hooks: dict) -> str:
    return " ".join(f'data-{prefix}{k}="{html.escape(str(v))}"' for k, v in hooks.items())


def render_dashboard(conn, database_path: Path) -> str:
    latest = latest_data_date(conn)
    agents, workspaces = conn.execute(
        "select count(*), count(distinct workspace_id) from marts.dim_agents").fetchone()
    total_cost, first_day = conn.execute(
        "select sum(total_cost), min(usage_date) from marts.mart_infrastructure_cost_allocation").fetchone()
    (month_cost,) = conn.execute("""
        select coalesce(sum(total_cost), 0) from marts.mart_infrastructure_cost_allocation
        where usage_date between ? and ?""", [latest.replace(day=1), latest]).fetchone()
    (saving,) = conn.execute("select potential_saving_monthly_usd from analytics.cost_summary").fetchone()
    publication = ""
    if conn.execute("select count(*) from information_schema.tables where table_schema = 'meta' "
                    "and table_name = 'publication'").fetchone()[0]:
        row = conn.execute("select run_id, published_at from meta.publication").fetchone()
        if row:
            publication = f"published {row[1]:%Y-%m-%d %H:%M} UTC by run {row[0][:8]}"

    gauges, g_hooks = _gauges(conn, latest)
    burndown, b_hooks = _burndown(conn, latest)
    heatmap, h_hooks = _heatmap(conn)
    api, a_hooks = _api_timeline(conn)
    waste, w_hooks = _waste(conn)
    recs, r_hooks = _recommendations(conn)
    fan_tokens, n_tok = _fan(conn, "tokens", "select usage_date, sum(total_tokens) from marts.mart_daily_usage group by 1 order by 1",
                             "Tokens per day, all agents", "tokens", "chart-forecast-tokens")
    fan_cost, n_cost = _fan(conn, "cost_usd", "select usage_date, sum(total_cost) from marts.mart_daily_usage group by 1 order by 1",
                            "Usage cost per day, all agents", "USD", "chart-forecast-cost")
    alerts, al_hooks = _alerts(conn, latest)

    kpis = [("kpi-agents", "agents", f"{agents}"), ("kpi-workspaces", "workspaces", f"{workspaces}"),
            ("kpi-total-cost", f"total cost {first_day} – {latest}", _money(total_cost)),
            ("kpi-month-cost", f"cost {latest:%B} to date", _money(month_cost)),
            ("kpi-active-alerts", "active alerts", f"{al_hooks['count']} ({al_hooks['critical']} critical)"),
            ("kpi-saving", "potential saving / month", _money(saving or 0))]
    kpi_html = "".join(f"<div class='kpi'><div class='value' id='{i}'>{html.escape(v)}</div>"
                       f"<div class='label'>{html.escape(label)}</div></div>" for i, label, v in kpis)

    def panel(pid: str, title: str, body: str, hooks: dict) -> str:
        return (f"<section class='panel' id='panel-{pid}' {_attrs('', hooks)}><h2>{html.escape(title)}</h2>"
                f"{body}</section>")

    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Agent resource dashboard · data to {latest}</title>
<script src="/dashboard/plotly.min.js"></script>
<style>
body {{ font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; background: #f5f6f8; color: #222; }}
header {{ background: #1f2937; color: white; padding: 14px 24px; }}
header h1 {{ margin: 0; font-size: 22px; }} header .sub {{ color: #cbd5e1; font-size: 13px; margin-top: 4px; }}
.kpis {{ display: grid; grid-template-columns: repeat(6, 1fr); gap: 12px; padding: 16px 24px 0; }}
.kpi {{ background: white; border-radius: 8px; padding: 12px 16px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }}
.kpi .value {{ font-size: 24px; font-weight: 600; }} .kpi .label {{ color: #555; font-size: 12px; }}
main {{ display: grid; grid-template-columns: 1fr 1fr; gap: 16px; padding: 16px 24px 32px; }}
.panel {{ background: white; border-radius: 8px; padding: 8px 12px 12px; box-shadow: 0 1px 2px rgba(0,0,0,.08); min-width: 0; }}
.panel.wide {{ grid-column: 1 / -1; }}
.panel h2 {{ font-size: 15px; margin: 6px 4px; color: #374151; }}
table.list {{ border-collapse: collapse; width: 100%; font-size: 12px; }}
table.list th, table.list td {{ border-bottom: 1px solid #e5e7eb; padding: 3px 6px; text-align: left; vertical-align: top; }}
td.num {{ text-align: right; white-space: nowrap; }} td.evidence {{ color: #555; }}
td.prio.P1, tr.critical td:first-child {{ color: #d62728; font-weight: 600; }}
td.prio.P2, tr.warning td:first-child {{ color: #c26a00; font-weight: 600; }}
.scroll {{ max-height: 260px; overflow-y: auto; }}
</style></head>
<body data-agent-count="{agents}" data-workspace-count="{workspaces}" data-latest-date="{latest}"
      data-total-cost-usd="{total_cost:f}" data-month-cost-usd="{month_cost:f}" data-active-alerts="{al_hooks['count']}">
<header><h1>Agent resource dashboard</h1>
<div class="sub">Data {first_day} – {latest} · {html.escape(publication or str(database_path))} ·
all figures from the published warehouse; reload for the latest run</div></header>
<div class="kpis">{kpi_html}</div>
<main>
{panel("gauges", "Resource gauges", gauges, g_hooks).replace("class='panel'", "class='panel wide'", 1)}
{panel("burndown", "Cost burndown against budget", burndown, b_hooks)}
{panel("forecast", "Forecast fan (80% and 95% intervals)", fan_tokens + fan_cost, {"points": n_tok + n_cost})}
{panel("heatmap", "Token usage heatmap (agent × day)", heatmap, h_hooks).replace("class='panel'", "class='panel wide'", 1)}
{panel("api", "API calls timeline with errors", api, a_hooks)}
{panel("waste", "Waste", waste, w_hooks)}
{panel("recommendations", "Recommendations", recs, r_hooks)}
{panel("alerts", "Active alerts", alerts, al_hooks)}
</main></body></html>"""

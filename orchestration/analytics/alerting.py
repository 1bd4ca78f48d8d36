"""Alert rules, alert rows and webhook delivery. Pure functions (no Dagster).

Rules (the seed's thresholds, plus forecast breaches):

| rule | subject | value | warning | critical |
|---|---|---|---|---|
| cpu_utilization | agent, day | duration-weighted mean CPU % of the day's executions | — | > 80 |
| daily_token_budget | agent, day | tokens / daily token budget, % | > 80 | > 90 |
| monthly_token_budget | agent, month | month-to-date tokens / monthly budget, % | > 80 | > 90 |
| monthly_cost_budget | agent, month | month-to-date cost / monthly cost budget, % | > 80 | > 90 |
| forecast_budget_breach | agent, budget period | probability of breaching (0..1) | ≥ 0.5 | ≥ 0.8 |

A monthly rule fires once per agent, month and severity, dated the first day the
threshold was crossed; a forecast breach once per agent, budget and period (daily budgets:
the expected breach day), for budgets not already over (those are the threshold rules').
Every alert has a stable `alert_id` (hash of rule, subject, period and severity) so that a
sensor can tell new alerts from ones already sent.
"""

from __future__ import annotations

import hashlib
import json
import urllib.request

import numpy as np
import pandas as pd

CPU_CRITICAL_PCT = 80.0
TOKEN_WARNING_PCT = 80.0
TOKEN_CRITICAL_PCT = 90.0
FORECAST_WARNING_P = 0.5
FORECAST_CRITICAL_P = 0.8

ALERT_COLUMNS = ["alert_id", "alert_time", "subject_type", "subject", "workspace_id", "agent_id", "rule",
                 "period", "value", "threshold", "unit", "severity", "message"]


def alert_id(rule: str, subject: str, period: str, severity: str) -> str:
    return hashlib.sha256(f"{rule}|{subject}|{period}|{severity}".encode()).hexdigest()[:16]


def _severity(value: float, warning: float | None, critical: float, inclusive: bool = False):
    above = (lambda v, t: v >= t) if inclusive else (lambda v, t: v > t)
    if above(value, critical):
        return "critical", critical
    if warning is not None and above(value, warning):
        return "warning", warning
    return None, None


def cpu_alerts(cpu_daily: pd.DataFrame) -> list[dict]:
    """cpu_daily: workspace_id, agent_id, usage_date, cpu_pct (daily mean CPU %)."""
    rows = []
    for r in cpu_daily[_may_exceed(cpu_daily["cpu_pct"], 100, CPU_CRITICAL_PCT / 100)].itertuples():
        sev, thr = _severity(float(r.cpu_pct), None, CPU_CRITICAL_PCT)
        if sev:
            day = pd.Timestamp(r.usage_date).date().isoformat()
            rows.append(_row("cpu_utilization", r, day, day, float(r.cpu_pct), thr, "percent", sev,
                             f"{r.agent_id}: mean CPU {r.cpu_pct:.1f}% on {day} (> {thr:.0f}%)"))
    return rows


def budget_threshold_alerts(tracking: pd.DataFrame) -> list[dict]:
    """tracking: marts.mart_token_budget_tracking columns (workspace_id, agent_id, usage_date,
    daily_total_tokens, daily_token_budget, budget_month, month_to_date_tokens,
    monthly_token_budget, month_to_date_cost, monthly_cost_budget_usd)."""
    rows = []
    t = tracking.sort_values("usage_date")
    daily = t[_may_exceed(t["daily_total_tokens"], t["daily_token_budget"], TOKEN_WARNING_PCT / 100)]
    for r in daily.itertuples():
        day = pd.Timestamp(r.usage_date).date().isoformat()
        if pd.notna(r.daily_token_budget) and r.daily_token_budget > 0:
            pct = r.daily_total_tokens / r.daily_token_budget * 100
            sev, thr = _severity(pct, TOKEN_WARNING_PCT, TOKEN_CRITICAL_PCT)
            if sev:
                rows.append(_row("daily_token_budget", r, day, day, pct, thr, "percent", sev,
                                 f"{r.agent_id}: {r.daily_total_tokens:,.0f} tokens on {day} = {pct:.1f}% of the daily budget "
                                 f"{r.daily_token_budget:,.0f}"))
    seen: set[str] = set()
    for rule, used, budget, unit in (("monthly_token_budget", "month_to_date_tokens", "monthly_token_budget", "tokens"),
                                     ("monthly_cost_budget", "month_to_date_cost", "monthly_cost_budget_usd", "USD")):
        for r in t[_may_exceed(t[used], t[budget], TOKEN_WARNING_PCT / 100)].itertuples():
            b = getattr(r, budget)
            if pd.isna(b) or float(b) <= 0:
                continue
            pct = float(getattr(r, used)) / float(b) * 100
            sev, thr = _severity(pct, TOKEN_WARNING_PCT, TOKEN_CRITICAL_PCT)
            month = pd.Timestamp(r.budget_month).strftime("%Y-%m")
            if sev and (key := alert_id(rule, r.agent_id, month, sev)) not in seen:
                seen.add(key)
                rows.append(_row(rule, r, pd.Timestamp(r.usage_date).date().isoformat(), month, pct, thr, "percent", sev,
                                 f"{r.agent_id}: month-to-date {float(getattr(r, used)):,.2f} {unit} on "
                                 f"{pd.Timestamp(r.usage_date).date()} = {pct:.1f}% of the {month} budget {float(b):,.2f}"))
    return rows


def _may_exceed(used: pd.Series, budget, share: float) -> np.ndarray:
    """Rows where used / budget may be above `share`: a superset of the rows a rule fires on,
    with a margin, so that the rule's own per-row test (unchanged) decides. At 10M calls the
    rules read every agent-day row by row (182,000 rows; build_alerts 6.4 s, now 1.1 s) where
    about one in nine fires."""
    used = pd.to_numeric(used).to_numpy(dtype=float, na_value=np.nan)
    budget = pd.to_numeric(budget).to_numpy(dtype=float, na_value=np.nan) if isinstance(budget, pd.Series) else float(budget)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(used > budget * share * (1 - 1e-9))  # NaN compares False: no budget, no value


def forecast_alerts(projections: pd.DataFrame) -> list[dict]:
    """projections: budget_projection.project_budgets output."""
    rows = []
    for r in projections.itertuples():
        if r.already_breached:
            continue
        if r.budget_type == "daily_tokens":
            if r.expected_breach_date is None or pd.isna(r.expected_breach_date):
                continue
            p = float(r.p_breach_on_expected_date)
            period = pd.Timestamp(r.expected_breach_date).date().isoformat()
        else:
            p = float(r.p_breach)
            period = pd.Timestamp(r.period_start).strftime("%Y-%m")
        sev, thr = _severity(p, FORECAST_WARNING_P, FORECAST_CRITICAL_P, inclusive=True)
        if not sev:
            continue
        when = f", expected on {r.expected_breach_date}" if r.expected_breach_date is not None and not pd.isna(r.expected_breach_date) else ""
        rows.append(_row(f"forecast_budget_breach:{r.budget_type}", r, pd.Timestamp(r.as_of_date).date().isoformat(),
                         period, p, thr, "probability", sev,
                         f"{r.agent_id}: {r.budget_type} budget {r.budget:,.2f} {r.unit} likely to break (p={p:.2f}){when}; "
                         f"projected {r.projected_end_of_period:,.2f} for the period ending {r.period_end}"))
    return rows


def _row(rule, r, time, period, value, threshold, unit, severity, message) -> dict:
    return {"alert_id": alert_id(rule, r.agent_id, period, severity), "alert_time": pd.Timestamp(time),
            "subject_type": "agent", "subject": f"{r.workspace_id}/{r.agent_id}", "workspace_id": r.workspace_id,
            "agent_id": r.agent_id, "rule": rule, "period": period, "value": float(value),
            "threshold": float(threshold), "unit": unit, "severity": severity, "message": message}


def build_alerts(cpu_daily: pd.DataFrame, tracking: pd.DataFrame, projections: pd.DataFrame) -> pd.DataFrame:
    rows = cpu_alerts(cpu_daily) + budget_threshold_alerts(tracking) + forecast_alerts(projections)
    df = pd.DataFrame(rows, columns=ALERT_COLUMNS)
    return df.sort_values(["alert_time", "severity", "rule", "subject"]).reset_index(drop=True)


def current_alerts(alerts: pd.DataFrame, as_of) -> pd.DataFrame:
    """Alerts that describe the state as of `as_of`: day rules on as_of, monthly and
    forecast rules for the current period (the month containing as_of, or later)."""
    as_of = pd.Timestamp(as_of)
    is_day = alerts["rule"].isin(["cpu_utilization", "daily_token_budget"])
    day_now = is_day & (pd.to_datetime(alerts["alert_time"]) == as_of)
    month_now = alerts["rule"].str.startswith("monthly_") & (alerts["period"] == as_of.strftime("%Y-%m"))
    forecast = alerts["rule"].str.startswith("forecast_") & (pd.to_datetime(alerts["alert_time"]) == as_of)
    return alerts[day_now | month_now | forecast]


def check_outcome(alerts: pd.DataFrame) -> tuple[bool, str | None]:
    """(passed, worst severity) of a set of alerts: fails on any alert."""
    if (alerts["severity"] == "critical").any():
        return False, "critical"
    if (alerts["severity"] == "warning").any():
        return False, "warning"
    return True, None


def new_alerts(alerts: pd.DataFrame, seen_ids: set[str], severity: str = "critical") -> pd.DataFrame:
    return alerts[(alerts["severity"] == severity) & ~alerts["alert_id"].isin(seen_ids)]


def to_payload(alerts: pd.DataFrame) -> dict:
    records = []
    for r in alerts.to_dict("records"):
        records.append({k: (v.isoformat() if hasattr(v, "isoformat") else (None if isinstance(v, float) and np.isnan(v) else v))
                        for k, v in r.items()})
    return {"source": "agent-resource-warehouse", "count": len(records), "alerts": records}


def post_alerts(url: str, alerts: pd.DataFrame, timeout: float = 10.0) -> int:
    """POST the alerts as one JSON document; returns the HTTP status. Raises on failure."""
    body = json.dumps(to_payload(alerts)).encode()
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (operator-configured URL)
        return resp.status

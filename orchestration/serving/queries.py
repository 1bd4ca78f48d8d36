"""The API's reads: plain functions over a read-only DuckDB connection.

Every user-supplied value is a bound parameter (`?`). The only SQL text chosen at run time
is a column name taken from a fixed dict (`BREAKDOWN_COLUMNS`, `CHARGEBACK_COLUMNS`), never
from the request itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import duckdb

from .models import Breakdown, Period, ResourceType

ZERO = Decimal(0)


class NotFound(LookupError):
    """An id or period the warehouse does not know (→ 404)."""


class BadParameter(ValueError):
    """A parameter that is well-formed but cannot be served (→ 422)."""


def fetch_dicts(conn: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    cursor = conn.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def latest_data_date(conn) -> date:
    # The same "now" the forecasts use: the last usage day of the marts, not the wall clock.
    (day,) = conn.execute("select max(usage_date) from marts.mart_daily_usage").fetchone()
    if day is None:
        raise NotFound("the published warehouse has no usage data")
    return day


def get_agent(conn, agent_id: str) -> dict:
    rows = fetch_dicts(conn, "select agent_id, agent_name, workspace_id, department, project, owner_user_id "
                             "from marts.dim_agents where agent_id = ?", [agent_id])
    if not rows:
        raise NotFound(f"unknown agent_id {agent_id!r} (see GET /analytics/agents)")
    return rows[0]


def list_agents(conn) -> list[dict]:
    return fetch_dicts(conn, "select agent_id, agent_name, workspace_id, department, project, owner_user_id "
                             "from marts.dim_agents order by agent_id")


def require_workspace(conn, workspace_id: str) -> None:
    if conn.execute("select 1 from marts.dim_agents where workspace_id = ? limit 1", [workspace_id]).fetchone() is None:
        raise NotFound(f"unknown workspace_id {workspace_id!r}")


# ---------------------------------------------------------------- resource usage

TIMEFRAME = re.compile(r"^([1-9][0-9]{0,4})([hdw])$")
MAX_TIMEFRAME = timedelta(days=366)


def parse_timeframe(text: str) -> timedelta:
    """'24h', '7d', '4w' → a duration of at most 366 days."""
    match = TIMEFRAME.match(text)
    if not match:
        raise BadParameter(f"timeframe {text!r}: expected a number and a unit h, d or w, e.g. 24h, 7d, 4w")
    n, unit = int(match.group(1)), match.group(2)
    span = {"h": timedelta(hours=n), "d": timedelta(days=n), "w": timedelta(weeks=n)}[unit]
    if span > MAX_TIMEFRAME:
        raise BadParameter(f"timeframe {text!r} is longer than {MAX_TIMEFRAME.days} days")
    return span


def parse_resource_types(text: str) -> list[ResourceType]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    allowed = {t.value for t in ResourceType}
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        raise BadParameter(f"resource_types {text!r}: expected a comma-separated subset of {sorted(allowed)}")
    return [ResourceType(n) for n in dict.fromkeys(names)]


# Each query returns one row per bucket plus, via GROUPING SETS, one row for the whole
# window (is_total = 1): window totals come from SQL too (a mean is not a sum of means).
COMPUTE_SQL = """
select bucket, grouping(bucket) as is_total, count(*) as executions,
       sum(cpu_core_seconds) / 3600 as cpu_core_hours,
       sum(memory_mb_seconds) / 1024 / 3600 as memory_gb_hours,
       coalesce(sum(gpu_compute_units), 0) as gpu_compute_units,
       avg(cpu_usage_percent) as avg_cpu_usage_percent,
       sum(cpu_cost) as cpu_cost_usd, sum(memory_cost) as memory_cost_usd,
       sum(gpu_cost) as gpu_cost_usd, sum(compute_cost) as compute_cost_usd
from (select date_trunc(?, "timestamp") as bucket, * from marts.fct_resource_utilization
      where agent_id = ? and "timestamp" >= ? and "timestamp" < ?)
group by grouping sets ((bucket), ())
"""

# Tokens as the budget mart counts them: the executions' own tokens plus LLM calls no
# execution covers (gateway calls are already inside their execution). llm_calls counts
# every call of the agent in any log.
TOKENS_SQL = """
with t as (
    select "timestamp" as ts, 0 as llm_calls, input_tokens, output_tokens, total_tokens, token_cost
    from marts.fct_resource_utilization where agent_id = ?
    union all
    select started_at, 0, input_tokens, output_tokens, total_tokens, token_cost
    from marts.fct_llm_calls where agent_id = ? and is_outside_executions
    union all
    select started_at, 1, 0, 0, 0, 0 from marts.fct_llm_calls where agent_id = ?
)
select bucket, grouping(bucket) as is_total, sum(llm_calls) as llm_calls, sum(input_tokens) as input_tokens,
       sum(output_tokens) as output_tokens, sum(total_tokens) as total_tokens,
       coalesce(sum(token_cost), 0) as token_cost_usd
from (select date_trunc(?, ts) as bucket, * from t where ts >= ? and ts < ?)
group by grouping sets ((bucket), ())
"""

API_SQL = """
select bucket, grouping(bucket) as is_total, count(*) as api_calls,
       count(*) filter (where not is_success) as failed_calls,
       count(*) filter (where is_rate_limited) as rate_limited_calls,
       avg(latency_ms) as avg_latency_ms, coalesce(sum(cost_usd), 0) as api_cost_usd
from (select date_trunc(?, requested_at) as bucket, * from marts.fct_api_calls
      where agent_id = ? and requested_at >= ? and requested_at < ?)
group by grouping sets ((bucket), ())
"""

EMPTY = {
    ResourceType.compute: dict(executions=0, cpu_core_hours=ZERO, memory_gb_hours=ZERO, gpu_compute_units=ZERO,
                               avg_cpu_usage_percent=None, cpu_cost_usd=ZERO, memory_cost_usd=ZERO,
                               gpu_cost_usd=ZERO, compute_cost_usd=ZERO),
    ResourceType.tokens: dict(llm_calls=0, input_tokens=0, output_tokens=0, total_tokens=0, token_cost_usd=ZERO),
    ResourceType.api: dict(api_calls=0, failed_calls=0, rate_limited_calls=0, avg_latency_ms=None, api_cost_usd=ZERO),
}


def resource_usage(conn, agent: dict, timeframe: str, granularity: str, resource_types: list[ResourceType]) -> dict:
    """Usage of one agent in the `timeframe` that ends at midnight after the latest data day,
    per hour or day (every bucket listed, zeros included)."""
    span = parse_timeframe(timeframe)
    latest = latest_data_date(conn)
    end = datetime.combine(latest + timedelta(days=1), datetime.min.time())
    start = end - span
    unit = "hour" if granularity == "hourly" else "day"
    step = timedelta(hours=1) if unit == "hour" else timedelta(days=1)
    # The first bucket starts at the bucket boundary; only data from `start` on is counted.
    bucket = start if unit == "hour" else datetime.combine(start.date(), datetime.min.time())
    buckets = []
    while bucket < end:
        buckets.append(bucket)
        bucket += step

    agent_id = agent["agent_id"]
    per_bucket: dict[ResourceType, dict[datetime, dict]] = {}
    totals: dict = {"period_start": start}
    for rtype in resource_types:
        if rtype is ResourceType.compute:
            rows = fetch_dicts(conn, COMPUTE_SQL, [unit, agent_id, start, end])
        elif rtype is ResourceType.tokens:
            rows = fetch_dicts(conn, TOKENS_SQL, [agent_id, agent_id, agent_id, unit, start, end])
        else:
            rows = fetch_dicts(conn, API_SQL, [unit, agent_id, start, end])
        per_bucket[rtype] = {}
        totals[rtype.value] = dict(EMPTY[rtype])
        for r in rows:
            b, is_total = r.pop("bucket"), r.pop("is_total")
            if is_total:
                totals[rtype.value] = _clean(r)
            else:
                per_bucket[rtype][b] = _clean(r)

    series = []
    for b in buckets:
        point = {"period_start": b}
        for rtype, values in per_bucket.items():
            point[rtype.value] = values.get(b, EMPTY[rtype])
        series.append(point)

    return dict(agent_id=agent_id, workspace_id=agent["workspace_id"], timeframe=timeframe,
                granularity=granularity, resource_types=resource_types, latest_data_date=latest,
                window_start=start, window_end=end, totals=totals, series=series)


def _clean(row: dict) -> dict:
    # An agent with executions but no GPU has sum(...) = NULL for money/units: that is 0.
    return {k: (ZERO if v is None and k.endswith(("_usd", "hours", "units")) else v) for k, v in row.items()}


# ---------------------------------------------------------------- cost analysis

BREAKDOWN_COLUMNS = {Breakdown.agent: "agent_id", Breakdown.user: "user_id",
                     Breakdown.department: "department", Breakdown.project: "project"}
CLOUD_KEY = "(cloud bill: not attributable to a model)"


def period_bounds(period: Period, day: date, first_day: date) -> tuple[date, date]:
    if period is Period.day:
        return day, day
    if period is Period.week:  # ISO week, Monday first
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6)
    if period is Period.month:
        start = day.replace(day=1)
        return start, (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    if period is Period.quarter:
        start = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
        end_month = start.month + 2
        return start, (date(day.year, end_month, 28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    if period is Period.year:
        return date(day.year, 1, 1), date(day.year, 12, 31)
    return first_day, day


def cost_analysis(conn, workspace_id: str, period: Period, breakdown_by: Breakdown, as_of: date | None) -> dict:
    require_workspace(conn, workspace_id)
    latest = latest_data_date(conn)
    (first_day,) = conn.execute("select min(usage_date) from marts.fct_cost_ledger").fetchone()
    day = as_of or latest
    if day > latest or day < first_day:
        raise NotFound(f"as_of {day} is outside the data ({first_day} .. {latest})")
    start, end = period_bounds(period, day, first_day)
    through = min(end, latest)

    if breakdown_by is Breakdown.model:
        # The ledger has no model; mart_daily_usage has it for usage costs. Cloud bill shares
        # belong to no model and are shown as their own line, so the total still adds up.
        rows = fetch_dicts(conn, """
            unpivot (select model as key, sum(token_cost) as token, sum(cpu_cost) as cpu, sum(memory_cost) as memory,
                            sum(gpu_cost) as gpu, sum(storage_cost) as storage, sum(network_cost) as network,
                            sum(api_cost) as api
                     from marts.mart_daily_usage
                     where workspace_id = ? and usage_date between ? and ? group by all)
            on token, cpu, memory, gpu, storage, network, api into name component value amount""",
                           [workspace_id, start, through])
        rows += fetch_dicts(conn, """
            unpivot (select ? as key, sum(cloud_direct_cost) as cloud_direct, sum(cloud_shared_cost) as cloud_shared
                     from marts.mart_infrastructure_cost_allocation
                     where workspace_id = ? and usage_date between ? and ?)
            on cloud_direct, cloud_shared into name component value amount""",
                            [CLOUD_KEY, workspace_id, start, through])
    else:
        column = BREAKDOWN_COLUMNS[breakdown_by]  # whitelisted identifier
        rows = fetch_dicts(conn, f"""
            select coalesce({column}, '(none)') as key, cost_component as component, sum(amount_usd) as amount
            from marts.fct_cost_ledger
            where workspace_id = ? and usage_date between ? and ?
            group by all""", [workspace_id, start, through])

    items: dict[str, dict] = {}
    for r in rows:
        amount = r["amount"] if r["amount"] is not None else ZERO
        item = items.setdefault(r["key"], {"key": r["key"], "total_cost_usd": ZERO, "components": {}})
        item["components"][r["component"]] = item["components"].get(r["component"], ZERO) + amount
        item["total_cost_usd"] += amount
    total = sum((i["total_cost_usd"] for i in items.values()), ZERO)
    ordered = sorted(items.values(), key=lambda i: (-i["total_cost_usd"], i["key"]))
    for i in ordered:
        i["share_pct"] = float(i["total_cost_usd"] / total * 100) if total else 0.0

    budget = None
    if period is Period.month:
        budget_usd, direct = conn.execute("""
            select (select coalesce(sum(monthly_cost_budget_usd), 0) from marts.dim_agents where workspace_id = ?),
                   (select coalesce(sum(total_cost - cloud_direct_cost - cloud_shared_cost), 0)
                    from marts.mart_infrastructure_cost_allocation
                    where workspace_id = ? and usage_date between ? and ?)""",
                                          [workspace_id, workspace_id, start, through]).fetchone()
        budget = {"monthly_cost_budget_usd": budget_usd, "direct_cost_usd": direct,
                  "used_pct": float(direct / budget_usd * 100) if budget_usd else None}

    return dict(workspace_id=workspace_id, period=period, period_start=start, period_end=end,
                data_through=through, breakdown_by=breakdown_by, total_cost_usd=total, items=ordered,
                budget=budget,
                note=("model breakdown: usage costs by the model the execution used; cloud bill shares "
                      "are one separate line" if breakdown_by is Breakdown.model else None))


# ---------------------------------------------------------------- recommendations

GOAL_CATEGORIES = {"reduce_cost": "cost_optimization", "reduce_waste": "waste",
                   "optimize_tokens": "token_optimization", "optimize_api": "api_optimization"}
EFFORT_RANK = {"low": 1, "medium": 2, "high": 3}


def recommendations(conn, agent: dict, goals: list[str], max_effort: str | None, min_saving: float,
                    priorities: list[str] | None, max_results: int) -> dict:
    agent_id = agent["agent_id"]
    categories = sorted({GOAL_CATEGORIES[g] for g in goals})
    efforts = [e for e, rank in EFFORT_RANK.items() if max_effort is None or rank <= EFFORT_RANK[max_effort]]
    rows = fetch_dicts(conn, """
        select finding_id, category, kind, subject_type, subject_id, evidence, period, monthly_saving_usd,
               assumption, effort, priority
        from analytics.findings
        where subject_type = 'agent' and subject_id = ?
          and list_contains(?, category)
          and (effort is null or list_contains(?, effort))
          and coalesce(monthly_saving_usd, 0) >= ?
          and (? is null or list_contains(?, priority))
        order by priority nulls last, monthly_saving_usd desc nulls last, finding_id
        limit ?""", [agent_id, categories, efforts, min_saving, priorities, priorities, max_results])

    def one(table: str) -> dict | None:
        found = fetch_dicts(conn, f"select * from analytics.{table} where agent_id = ?", [agent_id])
        return _jsonable(found[0]) if found else None

    return dict(agent_id=agent_id, workspace_id=agent["workspace_id"], recommendations=rows,
                total_monthly_saving_usd=sum(r["monthly_saving_usd"] or 0 for r in rows),
                recommended_allocation=one("agent_allocation"), rightsizing=one("rightsizing"),
                efficiency=one("efficiency_scores"))


def _jsonable(row: dict) -> dict:
    return {k: (format(v, "f") if isinstance(v, Decimal) else v) for k, v in row.items()}


# ---------------------------------------------------------------- forecast

UNITS = {"tokens": "tokens", "cpu_core_hours": "core-hours", "gpu_units": "GPU compute units",
         "api_calls": "calls", "storage_growth_mb": "MB persisted per day", "cost_usd": "USD"}


def resource_forecast(conn, agent: dict, horizon_days: int, include_cost: bool) -> dict:
    agent_id = agent["agent_id"]
    (available,) = conn.execute(
        "select max(step) from analytics.forecasts where grain = 'daily' and level = 'agent' and agent_id = ?",
        [agent_id]).fetchone()
    if available is None:
        raise NotFound(f"no forecast for agent {agent_id!r}")
    if horizon_days > available:
        raise BadParameter(f"horizon_days={horizon_days}: the forecasts cover {available} days "
                           "(ForecastSettings.horizon_days)")
    rows = fetch_dicts(conn, """
        select metric, forecast_date as date, step, mean, median, lower_80, upper_80, lower_95, upper_95,
               model, backtest_mase, method_note, as_of_date
        from analytics.forecasts
        where grain = 'daily' and level = 'agent' and agent_id = ? and step <= ?
        order by metric, step""", [agent_id, horizon_days])
    metrics: dict[str, dict] = {}
    as_of = None
    for r in rows:
        as_of = r["as_of_date"]
        m = metrics.setdefault(r["metric"], {"metric": r["metric"], "unit": UNITS.get(r["metric"], ""),
                                             "model": r["model"], "backtest_mase": r["backtest_mase"],
                                             "method_note": r["method_note"], "horizon_total_mean": 0.0,
                                             "points": []})
        m["points"].append({k: r[k] for k in ("date", "step", "mean", "median", "lower_80", "upper_80",
                                              "lower_95", "upper_95")})
        m["horizon_total_mean"] += r["mean"]
    cost = metrics.pop("cost_usd", None)
    budget_types = ["daily_tokens", "monthly_tokens"] + (["monthly_cost"] if include_cost else [])
    projections = fetch_dicts(conn, """
        select budget_type, unit, period_start, period_end, budget, actual_to_date, projected_end_of_period,
               projected_lower_80, projected_upper_80, p_breach, already_breached, expected_breach_date
        from analytics.budget_projections where agent_id = ? and list_contains(?, budget_type)
        order by budget_type""", [agent_id, budget_types])
    return dict(agent_id=agent_id, workspace_id=agent["workspace_id"], as_of_date=as_of,
                horizon_days=horizon_days, metrics=list(metrics.values()),
                cost_projection=cost if include_cost else None, budget_projections=projections)


# ---------------------------------------------------------------- chargeback

CHARGEBACK_COLUMNS = {"workspace": "workspace_id", "department": "department", "project": "project",
                      "agent": "agent_id", "user": "user_id"}
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@dataclass
class Chargeback:
    group_by: list[str]
    by_component: bool
    columns: list[str]
    rows: list[dict]


def parse_group_by(text: str) -> list[str]:
    names = [p.strip() for p in text.split(",") if p.strip()]
    unknown = [n for n in names if n not in CHARGEBACK_COLUMNS]
    if unknown or not names:
        raise BadParameter(f"group_by {text!r}: expected a comma-separated subset of {list(CHARGEBACK_COLUMNS)}")
    return list(dict.fromkeys(names))


def chargeback(conn, group_by: str, month: str | None, workspace_id: str | None, by_component: bool) -> Chargeback:
    groups = parse_group_by(group_by)
    month_start = None
    if month is not None:
        if not MONTH.match(month):
            raise BadParameter(f"month {month!r}: expected YYYY-MM")
        month_start = date.fromisoformat(month + "-01")
        if conn.execute("select 1 from marts.mart_chargeback_monthly where billing_month = ? limit 1",
                        [month_start]).fetchone() is None:
            months = [m.strftime("%Y-%m") for (m,) in conn.execute(
                "select distinct billing_month from marts.mart_chargeback_monthly order by 1").fetchall()]
            raise NotFound(f"no chargeback for month {month}; months with data: {', '.join(months)}")
    if workspace_id is not None:
        require_workspace(conn, workspace_id)
    cols = [CHARGEBACK_COLUMNS[g] for g in groups] + (["cost_component"] if by_component else [])
    select = ", ".join(cols)  # whitelisted identifiers only
    rows = fetch_dicts(conn, f"""
        select strftime(billing_month, '%Y-%m') as month, {select}, 'USD' as currency,
               sum(amount_usd) as amount_usd, sum(ledger_rows)::bigint as ledger_rows
        from marts.mart_chargeback_monthly
        where (?::date is null or billing_month = ?::date) and (?::varchar is null or workspace_id = ?::varchar)
        group by all order by all""", [month_start, month_start, workspace_id, workspace_id])
    return Chargeback(group_by=groups, by_component=by_component,
                      columns=["month", *cols, "currency", "amount_usd", "ledger_rows"], rows=rows)

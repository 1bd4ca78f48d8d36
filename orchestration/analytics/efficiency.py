"""Efficiency scores per agent: tokens, tasks, successes, speed and quality per dollar.

Normalization is rank-based: within the scored agents each component's value is replaced by
its rank mapped to 0..1 ((rank - 1) / (n - 1), ties averaged; a lone agent scores 1). Ranks
are robust to outliers (one agent with 100x the tokens/$ does not squash the others) and to
zero cost: an agent with activity and zero cost has an infinite ratio and simply ranks
first; an agent with no executions in the window is not scored.
"""

import numpy as np
import pandas as pd

# The seed's weights, in this order.
DEFAULT_WEIGHTS = {
    "tokens_per_usd": 0.20,
    "tasks_per_usd": 0.25,
    "success_per_usd": 0.25,
    "speed_per_usd": 0.15,
    "quality_per_usd": 0.15,
}
COMPONENTS = list(DEFAULT_WEIGHTS)


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    """num / den, +inf where den == 0 and num > 0, NaN where both are 0."""
    num = num.astype(float)
    den = den.astype(float)
    out = num / den.where(den != 0)
    out = out.where(den != 0, np.where(num > 0, np.inf, np.nan))
    return out


def rank_normalize(values: pd.Series) -> pd.Series:
    """Rank-based 0..1 score (higher value -> higher score); NaN stays NaN."""
    valid = values.dropna()
    if len(valid) <= 1:
        return values.where(values.isna(), 1.0)
    ranks = values.rank(method="average")
    return (ranks - 1) / (len(valid) - 1)


MIN_EXECUTIONS = 30


def efficiency_scores(executions: pd.DataFrame, weights: dict[str, float] | None = None,
                      window_days: int | None = None, min_executions: int = MIN_EXECUTIONS) -> pd.DataFrame:
    """One row per agent with executions in the window (the last `window_days` days of the
    data, all of it when None): raw components, normalized components, weighted overall
    score, percentile rank overall and within the workspace, and the two weakest components.
    Agents with fewer than `min_executions` in the window are listed unscored (their
    ratios rest on too few runs to rank).

    executions: agent_id, workspace_id, usage_date, status, quality_score,
    execution_duration_ms, total_tokens, total_cost (one row per execution)."""
    return score_agents(efficiency_components(executions, window_days), weights, min_executions)


def efficiency_components(executions: pd.DataFrame, window_days: int | None = None) -> pd.DataFrame:
    """Per workspace x agent (in that order): the sums behind the five components and the
    components themselves. Each agent's row depends on its own executions only, so the rows
    of shards of the agents, concatenated in this order, are the rows of all of them."""
    df = executions.copy(deep=False)  # copy-on-write: new columns stay in this frame, no 4M-row copy
    df["usage_date"] = pd.to_datetime(df["usage_date"])
    if window_days is not None and not df.empty:
        start = df["usage_date"].max() - pd.Timedelta(days=window_days - 1)
        df = df[df["usage_date"] >= start]
    df["total_cost"] = df["total_cost"].astype(float)
    df["is_success"] = df["status"].eq("success")
    df["success_quality"] = df["quality_score"].fillna(0).where(df["is_success"], 0.0)

    g = df.groupby(["workspace_id", "agent_id"], as_index=False).agg(
        executions=("status", "size"),
        successful=("is_success", "sum"),
        total_tokens=("total_tokens", "sum"),
        total_cost_usd=("total_cost", "sum"),
        mean_duration_s=("execution_duration_ms", lambda s: s.mean() / 1000),
        quality_sum=("success_quality", "sum"),
        period_start=("usage_date", "min"),
        period_end=("usage_date", "max"),
    )
    cost = g["total_cost_usd"]
    g["tokens_per_usd"] = _ratio(g["total_tokens"], cost)
    g["tasks_per_usd"] = _ratio(g["executions"], cost)
    g["success_per_usd"] = _ratio(g["successful"], cost)
    cost_per_exec = cost / g["executions"]
    # Throughput of one instance (executions per hour) per dollar of one execution.
    g["speed_per_usd"] = _ratio(3600 / g["mean_duration_s"].where(g["mean_duration_s"] > 0), cost_per_exec)
    g["quality_per_usd"] = _ratio(g["quality_sum"], cost)
    return g


def score_agents(components: pd.DataFrame, weights: dict[str, float] | None = None,
                 min_executions: int = MIN_EXECUTIONS) -> pd.DataFrame:
    """efficiency_components' rows scored against each other: ranks, weighted score,
    percentiles, weakest components (the fleet-wide half of efficiency_scores)."""
    weights = dict(weights or DEFAULT_WEIGHTS)
    if set(weights) != set(COMPONENTS):
        raise ValueError(f"weights must name exactly {COMPONENTS}")
    total_w = sum(weights.values())
    weights = {k: v / total_w for k, v in weights.items()}

    g = components.copy()
    g["scored"] = g["executions"] >= min_executions
    for c in COMPONENTS:
        g[f"{c}_score"] = rank_normalize(g[c].where(g["scored"]))
    g["overall_score"] = sum(g[f"{c}_score"].fillna(0) * w for c, w in weights.items()).where(g["scored"])
    g["percentile_overall"] = g["overall_score"].rank(pct=True, method="max") * 100
    g["percentile_in_workspace"] = g.groupby("workspace_id")["overall_score"].rank(pct=True, method="max") * 100

    def weakest(row) -> str:
        if not row["scored"]:
            return f"not scored: fewer than {min_executions} executions"
        scores = sorted(((row[f"{c}_score"], c) for c in COMPONENTS), key=lambda t: (t[0], t[1]))
        return ", ".join(c for _, c in scores[:2])

    g["improvement_areas"] = g.apply(weakest, axis=1)
    g["total_cost_usd"] = g["total_cost_usd"].round(6)
    return g.sort_values("overall_score", ascending=False).reset_index(drop=True)

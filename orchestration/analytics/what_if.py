"""The seed's success metrics as a what-if: apply the top recommendations and compare the
projected change with the targets (total cost -30%, token efficiency +25%, waste -40%,
cost per task improved by 20%).

Definitions (monthly, see findings.monthly):
- total cost = the marts' usage cost + the unused part of the standing allocations
  (allocations held all month at the rate card minus the usage-based compute the marts
  already charge; never below 0);
- token efficiency = tokens per dollar of token cost;
- waste = the total of waste_summary;
- cost per task = total cost / successful executions; its target is a 20% improvement,
  i.e. 20% more successful tasks per dollar (cost per task x 1/1.2).
The applied recommendations keep the volume of work and tokens unchanged; each removes its
monthly saving from total cost, token kinds also from token cost, waste kinds from waste.
"""

import pandas as pd

from orchestration.analytics.findings import usd
from orchestration.analytics.waste import WASTE_LINES

TOKEN_KINDS = {"prompt_cache", "response_cache", "model_selection"}
# Kinds whose saving lowers the marts' usage-based cost (the rest lower standing capacity).
USAGE_KINDS = TOKEN_KINDS | {"api_response_cache", "rate_limit_backoff", "failing_endpoint", "high_failure_rate",
                             "spot_instances", "unused_cache"}
TARGETS = {"total_cost": -30.0, "token_efficiency": 25.0, "waste": -40.0, "cost_per_task": 20.0}


def top_recommendations(findings: pd.DataFrame, priorities=("P1", "P2")) -> pd.DataFrame:
    """The findings applied in the what-if: priorities P1 and P2 with a saving; of two GPU
    findings about the same capacity (telemetry and executions) only the agent one."""
    f = findings[findings["priority"].isin(priorities) & (findings["monthly_saving_usd"] > 0)]
    if (f["kind"].eq("idle_gpu") & f["subject_type"].eq("agent")).any():
        f = f[~(f["kind"].eq("idle_gpu") & f["subject_type"].eq("gpu"))]
    return f


def what_if(baseline: dict, findings: pd.DataFrame, waste_total: float, priorities=("P1", "P2"),
            scope: str = "all", kinds: set[str] | None = None) -> pd.DataFrame:
    """baseline: total_cost_usd, token_cost_usd, total_tokens, successful_tasks (monthly).
    One row per metric: baseline, projected, change %, target %, meets_target. `kinds`
    limits the applied findings (e.g. USAGE_KINDS for the marts-only scope)."""
    applied = top_recommendations(findings, priorities)
    if kinds is not None:
        applied = applied[applied["kind"].isin(kinds)]
    saving = float(applied["monthly_saving_usd"].sum())
    token_saving = float(applied.loc[applied["kind"].isin(TOKEN_KINDS), "monthly_saving_usd"].sum())
    waste_saving = float(applied.loc[applied["kind"].isin(WASTE_LINES), "monthly_saving_usd"].sum())

    cost0 = float(baseline["total_cost_usd"])
    cost1 = max(cost0 - saving, 0.0)
    tok_eff0 = baseline["total_tokens"] / baseline["token_cost_usd"] if baseline["token_cost_usd"] else 0.0
    tok_cost1 = max(float(baseline["token_cost_usd"]) - token_saving, 1e-12)
    tok_eff1 = baseline["total_tokens"] / tok_cost1 if baseline["token_cost_usd"] else 0.0
    waste0, waste1 = float(waste_total), max(float(waste_total) - waste_saving, 0.0)
    tasks = baseline["successful_tasks"]
    cpt0 = cost0 / tasks if tasks else 0.0
    cpt1 = cost1 / tasks if tasks else 0.0

    def pct(a, b):
        return round((b - a) / a * 100, 3) if a else 0.0

    rows = [
        ("total_cost", "total monthly cost, USD", usd(cost0), usd(cost1), pct(cost0, cost1)),
        ("token_efficiency", "tokens per dollar of token cost", round(tok_eff0, 3), round(tok_eff1, 3), pct(tok_eff0, tok_eff1)),
        ("waste", "monthly waste, USD", usd(waste0), usd(waste1), pct(waste0, waste1)),
        # improvement of cost per task = growth of tasks per dollar
        ("cost_per_task", "cost per successful task, USD (change = tasks per dollar)", usd(cpt0), usd(cpt1),
         pct(1 / cpt0, 1 / cpt1) if cpt0 and cpt1 else 0.0),
    ]
    df = pd.DataFrame(rows, columns=["metric", "definition", "baseline", "projected", "change_pct"])
    df.insert(0, "scope", scope)
    df["target_pct"] = df["metric"].map(TARGETS)
    df["meets_target"] = [(c <= t) if t < 0 else (c >= t) for c, t in zip(df["change_pct"], df["target_pct"], strict=True)]
    df["recommendations_applied"] = len(applied)
    df["monthly_saving_applied_usd"] = usd(saving)
    return df

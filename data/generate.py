#!/usr/bin/env python3
"""Deterministic generator of raw LLM-agent usage exports for the agent resource warehouse.

Writes, per UTC day (the date in a file name is the date of the event timestamps in it):

* ``<out>/executions/executions_YYYY-MM-DD.jsonl``  one JSON object per agent execution
* ``<out>/llm_calls/llm_calls_YYYY-MM-DD.jsonl``    one JSON object per LLM request
* ``<out>/api_calls/api_calls_YYYY-MM-DD.csv``      one CSV row per external API request
* ``<out>/focus/focus_YYYY-MM-DD.csv``              the cloud bill (FinOps FOCUS 1.0), one file per
  billing month, named with the month's (or the period's) last day
* ``<out>/gpu_metrics/<host>_YYYY-MM-DD.csv``       nvidia-smi --query-gpu CSV of each GPU agent's host
* ``<out>/container_metrics/container_metrics_YYYY-MM-DD.csv``  CPU/memory samples of the platform's containers

and the dbt seeds ``agents.csv`` / ``budgets.csv`` / ``gpu_assignments.csv`` plus (optionally) a truth JSON that lists every
planted pattern (idle / oversized / low-utilisation GPU / redundant API / high failure / over budget /
near limit / rate-limited endpoint / cost drift agents).

Standalone: imports only the standard library, numpy and tqdm.  Same arguments + same seed give
byte-identical files; every day uses its own RNG derived from ``(seed, day index)``.

Example::

    python data/generate.py --out data/raw --seeds-dir dbt_project/seeds \
        --start 2026-10-15 --days 30 --agents 20 --executions-per-day 300 --seed 42 \
        --truth data/sample_truth.json

At scale, size by calls instead (a 1M-call, 91-day fleet of 1,000 agents; see benchmarks/scale.py)::

    python data/generate.py --out /tmp/raw --seeds-dir /tmp/seeds --truth '' \
        --days 91 --agents 1000 --llm-calls-per-day 10989
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import json
import math
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import numpy as np

try:  # tqdm is optional at import time so the module can be imported anywhere
    from tqdm import tqdm
except ImportError:  # pragma: no cover
    tqdm = None

REPO_ROOT = Path(__file__).resolve().parent.parent

# --------------------------------------------------------------------------------------------
# Price table: USD per million tokens (matches pydantic genai-prices).
# "cache_read" applies to cached prompt tokens; cached tokens are included in prompt tokens.
# --------------------------------------------------------------------------------------------
PRICES = {
    "gpt-4o": {"provider": "openai", "input": 2.50, "cache_read": 1.25, "output": 10.00},
    "gpt-4o-mini": {"provider": "openai", "input": 0.15, "cache_read": 0.075, "output": 0.60},
    "gpt-4.1-mini": {"provider": "openai", "input": 0.40, "cache_read": 0.10, "output": 1.60},
    "claude-sonnet-4-5": {"provider": "anthropic", "input": 3.00, "cache_read": 0.30, "output": 15.00},
    "claude-haiku-4-5": {"provider": "anthropic", "input": 1.00, "cache_read": 0.10, "output": 5.00},
    "gemini-2.5-flash": {"provider": "google", "input": 0.30, "cache_read": 0.03, "output": 2.50},
}
MODELS = list(PRICES)
MODEL_IDX = {m: i for i, m in enumerate(MODELS)}
M_PROVIDER = [PRICES[m]["provider"] for m in MODELS]
M_IN = np.array([PRICES[m]["input"] for m in MODELS])
M_CACHE = np.array([PRICES[m]["cache_read"] for m in MODELS])
M_OUT = np.array([PRICES[m]["output"] for m in MODELS])
# latency model: time to first token (ms) and ms per output token
M_TTFT = np.array([550.0, 380.0, 420.0, 900.0, 450.0, 350.0])
M_MS_PER_TOK = np.array([18.0, 11.0, 12.0, 22.0, 9.0, 6.0])

COST_DRIFT_FACTOR = 1.08

# --------------------------------------------------------------------------------------------
# External API endpoints
# status distribution order: ok, 400, 404, 429, 500, 503
# --------------------------------------------------------------------------------------------
ENDPOINTS = [
    # name, p(POST), price per call, median latency ms, status probabilities
    ("search.api/v1/query", 0.0, 0.005, 240.0, (0.822, 0.008, 0.005, 0.150, 0.010, 0.005)),
    ("crm.api/v2/tickets", 0.45, 0.001, 120.0, (0.962, 0.012, 0.012, 0.004, 0.006, 0.004)),
    ("weather.api/v1/forecast", 0.0, 0.0005, 80.0, (0.975, 0.008, 0.004, 0.005, 0.005, 0.003)),
    ("payments.api/v1/charges", 1.0, 0.01, 380.0, (0.960, 0.015, 0.004, 0.005, 0.010, 0.006)),
    ("geo.api/v1/lookup", 0.0, 0.0008, 60.0, (0.975, 0.006, 0.010, 0.004, 0.003, 0.002)),
    ("docs.api/v1/fetch", 0.0, 0.002, 170.0, (0.968, 0.006, 0.016, 0.003, 0.004, 0.003)),
]
EP_NAMES = [e[0] for e in ENDPOINTS]
EP_IDX = {n: i for i, n in enumerate(EP_NAMES)}
EP_POST = np.array([e[1] for e in ENDPOINTS])
EP_PRICE = np.array([e[2] for e in ENDPOINTS])
EP_LAT = np.array([e[3] for e in ENDPOINTS])
EP_STATUS_CDF = np.cumsum(np.array([e[4] for e in ENDPOINTS]), axis=1)
EP_STATUS_CDF[:, -1] = 1.0
STATUS_CLASS_CODE = np.array([200, 400, 404, 429, 500, 503])
ERROR_TYPE = {200: "", 201: "", 400: "client_error", 404: "not_found", 429: "rate_limited",
              500: "server_error", 503: "unavailable"}
RATE_LIMITED_ENDPOINT = "search.api/v1/query"
MAX_RETRIES = 3

# hour-of-day (UTC) activity profile: low night, peak 09-17
HOUR_PROFILE = np.array([0.10, 0.08, 0.07, 0.07, 0.08, 0.12, 0.25, 0.45, 0.75, 1.00, 1.00, 1.00,
                         0.95, 1.00, 1.00, 1.00, 0.95, 0.90, 0.60, 0.45, 0.35, 0.25, 0.18, 0.12])
HOUR_P = HOUR_PROFILE / HOUR_PROFILE.sum()
WEEKEND_FACTOR = 0.35
DAILY_GROWTH = 0.01

WORKSPACES = [  # (workspace short name, department)
    ("support", "customer_support"),
    ("engineering", "engineering"),
    ("finance", "finance"),
    ("marketing", "marketing"),
]
BASE_USERS = {"support": 4, "engineering": 5, "finance": 3, "marketing": 3}  # 15 users

ROLES = ["healthy", "idle", "oversized", "low_util_gpu", "redundant_api", "high_failure",
         "over_budget", "near_limit", "cost_drift"]

# The 20 hand-designed agents (archetypes for larger fleets).
# prompt/comp = median prompt/completion tokens per call; calls = mean LLM calls per execution;
# cache = mean cached share of prompt; api = mean logical API requests per execution.
HAND_AGENTS = [
    dict(name="support-triage", ws="support", project="helpdesk", tier="standard", cores=2, mem=4096, gpus=0,
         model="gpt-4o-mini", alt=("gpt-4.1-mini", 0.10), role="healthy", weight=3.0,
         tasks=["ticket_triage", "ticket_tagging"], prompt=2400, comp=180, calls=2.5, cache=0.45, api=1.9,
         endpoints={"crm.api/v2/tickets": 0.8, "docs.api/v1/fetch": 0.2}),
    dict(name="support-reply-drafter", ws="support", project="helpdesk", tier="standard", cores=2, mem=4096, gpus=0,
         model="claude-haiku-4-5", alt=None, role="over_budget", weight=2.2,
         tasks=["reply_drafting"], prompt=5500, comp=550, calls=3.0, cache=0.35, api=1.5,
         endpoints={"crm.api/v2/tickets": 0.6, "docs.api/v1/fetch": 0.4}),
    dict(name="kb-search-assistant", ws="support", project="knowledge-base", tier="standard", cores=2, mem=4096, gpus=0,
         model="gpt-4o-mini", alt=None, role="redundant_api", weight=1.6,
         tasks=["kb_search", "faq_answering"], prompt=3000, comp=300, calls=2.4, cache=0.30, api=2.8,
         endpoints={"search.api/v1/query": 0.55, "docs.api/v1/fetch": 0.45}),
    dict(name="support-sentiment-gpu", ws="support", project="voice-of-customer", tier="performance", cores=4,
         mem=16384, gpus=1, model="gemini-2.5-flash", alt=None, role="healthy", weight=1.0,
         tasks=["sentiment_analysis"], prompt=1500, comp=120, calls=1.6, cache=0.20, api=0.6,
         endpoints={"crm.api/v2/tickets": 1.0}),
    dict(name="escalation-router", ws="support", project="helpdesk", tier="standard", cores=4, mem=8192, gpus=0,
         model="gpt-4o-mini", alt=None, role="idle", weight=0.0,
         tasks=["escalation_routing"], prompt=1800, comp=150, calls=1.5, cache=0.20, api=0.6,
         endpoints={"crm.api/v2/tickets": 1.0}),
    dict(name="code-reviewer", ws="engineering", project="platform", tier="performance", cores=4, mem=8192, gpus=0,
         model="claude-sonnet-4-5", alt=("claude-haiku-4-5", 0.15), role="over_budget", weight=1.8,
         tasks=["code_review", "pr_summary"], prompt=8500, comp=850, calls=3.2, cache=0.50, api=1.3,
         endpoints={"docs.api/v1/fetch": 0.6, "search.api/v1/query": 0.4}),
    dict(name="test-generator", ws="engineering", project="platform", tier="premium", cores=8, mem=16384, gpus=0,
         model="gpt-4.1-mini", alt=None, role="oversized", weight=1.2,
         tasks=["test_generation"], prompt=5000, comp=1000, calls=2.6, cache=0.40, api=0.6,
         endpoints={"docs.api/v1/fetch": 1.0}),
    dict(name="incident-summarizer", ws="engineering", project="sre", tier="standard", cores=2, mem=4096, gpus=0,
         model="claude-haiku-4-5", alt=None, role="high_failure", weight=1.2,
         tasks=["incident_summary", "log_analysis"], prompt=7000, comp=500, calls=2.5, cache=0.20, api=1.6,
         endpoints={"docs.api/v1/fetch": 0.6, "search.api/v1/query": 0.4}),
    dict(name="log-anomaly-detector", ws="engineering", project="sre", tier="premium", cores=8, mem=32768, gpus=1,
         model="gpt-4o-mini", alt=None, role="low_util_gpu", weight=0.8,
         tasks=["anomaly_detection"], prompt=4000, comp=250, calls=1.8, cache=0.30, api=0.5,
         endpoints={"docs.api/v1/fetch": 1.0}),
    dict(name="docs-writer", ws="engineering", project="devex", tier="standard", cores=2, mem=4096, gpus=0,
         model="gpt-4o", alt=None, role="healthy", weight=0.7,
         tasks=["doc_generation"], prompt=6000, comp=1200, calls=2.6, cache=0.30, api=1.2,
         endpoints={"docs.api/v1/fetch": 0.7, "search.api/v1/query": 0.3}),
    dict(name="dependency-auditor", ws="engineering", project="platform", tier="standard", cores=4, mem=8192, gpus=0,
         model="claude-haiku-4-5", alt=None, role="idle", weight=0.0,
         tasks=["dependency_audit"], prompt=5000, comp=400, calls=2.0, cache=0.10, api=1.0,
         endpoints={"search.api/v1/query": 0.5, "docs.api/v1/fetch": 0.5}),
    dict(name="invoice-extractor", ws="finance", project="accounts-payable", tier="performance", cores=4, mem=16384,
         gpus=1, model="gpt-4o-mini", alt=None, role="healthy", weight=1.5,
         tasks=["invoice_extraction"], prompt=3500, comp=400, calls=2.1, cache=0.20, api=1.4,
         endpoints={"payments.api/v1/charges": 0.3, "docs.api/v1/fetch": 0.7}),
    dict(name="expense-auditor", ws="finance", project="compliance", tier="standard", cores=2, mem=4096, gpus=0,
         model="claude-sonnet-4-5", alt=None, role="cost_drift", weight=0.8,
         tasks=["expense_audit", "policy_check"], prompt=5000, comp=500, calls=2.3, cache=0.30, api=1.2,
         endpoints={"docs.api/v1/fetch": 0.6, "payments.api/v1/charges": 0.4}),
    dict(name="forecast-analyst", ws="finance", project="fp-and-a", tier="premium", cores=8, mem=16384, gpus=0,
         model="gpt-4o", alt=None, role="oversized", weight=0.6,
         tasks=["revenue_forecast", "demand_forecast"], prompt=8000, comp=900, calls=2.5, cache=0.20, api=1.0,
         endpoints={"weather.api/v1/forecast": 0.4, "search.api/v1/query": 0.2, "docs.api/v1/fetch": 0.4}),
    dict(name="payment-reconciler", ws="finance", project="accounts-payable", tier="standard", cores=2, mem=4096,
         gpus=0, model="gpt-4.1-mini", alt=None, role="near_limit", weight=1.5,
         tasks=["payment_reconciliation"], prompt=4000, comp=300, calls=2.2, cache=0.30, api=2.0,
         endpoints={"payments.api/v1/charges": 0.8, "crm.api/v2/tickets": 0.2}),
    dict(name="fraud-screener", ws="finance", project="risk", tier="standard", cores=2, mem=4096, gpus=0,
         model="gpt-4o-mini", alt=("gpt-4o", 0.05), role="healthy", weight=1.4,
         tasks=["fraud_screening"], prompt=2000, comp=150, calls=1.9, cache=0.30, api=2.3,
         endpoints={"payments.api/v1/charges": 0.5, "geo.api/v1/lookup": 0.5}),
    dict(name="campaign-copywriter", ws="marketing", project="campaigns", tier="standard", cores=2, mem=4096, gpus=0,
         model="claude-sonnet-4-5", alt=("claude-haiku-4-5", 0.20), role="healthy", weight=0.9,
         tasks=["copywriting", "ab_variant_generation"], prompt=3000, comp=900, calls=2.4, cache=0.30, api=0.6,
         endpoints={"search.api/v1/query": 0.5, "docs.api/v1/fetch": 0.5}),
    dict(name="seo-researcher", ws="marketing", project="seo", tier="standard", cores=2, mem=4096, gpus=0,
         model="gemini-2.5-flash", alt=None, role="redundant_api", weight=1.4,
         tasks=["keyword_research", "serp_analysis"], prompt=4000, comp=500, calls=2.0, cache=0.20, api=3.0,
         endpoints={"search.api/v1/query": 0.6, "geo.api/v1/lookup": 0.4}),
    dict(name="social-listener", ws="marketing", project="brand", tier="premium", cores=8, mem=16384, gpus=0,
         model="gemini-2.5-flash", alt=None, role="oversized", weight=1.0,
         tasks=["social_monitoring"], prompt=2500, comp=200, calls=1.7, cache=0.20, api=1.2,
         endpoints={"search.api/v1/query": 0.6, "geo.api/v1/lookup": 0.4}),
    dict(name="lead-enricher", ws="marketing", project="growth", tier="standard", cores=2, mem=4096, gpus=0,
         model="gpt-4o-mini", alt=None, role="healthy", weight=1.5,
         tasks=["lead_enrichment"], prompt=1500, comp=150, calls=1.8, cache=0.30, api=2.6,
         endpoints={"crm.api/v2/tickets": 0.5, "geo.api/v1/lookup": 0.3, "weather.api/v1/forecast": 0.2}),
]

# role-dependent behaviour
IDLE_RATE_WEEKDAY = 0.20  # expected executions per day for idle agents (~1 per week)
IDLE_RATE_WEEKEND = 0.07
NEAR_LIMIT_OVERSUPPLY = 1.8  # candidate executions before the budget throttle kicks in
NEAR_LIMIT_TARGET = (0.87, 0.99)  # daily throttle target as a fraction of the daily budget
OVER_BUDGET_FACTOR = 0.75  # budget = factor x 20th percentile of weekday usage
HEALTHY_BUDGET_HEADROOM = 2.5  # budget = headroom x max daily usage
REDUNDANT_P, REDUNDANT_POOL = 0.80, 3  # share of logical API requests drawn from a tiny query pool
NORMAL_REDUNDANT_P, NORMAL_POOL = 0.04, 8
POOL_MAX = 8
N_TEMPLATES_MAX, N_VARIANTS = 6, 4
GPU_MEM_MB = 24576
HIGH_FAILURE_RATE = 0.25


def _sha(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


def _hex(rng: np.random.Generator, n: int, nbytes: int) -> list:
    s = rng.bytes(n * nbytes).hex()
    w = 2 * nbytes
    return [s[i:i + w] for i in range(0, n * w, w)]


def _group_cumsum(values: np.ndarray, first: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Inclusive cumulative sum within consecutive groups (all groups non-empty)."""
    cs = np.cumsum(values)
    base = np.repeat(cs[first] - values[first], counts)
    return cs - base


# --------------------------------------------------------------------------------------------
# Agent fleet
# --------------------------------------------------------------------------------------------
def _build_fleet(n_agents: int, start: dt.date, rng: np.random.Generator) -> dict:
    width = max(3, len(str(n_agents)))
    agents = []
    ws_list = []  # dicts: id, short, dept, users
    ws_map = {}
    user_counter = [0]

    def new_ws(short, n):
        wid = f"ws_{short}" if n == 1 else f"ws_{short}_{n}"
        if wid not in ws_map:
            dept = dict(WORKSPACES)[short]
            nu = BASE_USERS[short] if n == 1 else 4
            users = list(range(user_counter[0] + 1, user_counter[0] + nu + 1))
            user_counter[0] += nu
            ws_map[wid] = dict(id=wid, short=short, dept=dept, users=users)
            ws_list.append(ws_map[wid])
        return ws_map[wid]

    # the base workspaces always exist in a fixed order (stable user numbering)
    for short, _ in WORKSPACES:
        if any(h["ws"] == short for h in HAND_AGENTS[:max(1, min(n_agents, 20))]):
            new_ws(short, 1)

    for i in range(n_agents):
        tpl = HAND_AGENTS[i % 20]
        cycle = i // 20
        a = dict(tpl)
        a["endpoints"] = dict(tpl["endpoints"])
        a["tasks"] = list(tpl["tasks"])
        if cycle == 0:
            a["name"] = tpl["name"]
            ws = new_ws(tpl["ws"], 1)
        else:
            a["name"] = f"{tpl['name']}-{cycle + 1}"
            ws = new_ws(tpl["ws"], 2 + (cycle - 1) // 3)
            a["weight"] = tpl["weight"] * float(rng.uniform(0.5, 1.8))
            a["prompt"] = tpl["prompt"] * float(rng.uniform(0.6, 1.5))
            a["comp"] = tpl["comp"] * float(rng.uniform(0.6, 1.5))
            a["calls"] = max(1.2, tpl["calls"] * float(rng.uniform(0.8, 1.2)))
            a["api"] = tpl["api"] * float(rng.uniform(0.7, 1.3))
            a["cache"] = min(0.55, tpl["cache"] * float(rng.uniform(0.5, 1.5)))
            if rng.random() < 0.3:
                a["model"] = MODELS[int(rng.integers(len(MODELS)))]
                a["alt"] = None
        a["agent_id"] = f"agt_{i + 1:0{width}d}"
        a["workspace_id"] = ws["id"]
        a["ws_rec"] = ws
        a["department"] = ws["dept"]
        a["owner"] = ws["users"][int(rng.integers(len(ws["users"])))]
        a["created_at"] = start - dt.timedelta(days=int(rng.integers(20, 420)))
        role = a["role"]
        # resource behaviour by role
        if role == "oversized":
            a["cpu_mean"] = float(rng.uniform(4.0, 6.5))
            a["cpu_clip"] = (3.0, 8.0)
            a["mem_frac"] = float(rng.uniform(0.04, 0.07))
        elif role == "idle":
            a["cpu_mean"] = float(rng.uniform(20, 40))
            a["cpu_clip"] = (5.0, 90.0)
            a["mem_frac"] = float(rng.uniform(0.15, 0.3))
        else:
            a["cpu_mean"] = float(rng.uniform(40, 58))
            a["cpu_clip"] = (20.0, 95.0)
            a["mem_frac"] = float(rng.uniform(0.30, 0.55))
        if a["gpus"]:
            if role == "low_util_gpu":
                a["gpu_mean"], a["gpu_clip"], a["gpu_mem_frac"] = float(rng.uniform(3.0, 5.0)), (2.0, 6.0), 0.08
            else:
                a["gpu_mean"], a["gpu_clip"], a["gpu_mem_frac"] = float(rng.uniform(55, 75)), (30.0, 98.0), 0.6
        else:
            a["gpu_mean"], a["gpu_clip"], a["gpu_mem_frac"] = 0.0, (0.0, 0.0), 0.0
        a["fail_rate"] = HIGH_FAILURE_RATE if role == "high_failure" else float(rng.uniform(0.02, 0.04))
        if role == "redundant_api":
            a["redund_p"], a["pool"] = REDUNDANT_P, REDUNDANT_POOL
        else:
            a["redund_p"], a["pool"] = NORMAL_REDUNDANT_P, NORMAL_POOL
        a["n_templates"] = int(rng.integers(3, N_TEMPLATES_MAX + 1))
        a["quality"] = float(rng.uniform(0.78, 0.92)) if role != "high_failure" else 0.7
        a["queue_med"] = {"economy": 900.0, "standard": 250.0, "performance": 120.0, "premium": 60.0}[a["tier"]]
        agents.append(a)
    return dict(agents=agents, workspaces=ws_list, n_users=user_counter[0])


def _fleet_arrays(fleet: dict) -> dict:
    ags = fleet["agents"]
    n = len(ags)
    A = {}
    f = lambda k, dtype=float: np.array([a[k] for a in ags], dtype=dtype)  # noqa: E731
    for k in ("weight", "prompt", "comp", "calls", "cache", "api", "cpu_mean", "mem_frac", "gpu_mean",
              "gpu_mem_frac", "fail_rate", "redund_p", "quality", "queue_med"):
        A[k] = f(k)
    for k in ("cores", "mem", "gpus", "pool", "n_templates"):
        A[k] = f(k, np.int64)
    A["cpu_lo"] = np.array([a["cpu_clip"][0] for a in ags])
    A["cpu_hi"] = np.array([a["cpu_clip"][1] for a in ags])
    A["gpu_lo"] = np.array([a["gpu_clip"][0] for a in ags])
    A["gpu_hi"] = np.array([a["gpu_clip"][1] for a in ags])
    A["model"] = np.array([MODEL_IDX[a["model"]] for a in ags], dtype=np.int64)
    A["alt_model"] = np.array([MODEL_IDX[a["alt"][0]] if a["alt"] else MODEL_IDX[a["model"]] for a in ags],
                              dtype=np.int64)
    A["alt_share"] = np.array([a["alt"][1] if a["alt"] else 0.0 for a in ags])
    role = [a["role"] for a in ags]
    for r in ROLES:
        A["is_" + r] = np.array([x == r for x in role])
    A["drift"] = np.where(A["is_cost_drift"], COST_DRIFT_FACTOR, 1.0)
    # endpoint CDFs per agent
    P = np.zeros((n, len(ENDPOINTS)))
    for i, a in enumerate(ags):
        for ep, p in a["endpoints"].items():
            P[i, EP_IDX[ep]] = p
    P /= P.sum(axis=1, keepdims=True)
    A["ep_cdf"] = np.cumsum(P, axis=1)
    A["ep_cdf"][:, -1] = 1.0
    # tasks
    A["n_tasks"] = np.array([len(a["tasks"]) for a in ags], dtype=np.int64)
    A["tasks"] = [a["tasks"] for a in ags]
    # users: owner plus workspace users
    A["owner"] = np.array([a["owner"] for a in ags], dtype=np.int64)
    A["ws_users"] = [a["ws_rec"]["users"] for a in ags]
    A["ids"] = [a["agent_id"] for a in ags]
    A["names"] = [a["name"] for a in ags]
    A["ws"] = [a["workspace_id"] for a in ags]
    # fingerprint tables (synthetic template ids / request keys, hashed; never text)
    A["prompt_fp"] = np.array([[[_sha(f"{a['agent_id']}|prompt-template-{t}|variant-{v}")
                                 for v in range(N_VARIANTS)] for t in range(N_TEMPLATES_MAX)] for a in ags],
                              dtype=object)
    A["req_fp"] = np.array([[[_sha(f"{a['agent_id']}|{ep}|request-key-{k}") for k in range(POOL_MAX)]
                             for ep in EP_NAMES] for a in ags], dtype=object)
    return A


# --------------------------------------------------------------------------------------------
# Token model (shared between day generation and budget calibration)
# --------------------------------------------------------------------------------------------
def _sample_calls(rng, A, ag):
    """LLM calls per execution and their token counts. Returns (n_llm, ce, pos, prompt, comp)."""
    N = len(ag)
    lam = np.maximum(A["calls"][ag] - 1.0, 0.0)
    n_llm = np.minimum(1 + rng.poisson(lam), 6).astype(np.int64)
    M = int(n_llm.sum())
    ce = np.repeat(np.arange(N), n_llm)
    first = np.cumsum(n_llm) - n_llm
    pos = np.arange(M) - first[ce]
    agc = ag[ce]
    prompt = A["prompt"][agc] * np.exp(rng.normal(0.0, 0.55, M)) * (1.0 + 0.3 * pos)
    prompt = np.clip(prompt, 500, 20000).astype(np.int64)
    comp = A["comp"][agc] * np.exp(rng.normal(0.0, 0.6, M))
    comp = np.clip(comp, 50, 2000).astype(np.int64)
    return n_llm, ce, first, pos, prompt, comp


def _near_limit_budgets(A, fleet_rng, base_lam):
    """Daily token budget of near-limit agents, from a Monte-Carlo estimate of their natural volume."""
    budgets = {}
    for i in np.nonzero(A["is_near_limit"])[0]:
        ag = np.full(4000, i, dtype=np.int64)
        n_llm, ce, first, pos, prompt, comp = _sample_calls(fleet_rng, A, ag)
        per_exec = (prompt.sum() + comp.sum()) / len(ag)
        b = max(1000, int(base_lam[i] * per_exec // 1000) * 1000)
        budgets[int(i)] = b
    return budgets


# --------------------------------------------------------------------------------------------
# Output formatting
# --------------------------------------------------------------------------------------------
EXEC_TMPL = (
    '{"execution_id":"exe_%s","agent_id":"%s","workspace_id":"%s","user_id":"%s","query_id":"qry_%s",'
    '"task_type":"%s","timestamp":"%sZ","duration_ms":%d,"queue_wait_ms":%d,"status":"%s","quality_score":%s,'
    '"compute_resources":{"cpu_usage":{"core_seconds":%.3f,"avg_percent":%.1f,"peak_percent":%.1f,'
    '"allocated_cores":%.1f},"memory_usage":{"avg_mb":%.1f,"peak_mb":%.1f,"allocated_mb":%d,"mb_seconds":%.1f},'
    '"gpu_usage":%s,"network_io":{"bytes_in":%d,"bytes_out":%d}},'
    '"llm_resources":{"provider":"%s","model":"%s","input_tokens":%d,"output_tokens":%d,"total_tokens":%d,'
    '"context_window_used":%d,"prompt_cache_hits":%d,"llm_calls":%d,"cost_usd":%.6f},'
    '"storage_resources":{"temp_storage_mb":%.1f,"persistent_storage_mb":%.1f,"cache_size_mb":%.1f,'
    '"database_operations":%d},"api_calls_count":%d}\n'
)
LLM_TMPL = (
    '{"call_id":"call_%s","query_id":"qry_%s","execution_id":"exe_%s","agent_name":"%s","provider":"%s",'
    '"model":"%s","prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d,"cached_tokens":%d,'
    '"started_at":"%sZ","completed_at":"%sZ","latency_ms":%d,"status":"%s","prompt_fingerprint":"%s"}\n'
)
API_HEADER = ["request_id", "execution_id", "agent_id", "workspace_id", "timestamp", "endpoint", "method",
              "status_code", "latency_ms", "rate_limited", "retry_attempt", "error_type", "cost_usd",
              "request_fingerprint"]
EXEC_STATUS = ["success", "failed", "timeout"]
CALL_STATUS = ["success", "error", "timeout"]
DAY_MS = 86_400_000


def _iso(ms: np.ndarray) -> list:
    return np.datetime_as_string(ms.astype("datetime64[ms]"), unit="ms").tolist()


# --------------------------------------------------------------------------------------------
# One day
# --------------------------------------------------------------------------------------------
def _generate_day(ctx: dict, d: int) -> dict:
    A = ctx["A"]
    NA = ctx["n_agents"]
    rng = np.random.default_rng([ctx["seed"], 1, d])
    date = ctx["start"] + dt.timedelta(days=d)
    day_ms = ctx["epoch_ms"] + d * DAY_MS
    weekend = date.weekday() >= 5

    # ---------------- executions: volume and timestamps
    lam = ctx["base_lam"] * (WEEKEND_FACTOR if weekend else 1.0) * (1.0 + DAILY_GROWTH * d)
    lam = np.where(A["is_idle"], IDLE_RATE_WEEKEND if weekend else IDLE_RATE_WEEKDAY, lam)
    if not weekend:
        lam = np.where(A["is_near_limit"], lam * NEAR_LIMIT_OVERSUPPLY, lam)
    n_per_agent = rng.poisson(lam)
    ag = np.repeat(np.arange(NA), n_per_agent)
    N = len(ag)
    hour = rng.choice(24, size=N, p=HOUR_P)
    ts = day_ms + hour * 3_600_000 + rng.integers(0, 3_600_000, N)
    order = np.argsort(ts, kind="stable")
    ag, ts = ag[order], ts[order]

    # status, model
    fail = rng.random(N) < A["fail_rate"][ag]
    tmo = fail & (rng.random(N) < 0.3)
    estatus = np.where(tmo, 2, np.where(fail, 1, 0))
    model = np.where(rng.random(N) < A["alt_share"][ag], A["alt_model"][ag], A["model"][ag])

    # LLM calls (tokens)
    n_llm, ce, first, pos, prompt, comp = _sample_calls(rng, A, ag)
    M = len(ce)
    last = first + n_llm - 1
    cstatus = np.where(rng.random(M) < 0.015, 1, 0)
    cstatus[last] = estatus  # failed executions end with a failing call
    comp = np.where(cstatus == 0, comp, 0)

    # near-limit agents throttle themselves once the day's token target is reached
    if not weekend and A["is_near_limit"].any():
        tok_e = np.add.reduceat(prompt + comp, first) if N else np.zeros(0, np.int64)
        idx = np.nonzero(A["is_near_limit"][ag])[0]
        keep = np.ones(N, dtype=bool)
        if len(idx):
            targets = ctx["near_budget_arr"] * rng.uniform(*NEAR_LIMIT_TARGET, NA)
            o = idx[np.argsort(ag[idx], kind="stable")]
            a_o = ag[o]
            starts = np.r_[0, np.nonzero(np.diff(a_o))[0] + 1]
            counts = np.diff(np.r_[starts, len(o)])
            cum = _group_cumsum(tok_e[o], starts, counts)
            keep[o[cum > targets[a_o]]] = False
        if not keep.all():
            keepc = keep[ce]
            ag, ts, estatus, model, n_llm = ag[keep], ts[keep], estatus[keep], model[keep], n_llm[keep]
            prompt, comp, cstatus, pos = prompt[keepc], comp[keepc], cstatus[keepc], pos[keepc]
            N = len(ag)
            M = len(prompt)
            ce = np.repeat(np.arange(N), n_llm)
            first = np.cumsum(n_llm) - n_llm
            last = first + n_llm - 1

    agc = ag[ce]
    mc = model[ce]
    # cached tokens (included in prompt tokens), multiples of 128, only for prompts >= 1024 tokens
    share = np.clip(A["cache"][agc] * rng.uniform(0.2, 1.8, M), 0.0, 0.6)
    cached = (np.floor(prompt * share / 128.0) * 128).astype(np.int64)
    cached = np.where(prompt >= 1024, np.minimum(cached, prompt), 0)
    tpl = (rng.random(M) * A["n_templates"][agc]).astype(np.int64)
    var = rng.integers(0, N_VARIANTS, M)

    # latency and timing within the execution
    lat = (M_TTFT[mc] + comp * M_MS_PER_TOK[mc] + prompt * 0.03) * np.exp(rng.normal(0, 0.25, M))
    lat = np.where(cstatus == 1, rng.uniform(150, 2500, M), lat)
    lat = np.where(cstatus == 2, rng.uniform(30_000, 90_000, M), lat)
    lat = np.maximum(lat, 50).astype(np.int64)
    gap = np.clip(np.exp(rng.normal(np.log(700), 0.9, M)), 20, 20_000).astype(np.int64)
    queue = np.clip(np.exp(rng.normal(np.log(A["queue_med"][ag]), 0.8)), 5, 30_000).astype(np.int64)
    end_off = queue[ce] + _group_cumsum(gap + lat, first, n_llm)
    start_off = end_off - lat
    tail = np.clip(np.exp(rng.normal(np.log(400), 0.7, N)), 20, 10_000).astype(np.int64)
    dur = end_off[last] + tail

    # ---------------- API calls: logical requests + retry chains
    heads_n = np.minimum(rng.poisson(A["api"][ag]), 4)
    H = int(heads_n.sum())
    he = np.repeat(np.arange(N), heads_n)
    agh = ag[he]
    ep = (rng.random(H)[:, None] < A["ep_cdf"][agh]).argmax(axis=1)
    method_post = rng.random(H) < EP_POST[ep]
    h_off = queue[he] + (rng.random(H) * np.maximum(dur[he] - queue[he], 1)).astype(np.int64)
    # fingerprints: redundant pool keys or unique requests
    use_pool = rng.random(H) < A["redund_p"][agh]
    key = (rng.random(H) * A["pool"][agh]).astype(np.int64)
    # at most one chain per (execution, endpoint, key) so retry chains stay unambiguous
    code = (he * len(ENDPOINTS) + ep) * POOL_MAX + key
    pidx = np.nonzero(use_pool)[0]
    if len(pidx):
        _, first_occ = np.unique(code[pidx], return_index=True)
        dup = np.ones(len(pidx), dtype=bool)
        dup[first_occ] = False
        use_pool[pidx[dup]] = False
    uniq_fp = _hex(rng, H, 32)
    pool_fp = A["req_fp"][agh, ep, key] if H else np.zeros(0, dtype=object)
    h_fp = [p if u else q for u, p, q in zip(use_pool.tolist(), pool_fp.tolist(), uniq_fp)]

    r_head, r_att, r_off, r_code, r_lat = [], [], [], [], []
    cur = np.arange(H)
    t = h_off
    for attempt in range(MAX_RETRIES + 1):
        n = len(cur)
        if n == 0:
            break
        cls = (rng.random(n)[:, None] < EP_STATUS_CDF[ep[cur]]).argmax(axis=1)
        sc = STATUS_CLASS_CODE[cls]
        sc = np.where((sc == 200) & method_post[cur], 201, sc)
        la = EP_LAT[ep[cur]] * np.exp(rng.normal(0, 0.5, n))
        la = np.where(sc == 429, rng.uniform(15, 80, n), la)
        la = np.where(sc >= 500, la * 2.5, la)
        la = np.maximum(la, 5).astype(np.int64)
        r_head.append(cur); r_att.append(np.full(n, attempt)); r_off.append(t)
        r_code.append(sc); r_lat.append(la)
        u = rng.random(n)
        retry = ((sc == 429) & (u < 0.9)) | ((sc >= 500) & (u < 0.6))
        if attempt == MAX_RETRIES:
            break
        backoff = (400 * 2 ** attempt + rng.integers(0, 300, n)).astype(np.int64)
        t = (t + la + backoff)[retry]
        cur = cur[retry]
    if r_head:
        r_head = np.concatenate(r_head); r_att = np.concatenate(r_att); r_off = np.concatenate(r_off)
        r_code = np.concatenate(r_code); r_lat = np.concatenate(r_lat)
    else:
        r_head = r_att = r_off = r_code = r_lat = np.zeros(0, np.int64)
    R = len(r_head)
    r_exec = he[r_head]
    # stretch executions so every API call ends inside them
    if R:
        api_end = np.zeros(N, np.int64)
        np.maximum.at(api_end, r_exec, r_off + r_lat + 30)
        dur = np.maximum(dur, api_end)
    api_count = np.bincount(r_exec, minlength=N)

    # ---------------- execution-level aggregates
    if N:
        in_tok = np.add.reduceat(prompt, first)
        out_tok = np.add.reduceat(comp, first)
        cache_tok = np.add.reduceat(cached, first)
        ctx_used = np.maximum.reduceat(prompt, first)
    else:
        in_tok = out_tok = cache_tok = ctx_used = np.zeros(0, np.int64)
    cost = ((in_tok - cache_tok) * M_IN[model] + cache_tok * M_CACHE[model] + out_tok * M_OUT[model]) / 1e6
    reported_cost = np.round(cost * A["drift"][ag], 6)

    cores = A["cores"][ag].astype(float)
    cpu = np.clip(A["cpu_mean"][ag] * (1 + rng.normal(0, 0.15, N)), A["cpu_lo"][ag], A["cpu_hi"][ag])
    cpu = np.round(cpu, 1)
    peak = np.round(np.minimum(100.0, cpu * rng.uniform(1.3, 2.4, N)), 1)
    peak = np.maximum(peak, cpu)
    core_s = np.round(cpu / 100.0 * cores * dur / 1000.0, 3)
    alloc_mb = A["mem"][ag]
    mem_avg = np.round(alloc_mb * np.clip(A["mem_frac"][ag] * (1 + rng.normal(0, 0.12, N)), 0.01, 0.95), 1)
    mem_peak = np.round(np.minimum(alloc_mb * 0.99, mem_avg * rng.uniform(1.1, 1.7, N)), 1)
    mem_peak = np.maximum(mem_peak, mem_avg)
    mb_s = np.round(mem_avg * dur / 1000.0, 1)
    gpus = A["gpus"][ag]
    gutil = np.round(np.clip(A["gpu_mean"][ag] * (1 + rng.normal(0, 0.15, N)), A["gpu_lo"][ag], A["gpu_hi"][ag]), 1)
    gmem = (GPU_MEM_MB * gpus * np.clip(A["gpu_mem_frac"][ag] * (1 + rng.normal(0, 0.1, N)), 0.01, 0.95)
            ).astype(np.int64)
    gcu = np.round(gutil / 100.0 * dur / 1000.0 * gpus, 1)
    bytes_out = (in_tok * 4 + api_count * rng.integers(300, 1500, N) + rng.integers(200, 2000, N)).astype(np.int64)
    bytes_in = (out_tok * 4 + api_count * rng.integers(1500, 30_000, N) + rng.integers(200, 2000, N)).astype(np.int64)
    temp_mb = np.round(np.exp(rng.normal(np.log(6), 0.8, N)), 1)
    pers_mb = np.round(np.exp(rng.normal(np.log(0.5), 1.0, N)), 1)
    cache_mb = np.round(np.exp(rng.normal(np.log(3), 0.7, N)), 1)
    db_ops = rng.poisson(3 + 2 * n_llm)
    quality = np.round(np.clip(A["quality"][ag] + rng.normal(0, 0.07, N), 0.05, 1.0), 2)
    task_idx = (rng.random(N) * A["n_tasks"][ag]).astype(np.int64)
    own = rng.random(N) < 0.7
    uu = rng.random(N)

    exec_hex = _hex(rng, N, 8)
    query_hex = _hex(rng, N, 8)
    call_hex = _hex(rng, M, 8)
    req_hex = _hex(rng, R, 8)

    # ---------------- format executions
    ids, wss, names, tasks, wsu = A["ids"], A["ws"], A["names"], A["tasks"], A["ws_users"]
    uw = ctx["user_width"]
    ag_l = ag.tolist()
    users = []
    for a, o, u in zip(ag_l, own.tolist(), uu.tolist()):
        if o:
            users.append(f"usr_{A['owner'][a]:0{uw}d}")
        else:
            lst = wsu[a]
            users.append(f"usr_{lst[int(u * len(lst))]:0{uw}d}")
    gpu_str = [
        ('{"utilization_percent":%.1f,"memory_mb":%d,"compute_units":%.1f}' % (g, m, c)) if n else "null"
        for n, g, m, c in zip(gpus.tolist(), gutil.tolist(), gmem.tolist(), gcu.tolist())
    ]
    q_str = ["%.2f" % q if s == 0 else "null" for q, s in zip(quality.tolist(), estatus.tolist())]
    ts_iso = _iso(ts)
    model_l = model.tolist()
    exec_lines = [
        EXEC_TMPL % (
            exec_hex[i], ids[a], wss[a], users[i], query_hex[i], tasks[a][ti], ts_iso[i], du, qw,
            EXEC_STATUS[st], q_str[i], cs, cp, pk, co, ma, mp, am, mbs, gpu_str[i], bi, bo,
            M_PROVIDER[m], MODELS[m], it, ot, it + ot, cw, ch, nl, rc, tm, pm, cm, dbo, ac)
        for i, (a, ti, du, qw, st, cs, cp, pk, co, ma, mp, am, mbs, bi, bo, m, it, ot, cw, ch, nl, rc, tm, pm, cm,
                dbo, ac) in enumerate(zip(
            ag_l, task_idx.tolist(), dur.tolist(), queue.tolist(), estatus.tolist(), core_s.tolist(),
            cpu.tolist(), peak.tolist(), cores.tolist(), mem_avg.tolist(), mem_peak.tolist(), alloc_mb.tolist(),
            mb_s.tolist(), bytes_in.tolist(), bytes_out.tolist(), model_l, in_tok.tolist(), out_tok.tolist(),
            ctx_used.tolist(), cache_tok.tolist(), n_llm.tolist(), reported_cost.tolist(), temp_mb.tolist(),
            pers_mb.tolist(), cache_mb.tolist(), db_ops.tolist(), api_count.tolist()))
    ]

    # ---------------- format LLM calls
    c_start = ts[ce] + start_off
    c_end = c_start + lat
    c_start_iso = _iso(c_start)
    c_end_iso = _iso(c_end)
    fp = A["prompt_fp"][agc, tpl, var].tolist() if M else []
    ce_l = ce.tolist()
    llm_lines = [
        LLM_TMPL % (call_hex[j], query_hex[e], exec_hex[e], names[a], M_PROVIDER[m], MODELS[m], p, c, p + c, k,
                    c_start_iso[j], c_end_iso[j], la, CALL_STATUS[s], fp[j])
        for j, (e, a, m, p, c, k, la, s) in enumerate(zip(
            ce_l, agc.tolist(), mc.tolist(), prompt.tolist(), comp.tolist(), cached.tolist(), lat.tolist(),
            cstatus.tolist()))
    ]
    c_day = (c_start - ctx["epoch_ms"]) // DAY_MS

    # ---------------- format API calls (chronological within the day)
    r_ts = ts[r_exec] + r_off
    r_iso = _iso(r_ts)
    r_ep = ep[r_head]
    r_agent = ag[r_exec]
    api_rows = [
        ("req_" + req_hex[j], "exe_" + exec_hex[e], ids[a], wss[a], r_iso[j] + "Z", EP_NAMES[p],
         "POST" if mp else "GET", sc, la, "true" if sc == 429 else "false", at, ERROR_TYPE[sc],
         "%.6f" % EP_PRICE[p], h_fp[h])
        for j, (e, a, p, mp, sc, la, at, h) in enumerate(zip(
            r_exec.tolist(), r_agent.tolist(), r_ep.tolist(), method_post[r_head].tolist(), r_code.tolist(),
            r_lat.tolist(), r_att.tolist(), r_head.tolist()))
    ]
    r_day = (r_ts - ctx["epoch_ms"]) // DAY_MS

    # ---------------- bookkeeping for budgets / truth / provider reports
    tot_e = in_tok + out_tok
    stats = dict(
        provider_totals=_provider_call_totals(c_day, mc, agc, prompt - cached, cached, comp, ctx["ws_index"]),
        tok_exec=np.bincount(ag, weights=tot_e, minlength=NA),
        cost=np.bincount(ag, weights=cost, minlength=NA),
        call_tok=(agc, c_day, prompt + comp),
        api=(r_agent, r_day, r_ep, r_att, h_fp, r_head),
    )
    return dict(exec_lines=exec_lines, llm=(c_start, c_day, llm_lines), api=(r_ts, r_day, api_rows), stats=stats)


def _provider_call_totals(c_day, model, agent, uncached, cached, output, ws_index):
    """Per (day index, model, workspace index): [uncached, cache read, cache write, output, requests]
    of one day's calls, as provider_exports would sum them from the written call log."""
    if not len(c_day):
        return {}
    code = (c_day * len(MODELS) + model) * (int(ws_index.max()) + 1) + ws_index[agent]
    keys, inv = np.unique(code, return_inverse=True)
    sums = [np.bincount(inv, weights=v, minlength=len(keys)) for v in (uncached, cached, output)]
    n = np.bincount(inv, minlength=len(keys))
    nw, nm = int(ws_index.max()) + 1, len(MODELS)
    return {(int(k) // nw // nm, int(k) // nw % nm, int(k) % nw): (int(u), int(c), int(o), int(r))
            for k, u, c, o, r in zip(keys.tolist(), sums[0].tolist(), sums[1].tolist(), sums[2].tolist(), n.tolist())}


# --------------------------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------------------------
def _merge(parts):
    ts = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
    rows = [r for p in parts for r in p[1]]
    order = np.argsort(ts, kind="stable")
    return [rows[i] for i in order.tolist()]


def _write_jsonl(path: Path, lines):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(lines))


def _write_api(path: Path, rows):
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(API_HEADER)
        w.writerows(rows)


def _split_by_day(d, ts, day_idx, rows, carry):
    """Rows dated d are returned; later-dated rows go to carry[day]."""
    own = day_idx == d
    mine = (ts[own], [rows[i] for i in np.nonzero(own)[0].tolist()]) if not own.all() else (ts, rows)
    if not own.all():
        for dd in np.unique(day_idx[~own]).tolist():
            sel = np.nonzero(day_idx == dd)[0]
            carry.setdefault(dd, []).append((ts[sel], [rows[i] for i in sel.tolist()]))
    return mine


# --------------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------------
def _load_sibling(name: str):
    """A module next to this script, importable whether this runs as a script or is loaded by path."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _mean_calls_per_execution(A: dict, share: np.ndarray) -> float:
    """Expected LLM calls per execution over the fleet: 1 + min(Poisson(calls - 1), 5) per
    agent (as _sample_calls draws them), weighted by each agent's share of executions."""
    lam = np.maximum(A["calls"] - 1.0, 0.0)
    pmf = [np.exp(-lam) * lam ** k / math.factorial(k) for k in range(5)]
    expected_capped = sum(1.0 - sum(pmf[:k]) for k in range(1, 6))  # E[min(X, 5)] = sum P(X >= k)
    return float(np.sum(share * (1.0 + expected_capped)))


def generate(out_dir, seeds_dir, start: dt.date, days: int, agents: int, executions_per_day: int, seed: int,
             truth_path=None, progress=True, llm_calls_per_day: int | None = None) -> dict:
    """`llm_calls_per_day`, when given, sets the volume instead of `executions_per_day`: the
    executions per day that yield about that many gateway LLM calls a day on this fleet."""
    out_dir, seeds_dir = Path(out_dir), Path(seeds_dir)
    if isinstance(start, str):
        start = dt.date.fromisoformat(start)
    if agents < 1 or days < 1:
        raise ValueError("agents and days must be >= 1")
    dirs = {k: out_dir / k for k in ("executions", "llm_calls", "api_calls")}
    for k, p in dirs.items():
        p.mkdir(parents=True, exist_ok=True)
        ext = "csv" if k == "api_calls" else "jsonl"
        for old in p.glob(f"{k}_*.{ext}"):  # remove stale outputs of a previous run
            old.unlink()
    seeds_dir.mkdir(parents=True, exist_ok=True)

    fleet_rng = np.random.default_rng([seed, 0])
    fleet = _build_fleet(agents, start, fleet_rng)
    A = _fleet_arrays(fleet)
    NA = agents

    # volume normalisation: the period's mean daily total equals executions_per_day
    f_days = np.array([(WEEKEND_FACTOR if (start + dt.timedelta(days=d)).weekday() >= 5 else 1.0)
                       * (1 + DAILY_GROWTH * d) for d in range(days)])
    scale = days / f_days.sum()
    active_w = np.where(A["is_idle"], 0.0, A["weight"])
    share = active_w / active_w.sum() if active_w.sum() > 0 else active_w
    if llm_calls_per_day is not None:
        executions_per_day = max(1, round(llm_calls_per_day / _mean_calls_per_execution(A, share)))
    base_lam = executions_per_day * scale * share  # weekday, day-0 expected executions per agent
    near_budgets = _near_limit_budgets(A, fleet_rng, base_lam)
    near_budget_arr = np.zeros(NA)
    for i, b in near_budgets.items():
        near_budget_arr[i] = b

    epoch_ms = int(dt.datetime(start.year, start.month, start.day, tzinfo=dt.timezone.utc).timestamp() * 1000)
    workspaces = sorted(set(A["ws"]))
    ctx = dict(A=A, n_agents=NA, seed=seed, start=start, epoch_ms=epoch_ms, base_lam=base_lam,
               near_budget_arr=near_budget_arr, user_width=max(3, len(str(fleet["n_users"]))),
               ws_index=np.array([workspaces.index(w) for w in A["ws"]], dtype=np.int64))
    # (day, provider, model, workspace) -> [uncached, cache read, cache write, output, requests]
    provider_totals = defaultdict(lambda: [0, 0, 0, 0, 0])

    tok_exec = np.zeros((NA, days))
    tok_call = np.zeros((NA, days + 2))
    cost_sum = np.zeros(NA)
    api_first = np.zeros(NA)  # retry_attempt == 0 rows
    api_repeat = np.zeros(NA)  # ... whose fingerprint was already seen that day for agent+endpoint
    ep_total = np.zeros(len(ENDPOINTS))
    ep_429 = np.zeros(len(ENDPOINTS))
    counts = {"executions": 0, "llm_calls": 0, "api_calls": 0, "execution_files": 0, "llm_call_files": 0,
              "api_call_files": 0}
    carry_llm, carry_api = {}, {}

    it = range(days)
    if progress and tqdm is not None:
        it = tqdm(it, desc="generating days", unit="day")

    def write_day(dd, llm_parts, api_parts):
        ds = (start + dt.timedelta(days=dd)).isoformat()
        llm_lines = _merge(llm_parts)
        api_rows = _merge(api_parts)
        _write_jsonl(dirs["llm_calls"] / f"llm_calls_{ds}.jsonl", llm_lines)
        _write_api(dirs["api_calls"] / f"api_calls_{ds}.csv", api_rows)
        counts["llm_calls"] += len(llm_lines)
        counts["api_calls"] += len(api_rows)
        counts["llm_call_files"] += 1
        counts["api_call_files"] += 1
        # API stats by file date (chronological)
        return api_rows

    for d in it:
        res = _generate_day(ctx, d)
        ds = (start + dt.timedelta(days=d)).isoformat()
        _write_jsonl(dirs["executions"] / f"executions_{ds}.jsonl", res["exec_lines"])
        counts["executions"] += len(res["exec_lines"])
        counts["execution_files"] += 1
        llm_mine = _split_by_day(d, *res["llm"], carry_llm)
        api_mine = _split_by_day(d, *res["api"], carry_api)
        rows = write_day(d, carry_llm.pop(d, []) + [llm_mine], carry_api.pop(d, []) + [api_mine])
        _api_stats(rows, d, A, api_first, api_repeat, ep_total, ep_429)

        st = res["stats"]
        for (cd, m, w), (u, c, o, r) in st["provider_totals"].items():
            if M_PROVIDER[m] in ("openai", "anthropic"):
                t = provider_totals[((start + dt.timedelta(days=cd)).isoformat(), M_PROVIDER[m], MODELS[m], workspaces[w])]
                t[0], t[1], t[3], t[4] = t[0] + u, t[1] + c, t[3] + o, t[4] + r
        tok_exec[:, d] = st["tok_exec"]
        cost_sum += st["cost"]
        agc, c_day, tok = st["call_tok"]
        np.add.at(tok_call, (agc, np.minimum(c_day, days + 1)), tok)
    for dd in sorted(set(carry_llm) | set(carry_api)):  # calls spilling past the last day
        rows = write_day(dd, carry_llm.pop(dd, []), carry_api.pop(dd, []))
        _api_stats(rows, dd, A, api_first, api_repeat, ep_total, ep_429)

    # ---------------- seeds: agents.csv and budgets.csv (budgets calibrated on generated volumes)
    weekday = np.array([(start + dt.timedelta(days=d)).weekday() < 5 for d in range(days)])
    tok_call_in = tok_call[:, :days]
    budgets = {}
    budget_check = {}
    for i, a in enumerate(fleet["agents"]):
        role = a["role"]
        if role == "near_limit":
            daily = int(near_budgets[i])
        elif role == "over_budget":
            both = np.minimum(tok_exec[i], tok_call_in[i])[weekday]
            p20 = np.percentile(both, 20) if len(both) else 0.0
            daily = max(1000, int(OVER_BUDGET_FACTOR * p20 // 1000) * 1000)
        else:
            mx = max(tok_exec[i].max(), tok_call[i].max())
            daily = max(50_000, int(math.ceil(HEALTHY_BUDGET_HEADROOM * mx / 10_000)) * 10_000)
        monthly_cost = cost_sum[i] * 30.0 / days
        cf = {"over_budget": 0.8, "near_limit": 1.15}.get(role, 2.0)
        budgets[i] = dict(daily=daily, monthly=daily * 30, cost=max(5.0, math.ceil(monthly_cost * cf * 100) / 100))
        ue = tok_exec[i][weekday] / daily
        uc = tok_call_in[i][weekday] / daily
        budget_check[a["agent_id"]] = dict(
            role=role, daily_token_budget=daily, weekdays=int(weekday.sum()),
            weekdays_over_budget=int(((ue > 1.0) & (uc > 1.0)).sum()),
            weekdays_80_100pct=int(((ue >= 0.8) & (ue <= 1.0) & (uc >= 0.8) & (uc <= 1.0)).sum()),
            max_daily_tokens=int(max(tok_exec[i].max(), tok_call[i].max())))

    with open(seeds_dir / "agents.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["agent_id", "agent_name", "workspace_id", "owner_user_id", "department", "project",
                    "compute_tier", "allocated_cpu_cores", "allocated_memory_mb", "allocated_gpus",
                    "primary_model", "provider", "created_at"])
        for a in fleet["agents"]:
            w.writerow([a["agent_id"], a["name"], a["workspace_id"], f"usr_{a['owner']:0{ctx['user_width']}d}",
                        a["department"], a["project"], a["tier"], "%.1f" % a["cores"], a["mem"], a["gpus"],
                        a["model"], PRICES[a["model"]]["provider"], a["created_at"].isoformat()])
    with open(seeds_dir / "budgets.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["workspace_id", "agent_id", "daily_token_budget", "monthly_token_budget",
                    "monthly_cost_budget_usd"])
        for i, a in enumerate(fleet["agents"]):
            b = budgets[i]
            w.writerow([a["workspace_id"], a["agent_id"], b["daily"], b["monthly"], "%.2f" % b["cost"]])
    counts["agents"] = NA
    counts["budgets"] = NA

    # ---------------- infrastructure exports: FOCUS bill, GPU telemetry, container samples
    infra_counts, infra_truth = _generate_infrastructure(out_dir, seeds_dir, fleet, start, days, seed)
    counts.update(infra_counts)

    # ---------------- provider reports and gateway logs, derived from the call log above
    provider_exports = _load_sibling("provider_exports")
    counts.update(provider_exports.write_provider_exports(out_dir, seeds_dir, start, days, seed, PRICES,
                                                          call_totals=provider_totals))

    # ---------------- truth
    if truth_path is not None:
        by_role = {r: [a["agent_id"] for a in fleet["agents"] if a["role"] == r] for r in ROLES}
        truth = {
            "idle_agents": by_role["idle"],
            "oversized_agents": by_role["oversized"],
            "low_util_gpu_agents": by_role["low_util_gpu"],
            "redundant_api_agents": by_role["redundant_api"],
            "high_failure_agents": by_role["high_failure"],
            "over_budget_agents": by_role["over_budget"],
            "near_limit_agents": by_role["near_limit"],
            "rate_limited_endpoints": [RATE_LIMITED_ENDPOINT],
            "cost_drift_agents": by_role["cost_drift"],
            "healthy_agents": by_role["healthy"],
            "gpu_agents": [a["agent_id"] for a in fleet["agents"] if a["gpus"]],
            "infrastructure": infra_truth,
            "provider_exports": provider_exports.planted_facts(start),
            "params": {
                "start": start.isoformat(), "days": days, "agents": agents,
                "executions_per_day": executions_per_day, "seed": seed,
                "weekend_factor": WEEKEND_FACTOR, "daily_growth": DAILY_GROWTH,
                "hour_profile": HOUR_PROFILE.tolist(),
                "cost_drift_factor": COST_DRIFT_FACTOR,
                "high_failure_rate": HIGH_FAILURE_RATE,
                "normal_failure_rate_range": [0.02, 0.04],
                "oversized_cpu_percent_range": [3.0, 8.0], "oversized_memory_fraction_max": 0.10,
                "low_util_gpu_percent_range": [2.0, 6.0],
                "idle_executions_per_day": {"weekday": IDLE_RATE_WEEKDAY, "weekend": IDLE_RATE_WEEKEND},
                "redundant_api_pool_share": REDUNDANT_P,
                "rate_limit_429_share": float(ENDPOINTS[0][4][3]),
                "near_limit_daily_target_fraction": list(NEAR_LIMIT_TARGET),
                "over_budget_factor_of_p20_weekday_usage": OVER_BUDGET_FACTOR,
                "healthy_budget_headroom_x_max_daily_tokens": HEALTHY_BUDGET_HEADROOM,
                "daily_token_usage_definition": "sum of llm total_tokens (prompt+completion) per agent per UTC day",
                "prices_usd_per_million_tokens": PRICES,
                "endpoint_price_usd_per_call": dict(zip(EP_NAMES, EP_PRICE.tolist())),
                "agent_roles": {a["agent_id"]: a["role"] for a in fleet["agents"]},
                "agent_names": {a["agent_id"]: a["name"] for a in fleet["agents"]},
            },
            "measured": {
                "counts": dict(counts),
                "budget_check": budget_check,
                "redundant_api_share": {A["ids"][i]: round(float(api_repeat[i] / api_first[i]), 4)
                                        for i in range(NA) if api_first[i] > 0},
                "endpoint_429_share": {EP_NAMES[k]: round(float(ep_429[k] / ep_total[k]), 4)
                                       for k in range(len(ENDPOINTS)) if ep_total[k] > 0},
            },
        }
        truth_path = Path(truth_path)
        truth_path.parent.mkdir(parents=True, exist_ok=True)
        with open(truth_path, "w", encoding="utf-8", newline="\n") as f:
            json.dump(truth, f, indent=2)
            f.write("\n")
    return counts



# ============================================================================================
# Infrastructure exports (issue 3): a FinOps FOCUS cloud bill, nvidia-smi GPU telemetry and
# container CPU/memory samples for the same period and fleet, plus the gpu_assignments seed.
# Own RNG streams ([seed, 7..9, ...]) so the files above stay byte-identical.
# ============================================================================================
GPU_SAMPLE_S = 600  # nvidia-smi -l 600: one reading per GPU every 10 minutes
CONTAINER_SAMPLE_S = 300  # Prometheus range query step: 5 minutes
GPU_NAME, GPU_MEMORY_MIB = "NVIDIA A100-SXM4-80GB", 81920
GPU_USD_PER_HOUR = Decimal("2.50")  # = the rate card's gpu_instance default
IDLE_GPU_UTIL_RANGE = (2, 6)  # the low-utilisation GPU agent's nvidia-smi utilization.gpu, %
BUSY_GPU_UTIL_MEAN, BUSY_GPU_UTIL_SD = 67.5, 4.0
GPU_POWER_NA_SHARE = 0.004  # readings where power.draw is "[N/A]" (a transient driver read failure)
INSTANCE_USD_PER_CORE_HOUR = Decimal("0.048")  # general-purpose on-demand, per vCPU
STORAGE_USD_PER_GB_MONTH = Decimal("0.08")  # block storage (gp3)
NETWORK_USD_PER_GB = Decimal("0.09")  # internet egress
LOAD_BALANCER_USD_PER_HOUR = Decimal("0.0225")
NAT_GATEWAY_USD_PER_HOUR = Decimal("0.045")
NAT_GATEWAY_USD_PER_GB = Decimal("0.045")
# (component, container, cpu request cores, memory request MiB, cpu base, cpu per load, mem base MiB, mem per load)
CONTAINERS = [
    ("api_layer", "api-gateway", 2.0, 2048, 0.15, 1.10, 600, 500),
    ("core_services", "agent-runtime", 4.0, 8192, 0.30, 2.20, 2500, 2500),
    ("core_services", "tool-executor", 2.0, 4096, 0.05, 0.30, 500, 300),
    ("data_layer", "postgres", 2.0, 8192, 0.20, 0.60, 5200, 600),
]
FOCUS_COLUMNS = [
    "AvailabilityZone", "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency",
    "BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory", "ChargeClass", "ChargeDescription",
    "ChargeFrequency", "ChargePeriodEnd", "ChargePeriodStart", "CommitmentDiscountCategory",
    "CommitmentDiscountId", "CommitmentDiscountName", "CommitmentDiscountStatus", "CommitmentDiscountType",
    "ConsumedQuantity", "ConsumedUnit", "ContractedCost", "ContractedUnitPrice", "EffectiveCost",
    "InvoiceIssuerName", "ListCost", "ListUnitPrice", "PricingCategory", "PricingQuantity", "PricingUnit",
    "ProviderName", "PublisherName", "RegionId", "RegionName", "ResourceId", "ResourceName", "ResourceType",
    "ServiceCategory", "Id", "ServiceName", "SkuId", "SkuPriceId", "SubAccountId", "SubAccountName", "Tags",
]
GPU_HEADER = ("timestamp, index, name, uuid, utilization.gpu [%], utilization.memory [%], memory.used [MiB], "
              "memory.total [MiB], power.draw [W]")
CONTAINER_HEADER = ["timestamp", "component", "container", "cpu_usage_cores", "cpu_request_cores",
                    "memory_working_set_bytes", "memory_request_bytes"]
_Q10 = Decimal("0.0000000001")


def _gpu_uuid(seed: int, host: str, index: int) -> str:
    h = _sha(f"{seed}|{host}|gpu-{index}")
    return f"GPU-{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _load(date: dt.date, d: int, hours: np.ndarray) -> np.ndarray:
    """The platform's load shape (0..1.x): hour profile x weekend factor x growth."""
    return HOUR_PROFILE[hours] * (WEEKEND_FACTOR if date.weekday() >= 5 else 1.0) * (1 + DAILY_GROWTH * d)


def _gpu_hosts(fleet: dict, seed: int) -> list:
    """One GPU host per GPU agent (its cloud GPU instance), gpu-node-01, -02, ..."""
    hosts = []
    for a in fleet["agents"]:
        if a["gpus"]:
            host = f"gpu-node-{len(hosts) + 1:02d}"
            hosts.append(dict(host=host, agent=a, gpus=[(k, _gpu_uuid(seed, host, k)) for k in range(a["gpus"])]))
    return hosts


def _write_gpu_telemetry(folder: Path, hosts: list, start: dt.date, days: int, seed: int) -> dict:
    samples, util_sum, util_n = 0, {}, {}
    steps = 86_400 // GPU_SAMPLE_S
    for d in range(days):
        date = start + dt.timedelta(days=d)
        rng = np.random.default_rng([seed, 7, d])
        stamp = [f"{date.year:04d}/{date.month:02d}/{date.day:02d} "
                 f"{s * GPU_SAMPLE_S // 3600:02d}:{s * GPU_SAMPLE_S % 3600 // 60:02d}:00.000" for s in range(steps)]
        for h in hosts:
            a = h["agent"]
            idle = a["role"] == "low_util_gpu"
            lines = [GPU_HEADER]
            for index, uuid in h["gpus"]:
                if idle:
                    util = rng.integers(IDLE_GPU_UTIL_RANGE[0], IDLE_GPU_UTIL_RANGE[1] + 1, steps)
                    mem = GPU_MEMORY_MIB * np.clip(0.06 + rng.normal(0, 0.005, steps), 0.04, 0.08)
                else:
                    util = np.clip(np.rint(rng.normal(BUSY_GPU_UTIL_MEAN, BUSY_GPU_UTIL_SD, steps)), 40, 98)
                    mem = GPU_MEMORY_MIB * np.clip(0.6 + rng.normal(0, 0.04, steps), 0.3, 0.9)
                mem_util = np.rint(util * rng.uniform(0.35, 0.5, steps))
                power = 58.0 + 3.3 * util + rng.normal(0, 4.0, steps)
                na = rng.random(steps) < GPU_POWER_NA_SHARE
                util_sum[a["agent_id"]] = util_sum.get(a["agent_id"], 0.0) + float(util.sum())
                util_n[a["agent_id"]] = util_n.get(a["agent_id"], 0) + steps
                for s in range(steps):
                    lines.append(f"{stamp[s]}, {index}, {GPU_NAME}, {uuid}, {int(util[s])} %, {int(mem_util[s])} %, "
                                 f"{int(mem[s])} MiB, {GPU_MEMORY_MIB} MiB, "
                                 + ("[N/A]" if na[s] else f"{power[s]:.2f} W"))
                samples += steps
            with open(folder / f"{h['host']}_{date.isoformat()}.csv", "w", encoding="utf-8", newline="\n") as f:
                f.write("\n".join(lines) + "\n")
    means = {k: round(util_sum[k] / util_n[k], 2) for k in util_sum}
    return dict(gpu_samples=samples, gpu_metric_files=days * len(hosts), mean_util=means)


def _write_container_metrics(folder: Path, start: dt.date, days: int, seed: int) -> dict:
    steps = 86_400 // CONTAINER_SAMPLE_S
    rows_total, used = 0, {c[1]: [0.0, 0.0, 0] for c in CONTAINERS}
    for d in range(days):
        date = start + dt.timedelta(days=d)
        rng = np.random.default_rng([seed, 8, d])
        secs = np.arange(steps) * CONTAINER_SAMPLE_S
        load = _load(date, d, secs // 3600)
        series = []
        for comp, name, req_cpu, req_mib, cpu0, cpu1, mem0, mem1 in CONTAINERS:
            cpu = np.maximum(0.01, (cpu0 + cpu1 * load) * (1 + rng.normal(0, 0.08, steps)))
            mem = np.maximum(64.0, (mem0 + mem1 * load) * (1 + rng.normal(0, 0.03, steps))) * 1_048_576
            series.append((comp, name, f"{req_cpu:g}", str(req_mib * 1_048_576), cpu, mem.astype(np.int64)))
            u = used[name]
            u[0] += float(cpu.sum()) / req_cpu
            u[1] += float(mem.sum()) / (req_mib * 1_048_576)
            u[2] += steps
        rows = []
        for s in range(steps):
            ts = f"{date.isoformat()}T{secs[s] // 3600:02d}:{secs[s] % 3600 // 60:02d}:00Z"
            for comp, name, req_cpu, req_mem, cpu, mem in series:
                rows.append(f"{ts},{comp},{name},{cpu[s]:.4f},{req_cpu},{mem[s]},{req_mem}")
        with open(folder / f"container_metrics_{date.isoformat()}.csv", "w", encoding="utf-8", newline="\n") as f:
            f.write(",".join(CONTAINER_HEADER) + "\n" + "\n".join(rows) + "\n")
        rows_total += len(rows)
    efficiency = {k: {"cpu": round(v[0] / v[2], 3), "memory": round(v[1] / v[2], 3)} for k, v in used.items()}
    return dict(container_samples=rows_total, container_metric_files=days, mean_efficiency=efficiency)


def _focus_line(day: dt.date, period: tuple, cost: Decimal, category: str, service: str, service_category: str,
                resource_id, resource_name, resource_type, description: str, quantity: Decimal, unit: str,
                unit_price: Decimal, sku: str, tags) -> dict:
    cost = cost.quantize(_Q10)
    nxt = day + dt.timedelta(days=1)
    return {
        "AvailabilityZone": "us-east-1a" if service_category == "Compute" else None, "BilledCost": cost,
        "BillingAccountId": "210987654321", "BillingAccountName": "agent-platform", "BillingCurrency": "USD",
        "BillingPeriodEnd": f"{period[1].isoformat()} 00:00:00", "BillingPeriodStart": f"{period[0].isoformat()} 00:00:00",
        "ChargeCategory": category, "ChargeClass": None, "ChargeDescription": description,
        "ChargeFrequency": "Usage-Based", "ChargePeriodEnd": f"{nxt.isoformat()} 00:00:00",
        "ChargePeriodStart": f"{day.isoformat()} 00:00:00", "CommitmentDiscountCategory": None,
        "CommitmentDiscountId": None, "CommitmentDiscountName": None, "CommitmentDiscountStatus": None,
        "CommitmentDiscountType": None, "ConsumedQuantity": quantity, "ConsumedUnit": unit, "ContractedCost": cost,
        "ContractedUnitPrice": unit_price, "EffectiveCost": cost, "InvoiceIssuerName": "Amazon Web Services, Inc.",
        "ListCost": cost, "ListUnitPrice": unit_price, "PricingCategory": "Standard", "PricingQuantity": quantity,
        "PricingUnit": unit, "ProviderName": "AWS", "PublisherName": "Amazon Web Services, Inc.",
        "RegionId": "us-east-1", "RegionName": "US East (N. Virginia)", "ResourceId": resource_id,
        "ResourceName": resource_name, "ResourceType": resource_type, "ServiceCategory": service_category,
        "Id": None, "ServiceName": service, "SkuId": sku, "SkuPriceId": f"{sku}.ONDEMAND",
        "SubAccountId": "345678901234", "SubAccountName": "agents-prod",
        "Tags": json.dumps(tags, sort_keys=True) if tags is not None else None,
    }


def _write_focus(folder: Path, fleet: dict, hosts: list, start: dt.date, days: int, seed: int) -> dict:
    """One FOCUS file per billing month touching the period, named with the month's last day
    or the period's last day, whichever is earlier (a month-to-date bill); daily charge periods."""
    end = start + dt.timedelta(days=days - 1)
    gpu_agent = {h["agent"]["agent_id"]: h for h in hosts}
    ws_agents = {}
    for a in fleet["agents"]:
        ws_agents.setdefault(a["workspace_id"], []).append(a)
    by_month = {}
    for d in range(days):
        day = start + dt.timedelta(days=d)
        by_month.setdefault((day.year, day.month), []).append((d, day))
    files, n_lines, total, shared_n, shared_cost, shared_services = [], 0, Decimal(0), 0, Decimal(0), set()
    tagged_agent_cost, tagged_ws_cost = Decimal(0), Decimal(0)
    for (y, m), month_days in sorted(by_month.items()):
        period = (dt.date(y, m, 1), dt.date(y + m // 12, m % 12 + 1, 1))
        month_len = (period[1] - period[0]).days
        rng = np.random.default_rng([seed, 9, y, m])
        lines = []
        for d, day in month_days:
            hours = Decimal(24)
            for a in fleet["agents"]:
                tags = {"agent_id": a["agent_id"], "environment": "prod", "workspace": a["workspace_id"]}
                if a["agent_id"] in gpu_agent:
                    h = gpu_agent[a["agent_id"]]
                    n = Decimal(len(h["gpus"]))
                    lines.append(_focus_line(
                        day, period, hours * n * GPU_USD_PER_HOUR, "Usage", "Amazon Elastic Compute Cloud", "Compute",
                        f"arn:aws:ec2:us-east-1:345678901234:instance/i-{_sha(h['host'])[:17]}", h["host"],
                        "GPU Instance", f"${GPU_USD_PER_HOUR} per GPU-hour, {GPU_NAME} on-demand",
                        hours * n, "GPU-Hours", GPU_USD_PER_HOUR, "GPU-A100-80GB", {**tags, "gpu_host": h["host"]}))
                else:
                    rate = INSTANCE_USD_PER_CORE_HOUR * Decimal(a["cores"])
                    lines.append(_focus_line(
                        day, period, hours * rate, "Usage", "Amazon Elastic Compute Cloud", "Compute",
                        f"arn:aws:ec2:us-east-1:345678901234:instance/i-{_sha(a['agent_id'])[:17]}",
                        f"{a['name']}-runner", "Instance", f"${rate} per On Demand Linux {a['cores']} vCPU instance hour",
                        hours, "Hours", rate, f"M6I-{a['cores']}VCPU", tags))
            for ws, agents in sorted(ws_agents.items()):
                gb = Decimal(200 + 50 * len(agents))
                lines.append(_focus_line(
                    day, period, gb * STORAGE_USD_PER_GB_MONTH / month_len, "Usage", "Amazon Elastic Block Store",
                    "Storage", f"arn:aws:ec2:us-east-1:345678901234:volume/vol-{_sha(ws)[:17]}", f"{ws}-data",
                    "Volume", f"${STORAGE_USD_PER_GB_MONTH} per GB-month of General Purpose (gp3) storage",
                    (gb / month_len).quantize(_Q10), "GB-Mo", STORAGE_USD_PER_GB_MONTH, "EBS-GP3",
                    {"environment": "prod", "workspace": ws}))
                egress = Decimal(str(round(float(rng.uniform(2.0, 12.0)) * len(agents), 3)))
                lines.append(_focus_line(
                    day, period, egress * NETWORK_USD_PER_GB, "Usage", "AWS Data Transfer", "Networking",
                    f"arn:aws:ec2:us-east-1:345678901234:instance/i-{_sha(ws)[:17]}", None, None,
                    f"${NETWORK_USD_PER_GB} per GB - US East (N. Virginia) data transfer to the internet",
                    egress, "GB", NETWORK_USD_PER_GB, "DT-OUT", {"workspace": ws}))
            # shared platform lines: no workspace or agent tag -> the shared cost issue 4 allocates
            nat_gb = Decimal(str(round(float(rng.uniform(20.0, 60.0)), 3)))
            shared = [
                _focus_line(day, period, hours * LOAD_BALANCER_USD_PER_HOUR, "Usage", "Elastic Load Balancing",
                            "Networking", "arn:aws:elasticloadbalancing:us-east-1:345678901234:loadbalancer/app/agents-api/"
                            + _sha("lb")[:16], "agents-api", "Load Balancer",
                            f"${LOAD_BALANCER_USD_PER_HOUR} per Application LoadBalancer-hour", hours, "Hours",
                            LOAD_BALANCER_USD_PER_HOUR, "ELB-ALB", {"component": "api_layer", "environment": "prod"}),
                _focus_line(day, period, hours * NAT_GATEWAY_USD_PER_HOUR, "Usage", "Amazon Virtual Private Cloud",
                            "Networking", "arn:aws:ec2:us-east-1:345678901234:natgateway/nat-" + _sha("nat")[:17],
                            None, "NAT Gateway", f"${NAT_GATEWAY_USD_PER_HOUR} per NAT Gateway Hour", hours, "Hours",
                            NAT_GATEWAY_USD_PER_HOUR, "NGW-HOURS", None),
                _focus_line(day, period, nat_gb * NAT_GATEWAY_USD_PER_GB, "Usage", "Amazon Virtual Private Cloud",
                            "Networking", "arn:aws:ec2:us-east-1:345678901234:natgateway/nat-" + _sha("nat")[:17],
                            None, "NAT Gateway", f"${NAT_GATEWAY_USD_PER_GB} per GB Data Processed by NAT Gateways",
                            nat_gb, "GB", NAT_GATEWAY_USD_PER_GB, "NGW-BYTES", None),
            ]
            lines.extend(shared)
            for line in shared:
                shared_n += 1
                shared_cost += line["BilledCost"]
                shared_services.add(line["ServiceName"])
        for k, line in enumerate(lines):
            line["Id"] = _sha(f"{seed}|{y}-{m:02d}|{k}")[:20]
            total += line["BilledCost"]
            tags = json.loads(line["Tags"]) if line["Tags"] else {}
            if "agent_id" in tags:
                tagged_agent_cost += line["BilledCost"]
            elif "workspace" in tags:
                tagged_ws_cost += line["BilledCost"]
        name = f"focus_{min(period[1] - dt.timedelta(days=1), end).isoformat()}.csv"
        with open(folder / name, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(FOCUS_COLUMNS)
            w.writerows([["NULL" if line[c] is None else line[c] for c in FOCUS_COLUMNS] for line in lines])
        files.append(name)
        n_lines += len(lines)
    return dict(focus_lines=n_lines, focus_files=files, billed_cost=str(total), shared_lines=shared_n,
                shared_cost=str(shared_cost), shared_services=sorted(shared_services),
                agent_tagged_cost=str(tagged_agent_cost), workspace_tagged_cost=str(tagged_ws_cost))


def _generate_infrastructure(out_dir: Path, seeds_dir: Path, fleet: dict, start: dt.date, days: int,
                             seed: int) -> tuple:
    """Writes focus/, gpu_metrics/, container_metrics/ and seeds/gpu_assignments.csv; returns (counts, truth)."""
    folders = {k: out_dir / k for k in ("focus", "gpu_metrics", "container_metrics")}
    for p in folders.values():
        p.mkdir(parents=True, exist_ok=True)
        for old in p.glob("*.csv"):  # stale outputs of a previous run
            old.unlink()
    hosts = _gpu_hosts(fleet, seed)
    with open(seeds_dir / "gpu_assignments.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["host", "gpu_index", "gpu_uuid", "agent_id", "workspace_id", "usd_per_gpu_hour",
                    "assigned_from", "assigned_to"])
        for h in hosts:
            for index, uuid in h["gpus"]:
                w.writerow([h["host"], index, uuid, h["agent"]["agent_id"], h["agent"]["workspace_id"],
                            f"{GPU_USD_PER_HOUR:.2f}", "", ""])
    gpu = _write_gpu_telemetry(folders["gpu_metrics"], hosts, start, days, seed)
    containers = _write_container_metrics(folders["container_metrics"], start, days, seed)
    focus = _write_focus(folders["focus"], fleet, hosts, start, days, seed)
    counts = {"focus_lines": focus["focus_lines"], "focus_files": len(focus["focus_files"]),
              "gpu_samples": gpu["gpu_samples"], "gpu_metric_files": gpu["gpu_metric_files"],
              "container_samples": containers["container_samples"],
              "container_metric_files": containers["container_metric_files"]}
    idle = [h for h in hosts if h["agent"]["role"] == "low_util_gpu"]
    truth = {
        "idle_gpu_agents": [h["agent"]["agent_id"] for h in idle],
        "idle_gpu_hosts": [h["host"] for h in idle],
        "idle_gpu_utilization_range_pct": list(IDLE_GPU_UTIL_RANGE),
        "busy_gpu_utilization_mean_pct": BUSY_GPU_UTIL_MEAN,
        "gpu_hosts": {h["host"]: {"agent_id": h["agent"]["agent_id"], "workspace_id": h["agent"]["workspace_id"],
                                  "gpu_uuids": [u for _, u in h["gpus"]]} for h in hosts},
        "gpu_sample_interval_s": GPU_SAMPLE_S,
        "gpu_usd_per_hour": str(GPU_USD_PER_HOUR),
        "measured_gpu_utilization_mean_pct": gpu["mean_util"],
        "container_sample_interval_s": CONTAINER_SAMPLE_S,
        "containers": {c[1]: {"component": c[0], "cpu_request_cores": c[2], "memory_request_mib": c[3]}
                       for c in CONTAINERS},
        "measured_container_efficiency": containers["mean_efficiency"],
        "oversized_containers": ["tool-executor"],  # uses ~10% of its CPU and ~16% of its memory request
        "focus_files": focus["focus_files"],
        "focus_billed_cost_usd": focus["billed_cost"],
        "focus_agent_tagged_cost_usd": focus["agent_tagged_cost"],
        "focus_workspace_only_cost_usd": focus["workspace_tagged_cost"],
        "untagged_shared_lines": {"lines": focus["shared_lines"], "billed_cost_usd": focus["shared_cost"],
                                  "services": focus["shared_services"],
                                  "note": "no workspace/agent tag: fct_cloud_costs.allocation_level = 'shared'"},
        "counts": counts,
    }
    return counts, truth


def _api_stats(rows, d, A, api_first, api_repeat, ep_total, ep_429):
    """Redundancy (repeat of a fingerprint already seen that day for agent+endpoint, first attempts only)
    and 429 share per endpoint, computed on the written (chronological) rows of one file."""
    idx = A["_id_index"] if "_id_index" in A else A.setdefault("_id_index", {x: i for i, x in enumerate(A["ids"])})
    day_seen = set()
    for r in rows:
        k = EP_IDX[r[5]]
        ep_total[k] += 1
        if r[7] == 429:
            ep_429[k] += 1
        if r[10] == 0:
            i = idx[r[2]]
            api_first[i] += 1
            key = (r[2], r[5], r[13])
            if key in day_seen:
                api_repeat[i] += 1
            else:
                day_seen.add(key)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="data/raw", help="output directory for raw exports (default data/raw)")
    p.add_argument("--seeds-dir", default="dbt_project/seeds", help="dbt seeds directory")
    p.add_argument("--start", default="2026-10-15", type=dt.date.fromisoformat, help="first UTC day")
    p.add_argument("--days", default=30, type=int)
    p.add_argument("--agents", default=20, type=int)
    p.add_argument("--executions-per-day", default=300, type=int, help="average executions per day (total)")
    p.add_argument("--llm-calls-per-day", type=int,
                   help="size by LLM calls instead: about this many gateway calls per day on average "
                        "(executions and API calls follow from the fleet; overrides --executions-per-day)")
    p.add_argument("--seed", default=42, type=int)
    p.add_argument("--truth", default="data/sample_truth.json",
                   help="where to write the planted-pattern truth JSON (default data/sample_truth.json; '' = none)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)

    def resolve(x):
        x = Path(x)
        return x if x.is_absolute() else REPO_ROOT / x

    counts = generate(resolve(args.out), resolve(args.seeds_dir), args.start, args.days, args.agents,
                      args.executions_per_day, args.seed, truth_path=resolve(args.truth) if args.truth else None,
                      progress=not args.quiet, llm_calls_per_day=args.llm_calls_per_day)
    if not args.quiet:
        print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

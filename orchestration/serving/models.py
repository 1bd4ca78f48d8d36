"""Request and response shapes of the API (they are also its OpenAPI schema).

Money is exact: DECIMAL in the warehouse, `Decimal` here, and a decimal *string* in JSON
("12.345678901234"), so no float ever rounds a finance figure. Counts are integers;
percentages, utilisation and forecasts (which are doubles in the warehouse) are numbers.
"""


from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

# format(d, "f") never switches to scientific notation ("0E-12"), which str() would.
Money = Annotated[Decimal, PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json")]


class Granularity(str, Enum):
    hourly = "hourly"
    daily = "daily"


class ResourceType(str, Enum):
    compute = "compute"
    tokens = "tokens"
    api = "api"


class Period(str, Enum):
    day = "day"
    week = "week"
    month = "month"
    quarter = "quarter"
    year = "year"
    all = "all"


class Breakdown(str, Enum):
    agent = "agent"
    user = "user"
    department = "department"
    project = "project"
    model = "model"


class ExportFormat(str, Enum):
    json = "json"
    csv = "csv"


class Goal(str, Enum):
    """What the caller wants to improve; each maps to finding categories of analytics.findings."""

    reduce_cost = "reduce_cost"  # cost_optimization: cheaper models, spot, reserved capacity
    reduce_waste = "reduce_waste"  # waste: idle agents/GPUs, oversized allocations, failures
    optimize_tokens = "optimize_tokens"  # token_optimization: prompt caching
    optimize_api = "optimize_api"  # api_optimization: response caching, batching, backoff


class Effort(str, Enum):
    low = "low"
    medium = "medium"
    high = "high"


class Priority(str, Enum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"


# ---------------------------------------------------------------- health / agents


class Health(BaseModel):
    status: str = Field(description="ok, or unavailable when no published warehouse exists")
    published_path: str
    published_file_mtime: datetime | None = Field(None, description="modification time of the published file (UTC)")
    run_id: str | None = Field(None, description="Dagster run that published the file (meta.publication)")
    published_at: datetime | None = Field(None, description="publication time recorded by that run (UTC)")
    latest_data_date: date | None = Field(None, description="last usage day in the marts: 'now' for timeframes")
    detail: str | None = None


class Agent(BaseModel):
    agent_id: str
    agent_name: str | None
    workspace_id: str
    department: str | None
    project: str | None
    owner_user_id: str | None


# ---------------------------------------------------------------- resource usage


class ComputeUsage(BaseModel):
    executions: int
    cpu_core_hours: float
    memory_gb_hours: float
    gpu_compute_units: float
    avg_cpu_usage_percent: float | None = Field(description="mean of the executions' average CPU use, percent of allocated cores")
    cpu_cost_usd: Money
    memory_cost_usd: Money
    gpu_cost_usd: Money
    compute_cost_usd: Money


class TokenUsage(BaseModel):
    llm_calls: int = Field(description="LLM requests from every call log (gateway, LiteLLM, OTel)")
    input_tokens: int
    output_tokens: int
    total_tokens: int = Field(description="executions' tokens + calls made outside executions (as mart_token_budget_tracking counts them)")
    token_cost_usd: Money


class ApiUsage(BaseModel):
    api_calls: int
    failed_calls: int
    rate_limited_calls: int
    avg_latency_ms: float | None
    api_cost_usd: Money


class UsagePoint(BaseModel):
    period_start: datetime
    compute: ComputeUsage | None = None
    tokens: TokenUsage | None = None
    api: ApiUsage | None = None


class ResourceUsage(BaseModel):
    agent_id: str
    workspace_id: str
    timeframe: str
    granularity: Granularity
    resource_types: list[ResourceType]
    latest_data_date: date
    window_start: datetime = Field(description="inclusive")
    window_end: datetime = Field(description="exclusive: midnight after the latest data day")
    totals: UsagePoint
    series: list[UsagePoint]


# ---------------------------------------------------------------- cost analysis


class CostItem(BaseModel):
    key: str
    total_cost_usd: Money
    share_pct: float
    components: dict[str, Money]


class BudgetStatus(BaseModel):
    monthly_cost_budget_usd: Money = Field(description="sum of the workspace's agents' monthly cost budgets")
    direct_cost_usd: Money = Field(description="usage cost the budgets are compared with (excludes cloud bill shares)")
    used_pct: float | None


class CostAnalysis(BaseModel):
    workspace_id: str
    period: Period
    period_start: date
    period_end: date = Field(description="last calendar day of the period")
    data_through: date = Field(description="last day with data included (the period to date)")
    breakdown_by: Breakdown
    currency: str = "USD"
    total_cost_usd: Money
    items: list[CostItem]
    budget: BudgetStatus | None = Field(None, description="period=month only")
    note: str | None = None


# ---------------------------------------------------------------- optimize


class Constraints(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_effort: Effort | None = Field(None, description="leave out recommendations needing more effort")
    min_monthly_saving_usd: float = Field(0, ge=0, description="leave out recommendations saving less per month")
    priorities: list[Priority] | None = Field(None, description="only these priorities")
    max_results: int = Field(50, ge=1, le=500)


class OptimizeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    goals: list[Goal] = Field(default_factory=lambda: list(Goal), min_length=1,
                              description="default: every goal")
    constraints: Constraints = Field(default_factory=Constraints)


class Recommendation(BaseModel):
    finding_id: str
    category: str
    kind: str
    subject_type: str
    subject_id: str
    evidence: str | None
    period: str | None
    monthly_saving_usd: float | None
    assumption: str | None
    effort: str | None
    priority: str | None


class OptimizeResponse(BaseModel):
    agent_id: str
    workspace_id: str
    goals: list[Goal]
    constraints: Constraints
    applied: bool = Field(False, description="always false: the API only reads; nothing is changed")
    recommendations: list[Recommendation]
    total_monthly_saving_usd: float
    recommended_allocation: dict | None = Field(None, description="analytics.agent_allocation row")
    rightsizing: dict | None = Field(None, description="analytics.rightsizing row")
    efficiency: dict | None = Field(None, description="analytics.efficiency_scores row")


# ---------------------------------------------------------------- forecast


class ForecastPoint(BaseModel):
    date: date
    step: int
    mean: float
    median: float
    lower_80: float
    upper_80: float
    lower_95: float
    upper_95: float


class MetricForecast(BaseModel):
    metric: str
    unit: str
    model: str | None
    backtest_mase: float | None
    method_note: str | None
    horizon_total_mean: float = Field(description="sum of the daily means over the horizon")
    points: list[ForecastPoint]


class BudgetProjection(BaseModel):
    budget_type: str
    unit: str
    period_start: date
    period_end: date
    budget: float | None
    actual_to_date: float | None
    projected_end_of_period: float | None
    projected_lower_80: float | None
    projected_upper_80: float | None
    p_breach: float | None
    already_breached: bool | None
    expected_breach_date: date | None


class ResourceForecast(BaseModel):
    agent_id: str
    workspace_id: str
    as_of_date: date = Field(description="last data day the forecasts start after")
    horizon_days: int
    metrics: list[MetricForecast]
    cost_projection: MetricForecast | None = None
    budget_projections: list[BudgetProjection]

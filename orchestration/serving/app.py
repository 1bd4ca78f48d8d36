"""The read-only HTTP API and dashboard over the published warehouse.

    warehouse serve --host 127.0.0.1 --port 8000      # then /docs, /dashboard

Only the published copy (settings.PUBLISHED_DUCKDB_PATH) is ever opened, read-only, with
one short connection per request: the pipeline replaces that file by an atomic rename, so
the next request reads the new run and a request never holds the pipeline's own file.
"""


import csv
import io
import os
import secrets
from collections.abc import Iterator
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Annotated

import duckdb
from fastapi import Body, Depends, FastAPI, HTTPException, Path as PathParam, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from . import queries
from .models import (Agent, Breakdown, CostAnalysis, ExportFormat, Granularity, Health, OptimizeRequest,
                     OptimizeResponse, Period, ResourceForecast, ResourceUsage)

DESCRIPTION = """
Read-only analytics over the **published** warehouse (the copy `warehouse build` and the
Dagster job publish atomically after each successful run).

* Time is the data's time: `timeframe` and `period` are relative to the **latest usage day
  in the warehouse** (`latest_data_date`, see `/health`), not to the wall clock.
* Money is exact: amounts are decimal strings in USD (`"12.345678901234"`).
* Unknown ids → 404; bad parameters → 422; when the server has `API_TOKEN` set, every
  endpoint except `/health`, `/docs` and `/openapi.json` needs `Authorization: Bearer <token>` (→ 401).
"""

AgentId = Annotated[str, PathParam(min_length=1, max_length=128, description="e.g. agt_001")]
WorkspaceId = Annotated[str, PathParam(min_length=1, max_length=128, description="e.g. ws_support")]


def create_app(database_path: Path | None = None, api_token: str | None = None) -> FastAPI:
    """The app over `database_path` (default settings.PUBLISHED_DUCKDB_PATH). `api_token`
    defaults to the API_TOKEN environment variable; empty or unset means no auth."""
    if database_path is None:
        from orchestration import settings

        database_path = settings.PUBLISHED_DUCKDB_PATH
    database_path = Path(database_path)
    token = api_token if api_token is not None else os.environ.get("API_TOKEN", "")
    bearer = HTTPBearer(auto_error=False, description="the server's API_TOKEN, when it has one")

    def authorize(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
        if not token:
            return
        # compare_digest: the comparison time does not reveal how much of the token matched.
        if credentials is None or not secrets.compare_digest(credentials.credentials.encode(), token.encode()):
            raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

    def connection() -> Iterator[duckdb.DuckDBPyConnection]:
        if not database_path.exists():
            raise HTTPException(503, f"no published warehouse at {database_path}: run `warehouse build`")
        conn = open_read_only(database_path)
        try:
            yield conn
        finally:
            conn.close()

    Conn = Annotated[duckdb.DuckDBPyConnection, Depends(connection)]
    app = FastAPI(title="Agent Resource Warehouse API", version="1.0.0", description=DESCRIPTION)
    protected = [Depends(authorize)]

    @app.exception_handler(queries.NotFound)
    def _not_found(request: Request, exc: queries.NotFound):
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    @app.exception_handler(queries.BadParameter)
    def _bad_parameter(request: Request, exc: queries.BadParameter):
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    @app.get("/health", response_model=Health, tags=["meta"])
    def health() -> Health:
        """The published file, the run that published it and when, and the latest data day."""
        if not database_path.exists():
            return Health(status="unavailable", published_path=str(database_path),
                          detail="no published warehouse yet: run `warehouse build`")
        mtime = datetime.fromtimestamp(database_path.stat().st_mtime, tz=timezone.utc)
        with open_read_only(database_path) as conn:
            run_id = published_at = None
            has_meta = conn.execute("select count(*) from information_schema.tables "
                                    "where table_schema = 'meta' and table_name = 'publication'").fetchone()[0]
            if has_meta:
                row = conn.execute("select run_id, published_at from meta.publication").fetchone()
                if row:
                    run_id, published_at = row
            latest = queries.latest_data_date(conn)
        return Health(status="ok", published_path=str(database_path), published_file_mtime=mtime,
                      run_id=run_id, published_at=published_at, latest_data_date=latest)

    @app.get("/analytics/agents", response_model=list[Agent], dependencies=protected, tags=["analytics"])
    def agents(conn: Conn):
        """Every agent with its workspace, department, project and owner."""
        return queries.list_agents(conn)

    @app.get("/analytics/agents/{agent_id}/resource-usage", response_model=ResourceUsage,
             dependencies=protected, tags=["analytics"])
    def resource_usage(
        conn: Conn,
        agent_id: AgentId,
        timeframe: Annotated[str, Query(max_length=16, description=(
            "window ending at midnight after the latest data day: <n>h, <n>d or <n>w, at most 366 days"))] = "7d",
        granularity: Granularity = Granularity.daily,
        resource_types: Annotated[str, Query(max_length=64, description="comma-separated: compute, tokens, api")] = "compute,tokens,api",
    ):
        """One agent's compute (executions, core-hours, GB-hours, GPU units, cost), tokens
        (calls, input/output/total tokens as the budget mart counts them, cost) and external
        API calls (calls, failures, 429s, latency, cost) per hour or day, with window totals."""
        types = queries.parse_resource_types(resource_types)
        queries.parse_timeframe(timeframe)  # 422 before the 404 lookup
        agent = queries.get_agent(conn, agent_id)
        return queries.resource_usage(conn, agent, timeframe, granularity.value, types)

    @app.get("/analytics/workspace/{workspace_id}/cost-analysis", response_model=CostAnalysis,
             dependencies=protected, tags=["analytics"])
    def cost_analysis(
        conn: Conn,
        workspace_id: WorkspaceId,
        period: Annotated[Period, Query(description="calendar period containing `as_of`, to date; all = every day in the data")] = Period.month,
        breakdown_by: Breakdown = Breakdown.agent,
        as_of: Annotated[date | None, Query(description="a day of the period (default: the latest data day)")] = None,
    ):
        """A workspace's cost in the period, broken down by agent, user, department or project
        (every dollar of the cost ledger, cloud bill shares included) or by model (usage costs
        by model, plus the cloud bill as its own line). Month: budget against direct usage cost."""
        return queries.cost_analysis(conn, workspace_id, period, breakdown_by, as_of)

    @app.post("/analytics/agents/{agent_id}/optimize-resources", response_model=OptimizeResponse,
              dependencies=protected, tags=["analytics"])
    def optimize_resources(conn: Conn, agent_id: AgentId,
                           request: Annotated[OptimizeRequest, Body()] = OptimizeRequest()):
        """The agent's recommendations from analytics.findings matching the goals and
        constraints, with its recommended allocation, rightsizing and efficiency score.
        Read-only: nothing is applied or changed."""
        agent = queries.get_agent(conn, agent_id)
        c = request.constraints
        result = queries.recommendations(
            conn, agent, [g.value for g in request.goals], c.max_effort.value if c.max_effort else None,
            c.min_monthly_saving_usd, [p.value for p in c.priorities] if c.priorities else None, c.max_results)
        return {**result, "goals": request.goals, "constraints": c, "applied": False}

    @app.get("/analytics/agents/{agent_id}/resource-forecast", response_model=ResourceForecast,
             dependencies=protected, tags=["analytics"])
    def resource_forecast(
        conn: Conn,
        agent_id: AgentId,
        horizon_days: Annotated[int, Query(ge=1, le=366, description="days after the latest data day (the forecasts cover 30 by default)")] = 30,
        include_cost_projection: bool = True,
    ):
        """Daily forecasts (mean, median, 80% and 95% intervals) of tokens, CPU core-hours,
        GPU units, API calls and storage growth from analytics.forecasts; with
        include_cost_projection the cost forecast and the monthly cost budget projection."""
        agent = queries.get_agent(conn, agent_id)
        return queries.resource_forecast(conn, agent, horizon_days, include_cost_projection)

    @app.get("/analytics/chargeback", dependencies=protected, tags=["finance"],
             responses={200: {"content": {"text/csv": {}, "application/json": {}},
                              "description": "rows of month x groups (x component): amount_usd"}})
    def chargeback(
        conn: Conn,
        fmt: Annotated[ExportFormat, Query(alias="format", description="json or csv")] = ExportFormat.json,
        group_by: Annotated[str, Query(max_length=64, description="comma-separated: workspace, department, project, agent, user")] = "department,project,user",
        month: Annotated[str | None, Query(max_length=7, description="YYYY-MM (default: every month)")] = None,
        workspace_id: Annotated[str | None, Query(max_length=128)] = None,
        by_component: Annotated[bool, Query(description="one row per cost component")] = False,
    ):
        """The finance export from marts.mart_chargeback_monthly: USD per calendar month and
        the chosen groups, as JSON or CSV. Every dollar of the ledger appears once."""
        result = queries.chargeback(conn, group_by, month, workspace_id, by_component)
        if fmt is ExportFormat.csv:
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(result.columns)
            for row in result.rows:
                writer.writerow([format_value(row[c]) for c in result.columns])
            name = f"chargeback_{month or 'all'}_{'_'.join(result.group_by)}.csv"
            return Response(out.getvalue(), media_type="text/csv",
                            headers={"Content-Disposition": f'attachment; filename="{name}"'})
        total = sum((r["amount_usd"] for r in result.rows), queries.ZERO)
        return {"group_by": result.group_by, "by_component": by_component, "month": month,
                "workspace_id": workspace_id, "currency": "USD", "total_usd": format(total, "f"),
                "columns": result.columns,
                "rows": [{c: format_value(r[c]) for c in result.columns} for r in result.rows]}

    from .dashboard import PLOTLY_JS, render_dashboard

    @app.get("/dashboard", response_class=HTMLResponse, dependencies=protected, tags=["dashboard"])
    def dashboard(conn: Conn):
        """The dashboard of the latest published run (HTML, charts drawn by plotly.js served locally)."""
        return HTMLResponse(render_dashboard(conn, database_path))

    @app.get("/dashboard/plotly.min.js", include_in_schema=False)
    def plotly_js():
        # A public library, no data: served without auth so the page works offline.
        return Response(PLOTLY_JS, media_type="application/javascript",
                        headers={"Cache-Control": "public, max-age=86400"})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon():
        return Response(status_code=204)

    return app


def open_read_only(path: Path) -> duckdb.DuckDBPyConnection:
    """A fresh read-only connection to the file at `path` now.

    `duckdb.connect(path, read_only=True)` shares one database instance per path within a
    process while any connection to it is open, so under concurrent requests the server
    could keep reading the file it first opened long after a new run replaced it. A private
    in-memory instance that ATTACHes the file READ_ONLY opens whatever the path names now."""
    conn = duckdb.connect()
    try:
        conn.execute("attach ? as published (read_only)", [str(path)])
        conn.execute("use published")
    except Exception:
        conn.close()
        raise
    return conn


def format_value(value):
    from decimal import Decimal

    return format(value, "f") if isinstance(value, Decimal) else value

"""The HTTP API (`warehouse serve`) over the published sample warehouse, through real HTTP
requests to a running uvicorn server. Every figure is re-computed here by a direct SQL
query on the marts (often a different mart than the one the endpoint reads)."""

import contextlib
import csv
import io
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from .conftest import BIN, REPO, mart_fingerprints, stop_process_group

AGENT = "agt_002"
WORKSPACE = "ws_support"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def api_server(published: str, extra_env: dict[str, str] | None = None):
    """`warehouse serve` on a free loopback port over `published`; yields its base URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "API_TOKEN"}
    env.update({"PUBLISHED_DUCKDB_PATH": published, **(extra_env or {})})
    proc = subprocess.Popen([str(BIN / "warehouse"), "serve", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"warehouse serve exited: {proc.stdout.read().decode()[-3000:]}"
            try:
                urllib.request.urlopen(base + "/health", timeout=5).read()
                break
            except OSError:
                assert time.monotonic() < deadline, "warehouse serve did not answer in 60 s"
                time.sleep(0.3)
        yield base
    finally:
        stop_process_group(proc, timeout=20)


def request(base: str, path: str, method: str = "GET", body=None, token: str | None = None):
    """(status, headers, raw body) of a real HTTP request."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def get_json(base: str, path: str, **kw):
    status, _, raw = request(base, path, **kw)
    assert status == 200, f"{path}: {status} {raw[:500]!r}"
    return json.loads(raw, parse_float=Decimal)


@pytest.fixture(scope="module")
def published(sample_warehouse) -> str:
    path = sample_warehouse["PUBLISHED_DUCKDB_PATH"]
    assert Path(path).exists(), "warehouse build did not publish the read-only copy"
    return path


@pytest.fixture(scope="module")
def server(published):
    with api_server(published) as base:
        yield base


@pytest.fixture(scope="module")
def db(published):
    def query(sql: str, params: list | None = None):
        with duckdb.connect(published, read_only=True) as conn:
            return conn.execute(sql, params or []).fetchall()
    return query


@pytest.fixture(scope="module")
def latest(db) -> date:
    return db("select max(usage_date) from marts.mart_token_budget_tracking")[0][0]


def dec(value) -> Decimal:
    return Decimal(str(value))


# ------------------------------------------------------------------ meta


def test_openapi_lists_every_endpoint(server):
    spec = get_json(server, "/openapi.json")
    paths = spec["paths"]
    assert {"/health", "/analytics/agents", "/analytics/agents/{agent_id}/resource-usage",
            "/analytics/workspace/{workspace_id}/cost-analysis", "/analytics/agents/{agent_id}/optimize-resources",
            "/analytics/agents/{agent_id}/resource-forecast", "/analytics/chargeback", "/dashboard"} <= set(paths)
    assert "post" in paths["/analytics/agents/{agent_id}/optimize-resources"]
    params = {p["name"] for p in paths["/analytics/agents/{agent_id}/resource-usage"]["get"]["parameters"]}
    assert {"agent_id", "timeframe", "granularity", "resource_types"} <= params
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    status, _, body = request(server, "/docs")
    assert status == 200 and b"swagger" in body.lower()


def test_health_reports_the_publication(server, db, latest):
    health = get_json(server, "/health")
    run_id, published_at = db("select run_id, published_at from meta.publication")[0]
    assert health["status"] == "ok"
    assert health["run_id"] == run_id
    assert health["published_at"].startswith(published_at.isoformat()[:19])
    assert health["latest_data_date"] == latest.isoformat()


def test_agents_list_is_dim_agents(server, db):
    agents = get_json(server, "/analytics/agents")
    expected = db("select agent_id, workspace_id, department, project from marts.dim_agents order by 1")
    assert [(a["agent_id"], a["workspace_id"], a["department"], a["project"]) for a in agents] == expected


# ------------------------------------------------------------------ resource usage


def test_resource_usage_daily_equals_the_marts_for_every_agent(server, db, latest):
    start = latest - timedelta(days=29)
    alloc = {(a, d): rest for a, d, *rest in db("""
        select agent_id, usage_date, executions, cpu_cost + memory_cost + gpu_cost, token_cost, api_calls, api_cost
        from marts.mart_infrastructure_cost_allocation where usage_date >= ?""", [start])}
    tokens = {(a, d): t for a, d, t in db("""
        select agent_id, usage_date, daily_total_tokens from marts.mart_token_budget_tracking where usage_date >= ?""",
                                          [start])}
    api = {(a, d): (int(f), int(r)) for a, d, f, r in db("""
        select agent_id, usage_date, sum(failed_calls), sum(rate_limited_calls) from marts.mart_api_usage_daily
        where usage_date >= ? group by all""", [start])}
    agents = [a for (a,) in db("select agent_id from marts.dim_agents order by 1")]
    checked = 0
    for agent in agents:
        usage = get_json(server, f"/analytics/agents/{agent}/resource-usage?timeframe=30d&granularity=daily")
        assert usage["latest_data_date"] == latest.isoformat()
        assert usage["window_start"] == f"{start.isoformat()}T00:00:00"
        days = [p["period_start"][:10] for p in usage["series"]]
        assert days == [(start + timedelta(days=i)).isoformat() for i in range(30)]
        for point in usage["series"]:
            day = date.fromisoformat(point["period_start"][:10])
            executions, compute_cost, token_cost, api_calls, api_cost = alloc[(agent, day)]
            assert point["compute"]["executions"] == executions
            assert dec(point["compute"]["compute_cost_usd"]) == compute_cost
            assert point["tokens"]["total_tokens"] == tokens[(agent, day)]
            assert dec(point["tokens"]["token_cost_usd"]) == token_cost
            assert point["api"]["api_calls"] == api_calls
            assert dec(point["api"]["api_cost_usd"]) == api_cost
            assert (point["api"]["failed_calls"], point["api"]["rate_limited_calls"]) == api.get((agent, day), (0, 0))
            checked += 1
        totals = usage["totals"]
        assert totals["tokens"]["total_tokens"] == sum(tokens[(agent, start + timedelta(days=i))] for i in range(30))
        assert dec(totals["compute"]["compute_cost_usd"]) == sum(alloc[(agent, start + timedelta(days=i))][1] for i in range(30))
    assert checked == 30 * len(agents) == 600


def test_resource_usage_hourly_adds_up_to_the_days(server, db, latest):
    usage = get_json(server, f"/analytics/agents/{AGENT}/resource-usage?timeframe=48h&granularity=hourly")
    assert len(usage["series"]) == 48
    by_day: dict[str, list[int]] = {}
    for p in usage["series"]:
        day = by_day.setdefault(p["period_start"][:10], [0, 0, 0])
        day[0] += p["tokens"]["total_tokens"]
        day[1] += p["compute"]["executions"]
        day[2] += p["api"]["api_calls"]
    expected = {d.isoformat(): [t, e, a] for d, t, e, a in db("""
        select t.usage_date, t.daily_total_tokens, c.executions, c.api_calls
        from marts.mart_token_budget_tracking t join marts.mart_infrastructure_cost_allocation c using (agent_id, usage_date)
        where agent_id = ? and usage_date > ?""", [AGENT, latest - timedelta(days=2)])}
    assert by_day == expected
    # The hour with the most executions, counted straight from the fact table.
    hour, n = db("""select date_trunc('hour', "timestamp"), count(*) from marts.fct_resource_utilization
                    where agent_id = ? and usage_date > ? group by 1 order by 2 desc, 1 limit 1""",
                 [AGENT, latest - timedelta(days=2)])[0]
    assert {p["period_start"]: p["compute"]["executions"] for p in usage["series"]}[hour.isoformat()] == n


def test_resource_types_select_the_blocks(server):
    usage = get_json(server, f"/analytics/agents/{AGENT}/resource-usage?timeframe=1w&resource_types=api")
    assert usage["resource_types"] == ["api"]
    assert len(usage["series"]) == 7
    assert all(p["compute"] is None and p["tokens"] is None and p["api"] is not None for p in usage["series"])


# ------------------------------------------------------------------ cost analysis

COLUMNS = {"agent": "agent_id", "user": "user_id", "department": "department", "project": "project"}


@pytest.mark.parametrize("breakdown", ["agent", "user", "department", "project"])
def test_cost_analysis_month_equals_the_chargeback_mart(server, db, latest, breakdown):
    month = latest.replace(day=1)
    for (workspace,) in db("select distinct workspace_id from marts.dim_agents"):
        result = get_json(server, f"/analytics/workspace/{workspace}/cost-analysis?period=month&breakdown_by={breakdown}")
        assert (result["period_start"], result["data_through"]) == (month.isoformat(), latest.isoformat())
        expected = {}
        for key, component, amount in db(f"""
                select {COLUMNS[breakdown]}, cost_component, sum(amount_usd) from marts.mart_chargeback_monthly
                where workspace_id = ? and billing_month = ? group by all""", [workspace, month]):
            expected.setdefault(key, {})[component] = amount
        got = {i["key"]: {c: dec(v) for c, v in i["components"].items()} for i in result["items"]}
        assert got == expected
        assert dec(result["total_cost_usd"]) == db(
            "select sum(total_cost) from marts.mart_infrastructure_cost_allocation where workspace_id = ? and usage_date >= ?",
            [workspace, month])[0][0]
        assert sum(i["share_pct"] for i in result["items"]) == pytest.approx(100)
        budget, direct = db("""
            select sum(monthly_cost_budget_usd), sum(month_to_date_cost) from marts.mart_token_budget_tracking
            where workspace_id = ? and usage_date = ?""", [workspace, latest])[0]
        assert (dec(result["budget"]["monthly_cost_budget_usd"]), dec(result["budget"]["direct_cost_usd"])) == (budget, direct)


def test_cost_analysis_by_model_keeps_the_total(server, db):
    result = get_json(server, f"/analytics/workspace/{WORKSPACE}/cost-analysis?period=all&breakdown_by=model")
    by_model = dict(db("select model, sum(total_cost) from marts.mart_daily_usage where workspace_id = ? group by 1",
                       [WORKSPACE]))
    cloud, total = db("""select sum(cloud_direct_cost + cloud_shared_cost), sum(total_cost)
                         from marts.mart_infrastructure_cost_allocation where workspace_id = ?""", [WORKSPACE])[0]
    items = {i["key"]: dec(i["total_cost_usd"]) for i in result["items"]}
    assert items.pop("(cloud bill: not attributable to a model)") == cloud
    assert items == by_model
    assert dec(result["total_cost_usd"]) == total
    assert result["budget"] is None


def test_cost_analysis_week_as_of_a_day(server, db):
    # 2026-10-21 is a Wednesday: its ISO week is Monday 10-19 .. Sunday 10-25.
    result = get_json(server, f"/analytics/workspace/{WORKSPACE}/cost-analysis?period=week&as_of=2026-10-21&breakdown_by=department")
    assert (result["period_start"], result["period_end"], result["data_through"]) == ("2026-10-19", "2026-10-25", "2026-10-25")
    (expected,) = db("""select sum(total_cost) from marts.mart_infrastructure_cost_allocation
                        where workspace_id = ? and usage_date between '2026-10-19' and '2026-10-25'""", [WORKSPACE])[0]
    assert dec(result["total_cost_usd"]) == expected


# ------------------------------------------------------------------ optimize


def test_optimize_resources_returns_the_agents_findings_and_changes_nothing(server, db, published):
    before = mart_fingerprints(Path(published))
    mtime = os.stat(published).st_mtime_ns
    agents = db("select distinct subject_id from analytics.findings where subject_type = 'agent'")
    for (agent,) in agents:
        status, _, raw = request(server, f"/analytics/agents/{agent}/optimize-resources", method="POST", body={})
        assert status == 200
        result = json.loads(raw)
        expected = {f for (f,) in db("select finding_id from analytics.findings where subject_type = 'agent' and subject_id = ?", [agent])}
        assert {r["finding_id"] for r in result["recommendations"]} == expected
        assert result["applied"] is False
        assert result["recommended_allocation"]["agent_id"] == agent
    # goals and constraints filter: waste only, low effort, at least $100/month
    status, _, raw = request(server, "/analytics/agents/agt_007/optimize-resources", method="POST",
                             body={"goals": ["reduce_waste"], "constraints": {"max_effort": "low", "min_monthly_saving_usd": 100}})
    result = json.loads(raw)
    expected = db("""select finding_id, monthly_saving_usd from analytics.findings
                     where subject_type = 'agent' and subject_id = 'agt_007' and category = 'waste'
                       and effort = 'low' and monthly_saving_usd >= 100
                     order by priority, monthly_saving_usd desc, finding_id""")
    assert expected, "the sample has an oversized allocation on agt_007"
    assert [(r["finding_id"], r["monthly_saving_usd"]) for r in result["recommendations"]] == expected
    assert result["total_monthly_saving_usd"] == pytest.approx(sum(s for _, s in expected))
    assert mart_fingerprints(Path(published)) == before
    assert os.stat(published).st_mtime_ns == mtime


# ------------------------------------------------------------------ forecast


def test_resource_forecast_equals_analytics_forecasts(server, db):
    result = get_json(server, f"/analytics/agents/{AGENT}/resource-forecast?horizon_days=10&include_cost_projection=true")
    rows = db("""select metric, forecast_date, mean, lower_80, upper_80, lower_95, upper_95
                 from analytics.forecasts where grain = 'daily' and level = 'agent' and agent_id = ? and step <= 10
                 order by metric, step""", [AGENT])
    got = [(m["metric"], date.fromisoformat(p["date"]), float(p["mean"]), float(p["lower_80"]), float(p["upper_80"]),
            float(p["lower_95"]), float(p["upper_95"]))
           for m in [*result["metrics"], result["cost_projection"]] for p in m["points"]]
    assert sorted(got) == sorted(rows)
    assert all(len(m["points"]) == 10 for m in result["metrics"])
    projections = {p["budget_type"]: float(p["projected_end_of_period"]) for p in result["budget_projections"]}
    assert projections == dict(db("select budget_type, projected_end_of_period from analytics.budget_projections where agent_id = ?", [AGENT]))

    without = get_json(server, f"/analytics/agents/{AGENT}/resource-forecast?include_cost_projection=false")
    assert without["cost_projection"] is None and without["horizon_days"] == 30
    assert "monthly_cost" not in {p["budget_type"] for p in without["budget_projections"]}


# ------------------------------------------------------------------ chargeback


def test_chargeback_json_and_csv_equal_the_mart(server, db, latest):
    month = latest.strftime("%Y-%m")
    result = get_json(server, f"/analytics/chargeback?month={month}&group_by=department,project,user")
    expected = db("""select department, project, user_id, sum(amount_usd) from marts.mart_chargeback_monthly
                     where billing_month = ? group by all order by all""", [latest.replace(day=1)])
    assert [(r["department"], r["project"], r["user_id"], dec(r["amount_usd"])) for r in result["rows"]] == expected
    assert dec(result["total_usd"]) == sum(a for *_, a in expected)

    status, headers, raw = request(server, f"/analytics/chargeback?month={month}&group_by=department,project,user&format=csv")
    assert status == 200 and headers["content-type"].startswith("text/csv")
    assert "attachment" in headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(raw.decode())))
    assert [(r["month"], r["department"], r["project"], r["user_id"], r["currency"], Decimal(r["amount_usd"])) for r in rows] == \
        [(month, d, p, u, "USD", a) for d, p, u, a in expected]

    # every month, by department and component, one workspace
    result = get_json(server, f"/analytics/chargeback?group_by=department&by_component=true&workspace_id={WORKSPACE}")
    expected = db("""select strftime(billing_month, '%Y-%m'), department, cost_component, sum(amount_usd)
                     from marts.mart_chargeback_monthly where workspace_id = ? group by all order by all""", [WORKSPACE])
    assert [(r["month"], r["department"], r["cost_component"], dec(r["amount_usd"])) for r in result["rows"]] == expected


# ------------------------------------------------------------------ errors

NOT_FOUND = [
    "/analytics/agents/agt_999/resource-usage",
    "/analytics/agents/agt_999/resource-forecast",
    "/analytics/workspace/ws_nowhere/cost-analysis",
    "/analytics/chargeback?month=2025-01",
    "/analytics/chargeback?workspace_id=ws_nowhere",
    "/analytics/workspace/ws_support/cost-analysis?as_of=2020-01-01",
]


@pytest.mark.parametrize("path", NOT_FOUND)
def test_unknown_ids_are_404_with_a_message(server, path):
    status, _, raw = request(server, path)
    assert status == 404, raw
    assert json.loads(raw)["detail"]


def test_unknown_agent_in_optimize_is_404(server):
    status, _, raw = request(server, "/analytics/agents/agt_999/optimize-resources", method="POST", body={})
    assert status == 404 and "agt_999" in json.loads(raw)["detail"]


BAD = [
    f"/analytics/agents/{AGENT}/resource-usage?timeframe=abc",
    f"/analytics/agents/{AGENT}/resource-usage?timeframe=0d",
    f"/analytics/agents/{AGENT}/resource-usage?timeframe=-7d",
    f"/analytics/agents/{AGENT}/resource-usage?timeframe=400d",
    f"/analytics/agents/{AGENT}/resource-usage?granularity=weekly",
    f"/analytics/agents/{AGENT}/resource-usage?resource_types=compute,gpu",
    f"/analytics/agents/{AGENT}/resource-usage?resource_types=",
    f"/analytics/agents/{AGENT}/resource-forecast?horizon_days=-1",
    f"/analytics/agents/{AGENT}/resource-forecast?horizon_days=0",
    f"/analytics/agents/{AGENT}/resource-forecast?horizon_days=31",
    f"/analytics/agents/{AGENT}/resource-forecast?horizon_days=ten",
    f"/analytics/agents/{AGENT}/resource-forecast?include_cost_projection=maybe",
    f"/analytics/workspace/{WORKSPACE}/cost-analysis?breakdown_by=bogus",
    f"/analytics/workspace/{WORKSPACE}/cost-analysis?period=fortnight",
    f"/analytics/workspace/{WORKSPACE}/cost-analysis?as_of=2026-13-01",
    "/analytics/chargeback?format=xml",
    "/analytics/chargeback?group_by=department,salary",
    "/analytics/chargeback?month=2026-13",
    "/analytics/chargeback?month=November",
]


@pytest.mark.parametrize("path", BAD)
def test_bad_parameters_are_422(server, path):
    status, _, raw = request(server, path)
    assert status == 422, raw
    assert json.loads(raw)["detail"]


@pytest.mark.parametrize("body", [
    {"goals": ["get_rich"]},
    {"goals": []},
    {"constraints": {"max_effort": "tiny"}},
    {"constraints": {"min_monthly_saving_usd": -5}},
    {"constraints": {"max_results": 0}},
    {"constraints": {"apply": True}},
    {"unexpected": 1},
])
def test_bad_optimize_bodies_are_422(server, body):
    status, _, raw = request(server, f"/analytics/agents/{AGENT}/optimize-resources", method="POST", body=body)
    assert status == 422, raw


# ------------------------------------------------------------------ SQL injection

INJECTIONS = ["agt_001' OR '1'='1", "x; drop table marts.dim_agents; --", "agt_001\" OR 1=1 --",
              "' UNION SELECT agent_id, agent_name, workspace_id, department, project, owner_user_id FROM marts.dim_agents --"]


def _injection_paths(payload: str) -> list[tuple[str, str]]:
    q = urllib.parse.quote(payload, safe="")
    return [
        ("GET", f"/analytics/agents/{q}/resource-usage"),
        ("GET", f"/analytics/agents/{q}/resource-forecast"),
        ("POST", f"/analytics/agents/{q}/optimize-resources"),
        ("GET", f"/analytics/workspace/{q}/cost-analysis"),
        ("GET", f"/analytics/agents/{AGENT}/resource-usage?timeframe={q}"),
        ("GET", f"/analytics/agents/{AGENT}/resource-usage?granularity={q}"),
        ("GET", f"/analytics/agents/{AGENT}/resource-usage?resource_types={q}"),
        ("GET", f"/analytics/agents/{AGENT}/resource-forecast?horizon_days={q}"),
        ("GET", f"/analytics/workspace/{WORKSPACE}/cost-analysis?period={q}"),
        ("GET", f"/analytics/workspace/{WORKSPACE}/cost-analysis?breakdown_by={q}"),
        ("GET", f"/analytics/workspace/{WORKSPACE}/cost-analysis?as_of={q}"),
        ("GET", f"/analytics/chargeback?group_by={q}"),
        ("GET", f"/analytics/chargeback?month={q}"),
        ("GET", f"/analytics/chargeback?workspace_id={q}"),
        ("GET", f"/analytics/chargeback?format={q}"),
    ]


def test_sql_injection_in_every_string_parameter_is_an_error(server, published):
    before = mart_fingerprints(Path(published))
    tried = 0
    for payload in INJECTIONS:
        for method, path in _injection_paths(payload):
            status, _, raw = request(server, path, method=method, body={} if method == "POST" else None)
            assert status in (404, 422), f"{method} {path}: {status} {raw[:300]!r}"
            body = json.loads(raw)
            assert set(body) == {"detail"}, f"{path} returned data: {raw[:300]!r}"
            tried += 1
        # ... and in the optimize body's strings
        status, _, raw = request(server, f"/analytics/agents/{AGENT}/optimize-resources", method="POST",
                                 body={"goals": [payload], "constraints": {"priorities": [payload], "max_effort": payload}})
        assert status == 422
    assert tried == 15 * len(INJECTIONS)
    assert mart_fingerprints(Path(published)) == before
    with duckdb.connect(published, read_only=True) as conn:
        assert conn.execute("select count(*) from marts.dim_agents").fetchone()[0] == 20


# ------------------------------------------------------------------ auth


def test_api_token_protects_every_endpoint(published):
    token = "s3cret-token-for-tests"
    with api_server(published, {"API_TOKEN": token}) as base:
        paths = ["/analytics/agents", f"/analytics/agents/{AGENT}/resource-usage",
                 f"/analytics/workspace/{WORKSPACE}/cost-analysis", f"/analytics/agents/{AGENT}/resource-forecast",
                 "/analytics/chargeback", "/analytics/chargeback?format=csv", "/dashboard"]
        for path in paths:
            assert request(base, path)[0] == 401, path
            assert request(base, path, token="wrong")[0] == 401, path
            status, headers, _ = request(base, path, token=token)
            assert status == 200, path
        status, headers, _ = request(base, "/analytics/agents")
        assert headers.get("www-authenticate") == "Bearer"
        opt = f"/analytics/agents/{AGENT}/optimize-resources"
        assert request(base, opt, method="POST", body={})[0] == 401
        assert request(base, opt, method="POST", body={}, token=token)[0] == 200
        # unknown ids are not revealed before authentication
        assert request(base, "/analytics/agents/agt_999/resource-usage")[0] == 401
        assert request(base, "/health")[0] == 200


# ------------------------------------------------------------------ republishing


def test_a_new_publication_is_served_on_the_next_request_even_while_the_old_file_is_open(published, tmp_path):
    """The pipeline replaces the published file by rename. A reader in the server's own
    process still holding the old file (here: a plain duckdb connection) must not pin the
    API to it: the next request reads the new file."""
    import shutil

    from fastapi.testclient import TestClient

    from orchestration.serving import create_app

    served = tmp_path / "published" / "warehouse.duckdb"
    served.parent.mkdir()
    shutil.copy(published, served)
    next_run = tmp_path / "published" / ".next.duckdb"
    shutil.copy(published, next_run)
    os.chmod(next_run, 0o644)
    with duckdb.connect(str(next_run)) as conn:  # the "next run": one agent fewer, another run id
        conn.execute("update meta.publication set run_id = 'next-run'")
        conn.execute("delete from marts.dim_agents where agent_id = 'agt_020'")

    client = TestClient(create_app(served))
    old_reader = duckdb.connect(str(served), read_only=True)
    try:
        before = client.get("/health").json()["run_id"]
        assert len(client.get("/analytics/agents").json()) == 20
        os.replace(next_run, served)
        assert old_reader.execute("select count(*) from marts.dim_agents").fetchone()[0] == 20  # still the old file
        assert client.get("/health").json()["run_id"] == "next-run" != before
        assert len(client.get("/analytics/agents").json()) == 19
        assert client.get("/analytics/agents/agt_020/resource-usage").status_code == 404
    finally:
        old_reader.close()

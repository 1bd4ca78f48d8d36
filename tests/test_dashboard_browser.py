"""Headless Debian chromium (driven by Playwright, never `playwright install`) loads the
dashboard from a real `warehouse serve` over the published sample warehouse, and the
Dagster UI's asset graph from a real `dagster dev`; both pages are checked against the
warehouse / definitions and saved as screenshots in test-artifacts/."""

import contextlib
import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path

import duckdb
from playwright.sync_api import sync_playwright

from .conftest import BIN, REPO, stop_process_group
from .test_api import api_server, free_port

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = REPO / "test-artifacts"
PANELS = ["gauges", "burndown", "forecast", "heatmap", "api", "waste", "recommendations", "alerts"]


@contextlib.contextmanager
def chromium_page(profile: Path, width: int = 1600, height: int = 1000):
    """A page in a fresh chromium profile; page errors are collected on page.errors."""
    assert Path(CHROMIUM).exists(), "chromium is not installed (apt-get install chromium chromium-driver)"
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=FLAGS,
            viewport={"width": width, "height": height})
        try:
            page = context.new_page()
            page.errors = []
            page.on("pageerror", lambda e: page.errors.append(str(e)))
            yield page
        finally:
            context.close()


def _money(value) -> str:
    return f"${value:,.2f}"


def test_dashboard_renders_the_warehouse_in_chromium(sample_warehouse, tmp_path):
    published = sample_warehouse["PUBLISHED_DUCKDB_PATH"]
    assert Path(published).exists(), "warehouse build did not publish the read-only copy"
    with duckdb.connect(published, read_only=True) as conn:
        agents = [a for (a,) in conn.execute("select agent_id from marts.dim_agents order by 1").fetchall()]
        workspaces = conn.execute("select count(distinct workspace_id) from marts.dim_agents").fetchone()[0]
        # figures from other marts than the page reads, where the warehouse has them twice
        total = conn.execute("select sum(amount_usd) from marts.mart_chargeback_monthly").fetchone()[0]
        latest = conn.execute("select max(usage_date) from marts.fct_resource_utilization").fetchone()[0]
        month_spent = conn.execute("select sum(month_to_date_cost) from marts.mart_token_budget_tracking "
                                   "where usage_date = ?", [latest]).fetchone()[0]
        api_calls, api_failed = conn.execute(
            "select count(*), count(*) filter (where not is_success) from marts.fct_api_calls").fetchone()
        active_alerts = conn.execute("""
            select count(*) from analytics.alerts
            where (rule in ('daily_token_budget', 'cpu_utilization') and period = strftime(?, '%Y-%m-%d'))
               or (rule in ('monthly_token_budget', 'monthly_cost_budget') and period = strftime(?, '%Y-%m'))
               or rule like 'forecast_budget_breach:%'""", [latest, latest]).fetchone()[0]
        waste = conn.execute("select monthly_waste_usd from analytics.waste_summary where kind = 'total'").fetchone()[0]

    with api_server(published) as base, chromium_page(tmp_path / "profile") as page:
        response = page.goto(base + "/dashboard")
        assert response.status == 200
        for panel in PANELS:  # plotly has drawn an SVG chart in every panel
            page.locator(f"#panel-{panel} .js-plotly-plot .main-svg").first.wait_for(timeout=60_000)
        assert page.locator("section.panel").count() == len(PANELS)

        body = page.locator("body")
        assert int(body.get_attribute("data-agent-count")) == len(agents)
        assert page.locator("#kpi-agents").inner_text() == str(len(agents))
        assert page.locator("#kpi-workspaces").inner_text() == str(workspaces)
        assert body.get_attribute("data-latest-date") == latest.isoformat()
        assert page.locator("#kpi-total-cost").inner_text() == _money(total)

        # heatmap: one rendered row label per agent, in the mart's agents
        labels = page.locator("#chart-heatmap .ytick text").all_text_contents()
        assert sorted(label.split()[0] for label in labels) == agents

        titles = " | ".join(page.locator(".js-plotly-plot .gtitle").all_text_contents())
        assert f"{_money(month_spent)} spent to {latest}" in titles  # burndown
        assert f"{api_calls:,} calls, {api_failed:,} failed" in titles  # API timeline
        assert f"Waste: {_money(waste)} per month" in titles
        assert f"Active alerts on {latest}: {active_alerts}" in titles
        assert page.locator("#alerts-table tbody tr").count() == active_alerts
        # the forecast fan draws the 80% and 95% bands for tokens and cost
        assert page.locator("#panel-forecast .legendtext", has_text="95% interval").count() == 2
        assert page.locator("#panel-forecast .legendtext", has_text="80% interval").count() == 2
        assert page.locator("#chart-gauges .indicatorlayer .trace").count() == 5
        assert page.errors == []

        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 50_000


def _asset_nodes(base: str) -> dict[str, dict]:
    """Every asset the server knows, by key, with its group and neighbours (GraphQL API)."""
    query = "{ assetNodes { assetKey { path } groupName dependencyKeys { path } dependedByKeys { path } } }"
    req = urllib.request.Request(base + "/graphql", data=json.dumps({"query": query}).encode(),
                                 headers={"Content-Type": "application/json"})
    nodes = json.load(urllib.request.urlopen(req, timeout=60))["data"]["assetNodes"]
    return {"/".join(n["assetKey"]["path"]): n for n in nodes}


def test_dagster_ui_asset_graph_in_chromium(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").touch()
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "DUCKDB_PATH": str(tmp_path / "w.duckdb"),
           "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    # own process group, INT/TERM restored, so the whole tree can be stopped
    proc = subprocess.Popen(
        ["env", "--default-signal=INT,TERM", str(BIN / "dagster"), "dev", "-w", "workspace.yaml",
         "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        # the webserver answers before the code location has loaded: wait for the assets
        nodes, deadline = {}, time.monotonic() + 300
        while not nodes:
            assert proc.poll() is None, "dagster dev exited early"
            assert time.monotonic() < deadline, "dagster dev did not serve the asset graph in time"
            time.sleep(2)
            try:
                nodes = _asset_nodes(base)
            except (OSError, KeyError, TypeError, ValueError):
                continue
        target = nodes["marts/mart_daily_usage"]
        assert target["groupName"] == "marts"
        neighbours = {k["path"][-1] for k in target["dependencyKeys"] + target["dependedByKeys"]}
        assert len(neighbours) >= 5
        with chromium_page(tmp_path / "profile", height=1300) as page:
            # the asset's lineage graph: mart_daily_usage centred among its upstream and downstream assets
            page.goto(f"{base}/assets/marts/mart_daily_usage?view=lineage")
            graph = page.locator("svg foreignObject")  # asset nodes are HTML inside the graph's SVG
            try:
                graph.get_by_text("mart_daily_usage", exact=True).first.wait_for(timeout=180_000)
            except Exception:
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / "dagster_asset_graph_failed.png"))
                raise
            skip = page.get_by_role("button", name="Skip")  # first-visit newsletter dialog
            with contextlib.suppress(Exception):
                skip.wait_for(timeout=5_000)
                skip.click()
            page.wait_for_timeout(1500)  # let the edges finish drawing
            # the nodes drawn around it are its neighbours in the definitions (long names are
            # shortened on screen, so not every one matches in full)
            drawn = {n for n in neighbours if graph.get_by_text(n, exact=True).count()}
            assert len(drawn) >= 3, (drawn, neighbours)
            assert graph.count() >= len(drawn) + 1
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "dagster_asset_graph.png"))
        assert (ARTIFACTS / "dagster_asset_graph.png").stat().st_size > 20_000
    finally:
        stop_process_group(proc, timeout=30)

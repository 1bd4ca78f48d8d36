"""`dagster dev` on workspace.yaml serves the whole asset graph (asked over its GraphQL API)."""

import json
import os
import socket
import subprocess
import time
import urllib.request

from .conftest import BIN, REPO, stop_process_group

QUERY = '{ assetNodes { assetKey { path } groupName } }'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dagster_dev_shows_the_whole_asset_graph(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").touch()
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "DUCKDB_PATH": str(tmp_path / "w.duckdb"),
           "PUBLISHED_DUCKDB_PATH": str(tmp_path / "published" / "w.duckdb"),
           "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    # started in its own process group, with INT/TERM restored so it can be stopped
    proc = subprocess.Popen(
        ["env", "--default-signal=INT,TERM", str(BIN / "dagster"), "dev", "-w", "workspace.yaml",
         "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        nodes, deadline = None, time.monotonic() + 150
        while time.monotonic() < deadline and nodes is None:
            time.sleep(2)
            assert proc.poll() is None, "dagster dev exited early"
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": QUERY}).encode(),
                    headers={"Content-Type": "application/json"})
                body = json.load(urllib.request.urlopen(request, timeout=10))
                nodes = body["data"]["assetNodes"] or None
            except (OSError, KeyError, TypeError, ValueError):
                continue
        assert nodes, "dagster dev did not serve the asset graph in time"
        keys = {"/".join(n["assetKey"]["path"]): n["groupName"] for n in nodes}
        assert keys["raw/executions"] == "raw"
        assert keys["marts/mart_token_budget_tracking"] == "marts"
        assert keys["reference/compute_rate_card"] == "reference"
        assert {"raw", "reference", "staging", "intermediate", "marts", "analytics", "forecasting", "alerts",
                "publish"} == set(keys.values())
    finally:
        stop_process_group(proc, timeout=30)

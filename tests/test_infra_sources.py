"""Infrastructure sources (issue 3): FOCUS cloud bills, nvidia-smi GPU telemetry, container
samples. Hand-made files checked row by row after load and through dbt; the real FOCUS 1.0
sample loaded completely with its BilledCost sum exact; the shipped sample's planted facts.
Expected figures are computed here from the files, not read back from the warehouse."""

import csv
import importlib.util
import json
from datetime import date, datetime, timezone
from decimal import Decimal as D
from pathlib import Path

import duckdb
import pytest

from orchestration.pricing.catalog import build_price_catalog, write_price_catalog
from orchestration.ingest.loader import conservation_violations, ensure_raw_schema, load_file
from orchestration.ingest.sources import SOURCES

from .conftest import BIN, REPO, copy_dbt_project, run

NOW = datetime(2026, 11, 24, tzinfo=timezone.utc)
REAL_FOCUS = REPO.parent / "shared" / "real-data" / "focus_sample" / "focus_sample.csv"
SAMPLE = REPO / "data" / "raw"

FOCUS_HEADER = ("Id,BilledCost,EffectiveCost,ListCost,BillingCurrency,BillingPeriodStart,BillingPeriodEnd,"
                "ChargePeriodStart,ChargePeriodEnd,ChargeCategory,ServiceName,ServiceCategory,ResourceId,"
                "ProviderName,RegionId,ConsumedQuantity,ConsumedUnit,Tags")
FOCUS_ROWS = [
    # 2: agent-tagged compute, 11 decimals kept exactly
    'L1,0.12345678901,0.10000000000,0.20000000000,USD,2026-11-01 00:00:00,2026-12-01 00:00:00,'
    '2026-11-10 00:00:00,2026-11-11 00:00:00,Usage,Amazon EC2,Compute,i-1,AWS,us-east-1,24.000000000000000,Hours,'
    '"{""workspace"": ""ws_a"", ""agent_id"": ""agt_a""}"',
    # 3: workspace-only storage via a prefixed, capitalised key; NULL literals
    'L2,1.5,NULL,NULL,usd,2026-11-01 00:00:00,2026-12-01 00:00:00,2026-11-10 00:00:00,2026-11-11 00:00:00,'
    'Usage,Amazon EBS,Storage,NULL,AWS,NULL,NULL,NULL,"{""user:Workspace"": ""ws_b""}"',
    # 4: untagged NAT gateway: shared, kept
    'L3,0.045,0.045,0.045,USD,2026-11-01 00:00:00,2026-12-01 00:00:00,2026-11-10 00:00:00,2026-11-11 00:00:00,'
    'Usage,Amazon VPC,Networking,nat-1,AWS,us-east-1,1,Hours,NULL',
    # 5: a credit (negative) tagged only with an agent: workspace from the agents seed
    'L4,-2.5,-2.5,0,USD,2026-11-01 00:00:00,2026-12-01 00:00:00,2026-11-10 00:00:00,2026-11-11 00:00:00,'
    'Credit,Amazon EC2,Compute,NULL,AWS,NULL,NULL,NULL,"{""agent"": ""agt_b""}"',
    # 6: rejected: 13 decimals
    'L5,0.0000000000001,0,0,USD,2026-11-01 00:00:00,2026-12-01 00:00:00,2026-11-10 00:00:00,2026-11-11 00:00:00,'
    'Usage,S3,Storage,b,AWS,us-east-1,1,GB,NULL',
    # 7: rejected: charge period ends before it starts
    'L6,1,1,1,USD,2026-11-01 00:00:00,2026-12-01 00:00:00,2026-11-11 00:00:00,2026-11-10 00:00:00,'
    'Usage,S3,Storage,b,AWS,us-east-1,1,GB,NULL',
    # 8: rejected: Tags is a JSON array
    'L7,1,1,1,USD,2026-11-01 00:00:00,2026-12-01 00:00:00,2026-11-10 00:00:00,2026-11-11 00:00:00,'
    'Usage,S3,Storage,b,AWS,us-east-1,1,GB,"[""workspace""]"',
]

GPU_CSV = (
    "timestamp, index, name, uuid, utilization.gpu [%], utilization.memory [%], memory.used [MiB], "
    "memory.total [MiB], power.draw [W]\n"
    "2026/11/10 09:00:00.000, 0, NVIDIA A100-SXM4-80GB, GPU-aaaa, 3 %, 1 %, 1234 MiB, 81920 MiB, 61.23 W\n"
    "2026/11/10 09:00:00.000, 1, NVIDIA A100-SXM4-80GB, GPU-bbbb, 70 %, 30 %, 40000 MiB, 81920 MiB, [N/A]\n"
    "2026/11/10 09:05:00.000, 0, NVIDIA A100-SXM4-80GB, GPU-aaaa, 5 %, [N/A], 1300 MiB, 81920 MiB, 62.00 W\n"
    "2026/11/10 09:05:00.000, 1, NVIDIA A100-SXM4-80GB, GPU-bbbb, 101 %, 30 %, 40000 MiB, 81920 MiB, 300.00 W\n"
    "2026/11/10 09:10:00.000, 1, NVIDIA A100-SXM4-80GB, GPU-bbbb, 68 %, 30 %, 90000 MiB, 81920 MiB, 300.00 W\n"
)
# the same format in a per-host folder: host from the folder
GPU_CSV_HOST_DIR = (
    "timestamp, index, name, uuid, utilization.gpu [%], utilization.memory [%], memory.used [MiB], "
    "memory.total [MiB], power.draw [W]\n"
    "2026/11/10 09:00:00.000, 0, NVIDIA L4, GPU-cccc, 50 %, 20 %, 100 MiB, 23034 MiB, [Not Supported]\n"
)

CONTAINER_CSV = (
    "timestamp,component,container,cpu_usage_cores,cpu_request_cores,memory_working_set_bytes,memory_request_bytes\n"
    "2026-11-10T09:00:00Z,api_layer,api-gateway,0.5,2,805306368,1073741824\n"
    "2026-11-10T11:00:00+02:00,data_layer,postgres,1.5,,1048576,\n"
    "2026-11-10T09:05:00Z,core_services,agent-runtime,-0.1,4,1,1\n"
    "2026-11-10T09:05:00Z,core_services,agent-runtime,NaN,4,1,1\n"
)


def _load(database: Path, raw: Path) -> dict:
    reports = {}
    with duckdb.connect(str(database)) as conn:
        ensure_raw_schema(conn)
        write_price_catalog(conn, build_price_catalog())  # what the raw/model_price_catalog asset writes
        for name in ("focus", "gpu_metrics", "container_metrics"):
            for path in sorted((raw / name).rglob("*.csv")):
                reports[path.relative_to(raw).as_posix()] = load_file(conn, SOURCES[name], path, raw, now=NOW)
            assert conservation_violations(conn, name) == []
    return reports


@pytest.fixture(scope="module")
def hand_made(tmp_path_factory):
    root = tmp_path_factory.mktemp("infra")
    raw = root / "raw"
    (raw / "focus").mkdir(parents=True)
    (raw / "focus" / "bill_2026-11-10.csv").write_text(FOCUS_HEADER + "\n" + "\n".join(FOCUS_ROWS) + "\n")
    (raw / "gpu_metrics" / "gpu-box-7").mkdir(parents=True)
    (raw / "gpu_metrics" / "gpu-node-01_2026-11-10.csv").write_text(GPU_CSV)
    (raw / "gpu_metrics" / "gpu-box-7" / "nvidia-smi_2026-11-10.csv").write_text(GPU_CSV_HOST_DIR)
    (raw / "container_metrics").mkdir()
    (raw / "container_metrics" / "prom_2026-11-10.csv").write_text(CONTAINER_CSV)
    database = root / "warehouse.duckdb"
    reports = _load(database, raw)

    seeds = root / "seeds"
    seeds.mkdir()
    (seeds / "agents.csv").write_text(
        "agent_id,agent_name,workspace_id,owner_user_id,department,project,compute_tier,allocated_cpu_cores,"
        "allocated_memory_mb,allocated_gpus,primary_model,provider,created_at\n"
        "agt_a,a,ws_a,u1,eng,p,standard,2.0,4096,1,gpt-4o-mini,openai,2026-01-01\n"
        "agt_b,b,ws_c,u1,eng,p,standard,2.0,4096,1,gpt-4o-mini,openai,2026-01-01\n")
    (seeds / "budgets.csv").write_text(
        "workspace_id,agent_id,daily_token_budget,monthly_token_budget,monthly_cost_budget_usd\n"
        "ws_a,agt_a,1000,30000,10.00\nws_c,agt_b,1000,30000,10.00\n")
    # GPU 0 of gpu-node-01 by uuid at $3.60/h; GPU 1 by host + index at the rate card's price
    (seeds / "gpu_assignments.csv").write_text(
        "host,gpu_index,gpu_uuid,agent_id,workspace_id,usd_per_gpu_hour,assigned_from,assigned_to\n"
        "gpu-node-01,0,GPU-aaaa,agt_a,ws_a,3.60,,\n"
        "gpu-node-01,1,,agt_b,ws_c,,,\n")
    project = copy_dbt_project(root, seeds_from=seeds)
    # the whole project (the other sources' raw tables exist, empty), as the build runs it
    run([str(BIN / "dbt"), "build", "--profiles-dir", "."], env={"DUCKDB_PATH": str(database)}, cwd=project)
    with duckdb.connect(str(database), read_only=True) as conn:
        yield conn, reports


def test_focus_rows_land_typed_and_bad_ones_are_rejected_with_reasons(hand_made):
    conn, reports = hand_made
    report = reports["focus/bill_2026-11-10.csv"]
    assert (report.rows_read, report.rows_kept, report.rows_rejected) == (7, 4, 3)
    rows = conn.execute(
        "select line_id, billed_cost, effective_cost, list_cost, billing_currency, billing_period_end, "
        "resource_id, consumed_quantity, tags from raw.focus order by _line_number").fetchall()
    assert rows[0] == ("L1", D("0.12345678901"), D("0.1"), D("0.2"), "USD", datetime(2026, 12, 1), "i-1", D(24),
                       '{"agent_id":"agt_a","workspace":"ws_a"}')
    assert rows[1][2:4] == (None, None) and rows[1][6] is None and rows[1][4] == "usd"
    assert rows[2][8] is None and rows[3][1] == D("-2.5")
    reasons = conn.execute("select line_number, reason from raw.rejects where source = 'focus' order by 1").fetchall()
    assert reasons == [
        (6, "billed_cost: 1E-13 has more than 12 decimals (DECIMAL(38,12))"),
        (7, "ChargePeriodEnd before ChargePeriodStart"),
        (8, "Tags is not a JSON object"),
    ]
    assert conn.execute("select data_type from information_schema.columns where table_schema = 'raw' "
                        "and table_name = 'focus' and column_name = 'billed_cost'").fetchone() == ("DECIMAL(38,12)",)


def test_cloud_costs_carry_tags_as_workspace_and_agent_and_keep_untagged_lines(hand_made):
    conn, _ = hand_made
    rows = conn.execute(
        "select cost_line_id, billed_cost, billing_currency, workspace_id, agent_id, allocation_level, usage_date "
        "from marts.fct_cloud_costs order by 1").fetchall()
    assert rows == [
        ("L1", D("0.12345678901"), "USD", "ws_a", "agt_a", "agent", date(2026, 11, 10)),
        ("L2", D("1.5"), "USD", "ws_b", None, "workspace", date(2026, 11, 10)),
        ("L3", D("0.045"), "USD", None, None, "shared", date(2026, 11, 10)),
        ("L4", D("-2.5"), "USD", "ws_c", "agt_b", "agent", date(2026, 11, 10)),
    ]
    assert conn.execute("select sum(billed_cost) from marts.fct_cloud_costs").fetchone()[0] == \
        D("0.12345678901") + D("1.5") + D("0.045") - D("2.5")


def test_gpu_readings_strip_units_null_na_and_reject_out_of_range(hand_made):
    conn, reports = hand_made
    report = reports["gpu_metrics/gpu-node-01_2026-11-10.csv"]
    assert (report.rows_read, report.rows_kept, report.rows_rejected) == (5, 3, 2)
    rows = conn.execute(
        "select sampled_at, gpu_index, gpu_uuid, utilization_gpu_pct, utilization_memory_pct, memory_used_mib, "
        "memory_total_mib, power_draw_w from raw.gpu_metrics where _source_file like 'gpu_metrics/gpu-node%' "
        "order by _line_number").fetchall()
    assert rows == [
        (datetime(2026, 11, 10, 9), 0, "GPU-aaaa", 3.0, 1.0, 1234.0, 81920.0, 61.23),
        (datetime(2026, 11, 10, 9), 1, "GPU-bbbb", 70.0, 30.0, 40000.0, 81920.0, None),
        (datetime(2026, 11, 10, 9, 5), 0, "GPU-aaaa", 5.0, None, 1300.0, 81920.0, 62.0),
    ]
    reasons = conn.execute("select line_number, reason from raw.rejects where source = 'gpu_metrics' order by 1").fetchall()
    assert reasons == [(5, "utilization_gpu_pct: 101 is above the maximum 100"), (6, "memory.used > memory.total")]


def test_gpu_samples_get_host_agent_and_interval_cost(hand_made):
    conn, _ = hand_made
    rows = conn.execute(
        "select host, gpu_index, sampled_at, agent_id, workspace_id, interval_seconds, interval_cost_usd, power_draw_w "
        "from marts.fct_gpu_samples order by host, gpu_index, sampled_at").fetchall()
    assert rows == [
        # no assignment for the L4 in gpu-box-7/; read once: no interval
        ("gpu-box-7", 0, datetime(2026, 11, 10, 9), None, None, None, None, None),
        # 300 s at $3.60/h = $0.30, the last reading takes the interval before it
        ("gpu-node-01", 0, datetime(2026, 11, 10, 9), "agt_a", "ws_a", 300, D("0.3"), 61.23),
        ("gpu-node-01", 0, datetime(2026, 11, 10, 9, 5), "agt_a", "ws_a", 300, D("0.3"), 62.0),
        # read once (the other readings were rejected): no interval, no cost
        ("gpu-node-01", 1, datetime(2026, 11, 10, 9), "agt_b", "ws_c", None, None, None),
    ]
    columns = [c for (c,) in conn.execute(
        "select column_name from information_schema.columns where table_schema = 'marts' "
        "and table_name = 'fct_gpu_samples' order by ordinal_position").fetchall()]
    assert columns[:10] == ["sampled_at", "host", "gpu_index", "gpu_uuid", "gpu_name", "utilization_gpu_pct",
                            "utilization_memory_pct", "memory_used_mib", "memory_total_mib", "power_draw_w"]


def test_container_samples_convert_units_and_compute_efficiency(hand_made):
    conn, reports = hand_made
    report = reports["container_metrics/prom_2026-11-10.csv"]
    assert (report.rows_read, report.rows_kept, report.rows_rejected) == (4, 2, 2)
    assert [r for (r,) in conn.execute(
        "select reason from raw.rejects where source = 'container_metrics' order by line_number").fetchall()] == [
        "cpu_cores_used: -0.1 is below the minimum 0", "cpu_cores_used: required field cpu_usage_cores is missing"]
    rows = conn.execute(
        "select sampled_at, component, container, cpu_cores_used, cpu_cores_requested, memory_used_mib, "
        "memory_requested_mib, cpu_efficiency, memory_efficiency from marts.fct_container_samples order by 2").fetchall()
    assert rows == [
        (datetime(2026, 11, 10, 9), "api_layer", "api-gateway", 0.5, 2.0, 768.0, 1024.0, 0.25, 0.75),
        (datetime(2026, 11, 10, 9), "data_layer", "postgres", 1.5, None, 1.0, None, None, None),
    ]


# ---------------------------------------------------------------- the real FOCUS 1.0 sample


def test_real_focus_sample_lands_completely_with_billed_cost_exact(tmp_path):
    with REAL_FOCUS.open(newline="", encoding="utf-8") as f:
        records = list(csv.DictReader(f))
    expected_sum = sum((D(r["BilledCost"]) for r in records), D(0))
    assert len(records) == 1000
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as conn:
        ensure_raw_schema(conn)
        report = load_file(conn, SOURCES["focus"], REAL_FOCUS, REAL_FOCUS.parent, now=NOW)
        # every row lands: the 2024 sample is all well-formed (no reject to explain)
        assert (report.rows_read, report.rows_kept, report.rows_rejected) == (1000, 1000, 0)
        assert conn.execute("select count(*) from raw.rejects").fetchone()[0] == 0
        total, count, ids = conn.execute("select sum(billed_cost), count(*), count(distinct line_id) from raw.focus").fetchone()
        assert (total, count, ids) == (expected_sum, 1000, 1000)
        # the literal NULL string is null, never the text 'NULL'
        nulls = conn.execute("select count(*) filter (where resource_id is null), count(*) filter (where tags is null), "
                             "count(*) filter (where region_id = 'NULL') from raw.focus").fetchone()
        assert nulls == (sum(r["ResourceId"] == "NULL" for r in records), sum(r["Tags"] == "NULL" for r in records), 0)
        # each line's cost, exactly
        by_id = dict(conn.execute("select line_id, billed_cost from raw.focus").fetchall())
        assert all(by_id[r["Id"]] == D(r["BilledCost"]) for r in records)


# ---------------------------------------------------------------- the shipped sample


def _rows(folder: str):
    for path in sorted((SAMPLE / folder).rglob("*.csv")):
        with path.open(newline="") as f:
            yield from csv.DictReader(f, skipinitialspace=True)


def test_shipped_sample_infra_marts_match_the_files_and_the_planted_facts(sample_warehouse):
    truth = json.loads((REPO / "data" / "sample_truth.json").read_text())["infrastructure"]
    focus = list(_rows("focus"))
    gpu = list(_rows("gpu_metrics"))
    containers = list(_rows("container_metrics"))
    untagged = [r for r in focus if r["Tags"] == "NULL" or not {"workspace", "agent_id"} & set(json.loads(r["Tags"]))]
    assigned = {r["gpu_uuid"]: r["agent_id"] for r in csv.DictReader((REPO / "dbt_project" / "seeds" / "gpu_assignments.csv").open())}
    util = {}
    for r in gpu:
        util.setdefault(assigned[r["uuid"]], []).append(int(r["utilization.gpu [%]"].rstrip(" %")))
    with duckdb.connect(sample_warehouse["DUCKDB_PATH"], read_only=True) as conn:
        one = lambda sql: conn.execute(sql).fetchone()  # noqa: E731
        assert one("select count(*) from raw.rejects where source in ('focus', 'gpu_metrics', 'container_metrics')") == (0,)
        assert one("select count(*), sum(billed_cost) from marts.fct_cloud_costs") == \
            (len(focus), sum((D(r["BilledCost"]) for r in focus), D(0)))
        assert one("select count(*), sum(billed_cost) from marts.fct_cloud_costs where allocation_level = 'shared'") == \
            (len(untagged), sum((D(r["BilledCost"]) for r in untagged), D(0)))
        assert len(untagged) == truth["untagged_shared_lines"]["lines"] > 0
        assert one("select count(*) from marts.fct_gpu_samples") == (len(gpu),)
        assert one("select count(*) from marts.fct_gpu_samples where agent_id is null") == (0,)
        measured = dict(conn.execute("select agent_id, avg(utilization_gpu_pct) from marts.fct_gpu_samples group by 1").fetchall())
        assert measured == pytest.approx({a: sum(v) / len(v) for a, v in util.items()})
        idle = [a for a, u in measured.items() if u < 10]
        assert idle == truth["idle_gpu_agents"] == ["agt_009"]
        assert all(2 <= min(util[a]) and max(util[a]) <= 6 for a in idle)
        assert all(60 <= u <= 75 for a, u in measured.items() if a not in idle)
        assert one("select count(*) from marts.fct_container_samples") == (len(containers),)
        assert {c for (c,) in conn.execute("select distinct component from marts.fct_container_samples").fetchall()} == \
            {"api_layer", "core_services", "data_layer"}


def test_generator_writes_the_shipped_gpu_assignments_seed(tmp_path):
    spec = importlib.util.spec_from_file_location("generate_infra", REPO / "data" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.generate(tmp_path / "raw", tmp_path / "seeds", date(2026, 10, 15), 30, 20, 300, 42, progress=False)
    seed = REPO / "dbt_project" / "seeds" / "gpu_assignments.csv"
    assert (tmp_path / "seeds" / "gpu_assignments.csv").read_bytes() == seed.read_bytes()
    assert sum(f.stat().st_size for f in (SAMPLE / "gpu_metrics").iterdir()) < 2_000_000

"""Incremental builds by event day: the sample built in chunks of days through `warehouse
build` (the Dagster job, which passes each run's partition range to dbt), with late and
re-delivered data landing in the last one-day run, gives byte-identical marts to a full
rebuild from scratch of the same final export files; and the one-day run rewrote only the
days it had to (in the monthly API mart, only the month holding them). A last one-day run
then brings November's month-to-date cloud bill: it books the bill's shares on every day of
the month but replaces the usage rows only of the days whose usage changed.

Late data, all in files dated LATE_DAY (so the one-day run loads them):
  - gateway calls of LATE_DAY-1 and -2 (inside the 3-day lookback), in existing queries;
  - a call of LATE_DAY-6 (outside the lookback, caught because its file is in the run);
  - a re-delivered call whose new copy wins (its file name sorts first) and moves a day back,
    and one from LATE_DAY-10 whose winning copy moves into the window;
  - a re-delivered call that loses (file sorts last): nothing may change;
  - a late execution (2 days late) and a late API call of an execution 8 days old, whose
    execution's API cost must change on that old day; plus a duplicate API call that loses;
  - a call re-delivered for another query: the query it leaves started the day before (it
    spanned midnight) and must lose it there too;
  - a GPU that stopped reporting after STOPPED_DAY (gpu-node-01's files of the days after
    it are absent) and resumes: LATE_DAY-1's readings in a file of its own. Its last
    reading before the gap stood for the 10 minutes since the one before; it now runs to
    the next reading, three days later, capped at an hour, so STOPPED_DAY's GPU telemetry
    changes, far outside the lookback.
"""

import csv
import io
import json
import os
import shutil
import subprocess
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from .conftest import BIN, REPO, mart_fingerprints, run, warehouse_env

FIRST_DAY = date(2026, 10, 15)
LATE_DAY = date(2026, 11, 12)  # no cloud bill is delivered that day
BILL_DAY = date(2026, 11, 13)  # its files include focus_2026-11-13.csv: November's bill to date, restated
CHUNKS = [(FIRST_DAY, date(2026, 11, 3)), (date(2026, 11, 4), LATE_DAY - timedelta(days=1)), (LATE_DAY, LATE_DAY),
          (BILL_DAY, BILL_DAY)]
LOOKBACK = 3
CLOUD_ONLY_DAY = "2026-11-05"  # in the bill, outside the bill-day run's window: only its cloud shares change
SPAN_DAY = date(2026, 11, 2)  # a query of the day before gets a call on this day, later re-delivered for another query
STOPPED_HOST, STOPPED_DAY = "gpu-node-01", date(2026, 11, 7)  # its one GPU (agt_004's) is silent after this day


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _shift(ts: str, days: int) -> str:
    moved = datetime.fromisoformat(ts.replace("Z", "+00:00")) + timedelta(days=days)
    return moved.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _day(n: int) -> str:
    return (LATE_DAY - timedelta(days=n)).isoformat()


def add_spanning_call(raw: Path) -> dict:
    """Before the first run: a call on SPAN_DAY of a query that started the day before (the
    query spans midnight), in a file of its own."""
    template = next(c for c in _jsonl(next((raw / "llm_calls").glob(f"*{SPAN_DAY - timedelta(days=1)}*.jsonl")))
                    if c.get("query_id") and c.get("execution_id"))
    call = {**template, "call_id": "span_" + template["call_id"], "started_at": _shift(template["started_at"], 1),
            "completed_at": _shift(template["completed_at"], 1)}
    (raw / "llm_calls" / f"zz-span_{SPAN_DAY}.jsonl").write_text(json.dumps(call) + "\n")
    return call


def stop_gpu(raw: Path, held: Path) -> None:
    """Before the first run: STOPPED_HOST's files of the days after STOPPED_DAY up to LATE_DAY
    are set aside (the node was down)."""
    (held / "gpu_stopped").mkdir(parents=True)
    for n in range(1, (LATE_DAY - STOPPED_DAY).days + 1):
        day = STOPPED_DAY + timedelta(days=n)
        path = raw / "gpu_metrics" / f"{STOPPED_HOST}_{day}.csv"
        path.rename(held / "gpu_stopped" / path.name)


def resume_gpu(raw: Path, held: Path) -> None:
    """In the LATE_DAY run: the node's readings of LATE_DAY-1, in a file of its own (a
    folder named after the host: nvidia-smi has no host column)."""
    folder = raw / "gpu_metrics" / STOPPED_HOST
    folder.mkdir()
    (folder / f"resumed_{LATE_DAY}.csv").write_text(
        (held / "gpu_stopped" / f"{STOPPED_HOST}_{LATE_DAY - timedelta(days=1)}.csv").read_text())


def _gpu_hours(database: str) -> float:
    """agt_004's GPU hours observed on STOPPED_DAY (its only GPU is STOPPED_HOST's)."""
    with duckdb.connect(database, read_only=True) as conn:
        return conn.execute("select gpu_hours_observed from marts.mart_agent_daily_cost "
                            "where agent_id = 'agt_004' and usage_date = ?", [STOPPED_DAY]).fetchone()[0]


def add_late_files(raw: Path, spanning: dict) -> dict[str, object]:
    """Write the late files into `raw`; return what they should do, for the assertions."""
    calls = {n: _jsonl(next((raw / "llm_calls").glob(f"*{_day(n)}*.jsonl"))) for n in (1, 2, 6, 10)}
    late = [{**c, "call_id": "late_" + c["call_id"]} for n in (1, 2) for c in calls[n][:15]]
    late.append({**calls[6][0], "call_id": "late6_" + calls[6][0]["call_id"]})
    moved = {**calls[1][20], "started_at": _shift(calls[1][20]["started_at"], -1),
             "completed_at": _shift(calls[1][20]["completed_at"], -1)}
    old = {**calls[10][5], "started_at": _shift(calls[10][5]["started_at"], 9),
           "completed_at": _shift(calls[10][5]["completed_at"], 9)}
    # the spanning call again, for a query and execution of its own day (this copy's file
    # sorts first: it wins); nothing in this run's files names the query it leaves
    other = next(c for c in _jsonl(raw / "llm_calls" / f"llm_calls_{SPAN_DAY}.jsonl")
                 if c.get("query_id") and c.get("execution_id") and c["query_id"] != spanning["query_id"])
    switched = {**spanning, "query_id": other["query_id"], "execution_id": other["execution_id"]}
    (raw / "llm_calls" / f"a-resend_{LATE_DAY}.jsonl").write_text(
        "\n".join(json.dumps(c) for c in [*late, moved, old, switched]) + "\n")
    loser = {**calls[2][30], "prompt_tokens": calls[2][30]["prompt_tokens"] + 1000,
             "total_tokens": calls[2][30]["total_tokens"] + 1000}
    (raw / "llm_calls" / f"zz-resend_{LATE_DAY}.jsonl").write_text(json.dumps(loser) + "\n")

    execution = _jsonl(next((raw / "executions").glob(f"*{_day(2)}*.jsonl")))[3]
    (raw / "executions" / f"late_{LATE_DAY}.jsonl").write_text(
        json.dumps({**execution, "execution_id": "late_" + execution["execution_id"]}) + "\n")
    api_path = next((raw / "api_calls").glob(f"*{_day(8)}*.csv"))
    rows = list(csv.DictReader(io.StringIO(api_path.read_text())))
    late_api = {**rows[0], "request_id": "late_" + rows[0]["request_id"], "timestamp": _shift(rows[0]["timestamp"], 7)}
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows([late_api, rows[1]])  # rows[1] again: a duplicate that loses
    (raw / "api_calls" / f"zz-late_{LATE_DAY}.csv").write_text(out.getvalue())
    return {"late_calls": len(late), "moved": moved, "old": old, "loser": loser,
            "late_api": late_api, "late_api_execution_day": _day(8), "spanning": spanning, "switched": switched}


def _sentinels(database: str, set_to: int | None, calls: dict[str, int] | None = None,
               days: tuple[str, ...] = ("2026-10-20", _day(1))) -> dict[str, int]:
    """latency_ms of one call per chosen day in marts.fct_llm_calls (by default far outside
    the LATE_DAY run's window and inside it); with set_to, overwrite it."""
    with duckdb.connect(database) as conn:
        if calls is None:
            calls = {}
            for day in days:
                calls[day] = conn.execute(
                    "select call_id from marts.fct_llm_calls where usage_date = ? and source_system = 'agent_platform' "
                    "order by call_id limit 1", [day]).fetchone()[0]
        found = {day: conn.execute("select latency_ms from marts.fct_llm_calls where call_id = ?", [cid]).fetchone()[0]
                 for day, cid in calls.items()}
        if set_to is not None:
            for cid in calls.values():
                conn.execute("update marts.fct_llm_calls set latency_ms = ? where call_id = ?", [set_to, cid])
    return {"calls": calls, "latency": found}


MONTHS = ("2026-10-01", "2026-11-01")  # the LATE_DAY run's usage days are all in November


def _plant_in_monthly_api_usage(database: str, planted: dict | None = None) -> dict:
    """throttle_incidents of one marts.mart_api_usage_monthly row per month of MONTHS; without
    `planted`, pick the rows and set it to -1; with it, read those rows and put the original
    value back where the -1 survived."""
    with duckdb.connect(database) as conn:
        if planted is None:
            planted = {}
            for month in MONTHS:
                key = conn.execute(
                    "select workspace_id, agent_id, endpoint, throttle_incidents from marts.mart_api_usage_monthly "
                    "where usage_month = ? order by all limit 1", [month]).fetchone()
                planted[month] = {"key": [*key[:3], month], "value": key[3]}
                conn.execute("update marts.mart_api_usage_monthly set throttle_incidents = -1 where workspace_id = ? "
                             "and agent_id = ? and endpoint = ? and usage_month = ?", planted[month]["key"])
            return planted
        found = {}
        for month, row in planted.items():
            found[month] = conn.execute(
                "select throttle_incidents from marts.mart_api_usage_monthly where workspace_id = ? and agent_id = ? "
                "and endpoint = ? and usage_month = ?", row["key"]).fetchone()[0]
            conn.execute("update marts.mart_api_usage_monthly set throttle_incidents = ? where workspace_id = ? "
                         "and agent_id = ? and endpoint = ? and usage_month = ? and throttle_incidents = -1",
                         [row["value"], *row["key"]])
        return found


def _rebuild_days(database: str) -> dict[date, tuple[str, bool]]:
    with duckdb.connect(database, read_only=True) as conn:
        return {d: (reasons, usage) for d, reasons, usage in conn.execute(
            "select usage_date, reasons, rebuilds_usage from intermediate.int_rebuild_days").fetchall()}


def _restore(database: str, sentinel: dict) -> None:
    """Put the planted days' original latency back where the planted -1 survived."""
    with duckdb.connect(database) as conn:
        for day, cid in sentinel["calls"].items():
            conn.execute("update marts.fct_llm_calls set latency_ms = ? where call_id = ? and latency_ms = -1",
                         [sentinel["latency"][day], cid])


def _plant_in_ledger(database: str, day: str) -> dict:
    """Mark one execution row of the ledger on `day` (its execution_id, which no other model
    reads) and count the day's cloud-bill shares."""
    with duckdb.connect(database) as conn:
        execution_id, component = conn.execute(
            "select execution_id, cost_component from marts.fct_cost_ledger where usage_date = ? and source = 'execution' "
            "order by all limit 1", [day]).fetchone()
        conn.execute("update marts.fct_cost_ledger set execution_id = 'planted' where execution_id = ? and cost_component = ?",
                     [execution_id, component])
        return {"execution_id": execution_id, "cloud_rows": _cloud_rows(conn, day)}


def _cloud_rows(conn, day: str) -> int:
    return conn.execute("select count(*) from marts.fct_cost_ledger where usage_date = ? and source like 'focus:%'",
                        [day]).fetchone()[0]


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("incremental")
    raw, held = tmp / "raw", tmp / "held"
    shutil.copytree(REPO / "data" / "raw", raw)
    spanning = add_spanning_call(raw)
    stop_gpu(raw, held)
    # BILL_DAY's files wait for the last run
    for path in raw.rglob(f"*{BILL_DAY}*"):
        (held / path.parent.name).mkdir(parents=True, exist_ok=True)
        path.rename(held / path.parent.name / path.name)
    (tmp / "inc").mkdir()
    env = {**warehouse_env(tmp / "inc", raw), "DBT_LOOKBACK_DAYS": str(LOOKBACK)}
    database = env["DUCKDB_PATH"]
    rebuilt_per_run = []
    for first, last in CHUNKS:
        if first == LATE_DAY:
            planted = add_late_files(raw, spanning)
            resume_gpu(raw, held)
            gpu_hours = {"before": _gpu_hours(database)}
            sentinel = _sentinels(database, set_to=-1)
            monthly = _plant_in_monthly_api_usage(database)
        if first == BILL_DAY:
            gpu_hours["after"] = _gpu_hours(database)
            after = _sentinels(database, set_to=None, calls=sentinel["calls"])
            monthly_after = _plant_in_monthly_api_usage(database, planted=monthly)
            late_day_rebuilt = _rebuild_days(database)
            _restore(database, sentinel)
            for path in held.rglob("*.*"):
                if path.parent.name != "gpu_stopped":  # the node's missing days stay missing
                    path.rename(raw / path.parent.name / path.name)
            bill_sentinel = _sentinels(database, set_to=-1, days=(CLOUD_ONLY_DAY,))
            ledger = _plant_in_ledger(database, CLOUD_ONLY_DAY)
        proc = run([str(BIN / "warehouse"), "build", "--start", first.isoformat(), "--end", last.isoformat()], env=env)
        assert "succeeded" in proc.stdout, proc.stdout[-3000:]
        rebuilt_per_run.append(_rebuild_days(database))
    bill_after = _sentinels(database, set_to=None, calls=bill_sentinel["calls"])
    bill_rebuilt = _rebuild_days(database)
    with duckdb.connect(database) as conn:
        ledger["after"] = {
            "planted_execution_rows": conn.execute(
                "select count(*) from marts.fct_cost_ledger where execution_id = 'planted'").fetchone()[0],
            "cloud_rows": _cloud_rows(conn, CLOUD_ONLY_DAY)}
        conn.execute("update marts.fct_cost_ledger set execution_id = ? where execution_id = 'planted'", [ledger["execution_id"]])
    _restore(database, bill_sentinel)

    # the reference: the same final export files, from scratch, in one run
    (tmp / "full").mkdir()
    full_env = {**warehouse_env(tmp / "full", raw), "DBT_LOOKBACK_DAYS": str(LOOKBACK)}
    proc = run([str(BIN / "warehouse"), "build"], env=full_env)
    assert "succeeded" in proc.stdout, proc.stdout[-3000:]
    return {"env": env, "full_env": full_env, "planted": planted, "sentinel": sentinel, "after": after,
            "late_day_rebuilt": late_day_rebuilt, "bill_sentinel": bill_sentinel, "bill_after": bill_after,
            "monthly": monthly, "monthly_after": monthly_after,
            "bill_rebuilt": bill_rebuilt, "ledger": ledger, "gpu_hours": gpu_hours, "rebuilt_per_run": rebuilt_per_run}


def test_incremental_runs_with_late_data_equal_a_full_rebuild(builds):
    env, full_env = builds["env"], builds["full_env"]
    incremental = mart_fingerprints(Path(env["DUCKDB_PATH"]))
    full = mart_fingerprints(Path(full_env["DUCKDB_PATH"]))
    assert set(incremental) == set(full) and len(full) > 20
    assert [t for t in full if incremental[t] != full[t]] == []


def test_late_and_redelivered_rows_land_where_the_full_rule_puts_them(builds):
    env, planted = builds["env"], builds["planted"]
    with duckdb.connect(env["DUCKDB_PATH"], read_only=True) as conn:
        day_of = lambda cid: conn.execute(  # noqa: E731
            "select usage_date, source_file from marts.fct_llm_calls where call_id = ?", [cid]).fetchall()
        assert conn.execute("select count(*) from marts.fct_llm_calls where call_id like 'late%'").fetchone()[0] \
            == planted["late_calls"]
        # the winning re-delivered copies moved day; each call is there once
        for key in ("moved", "old"):
            call = planted[key]
            assert day_of(call["call_id"]) == [(date.fromisoformat(call["started_at"][:10]), f"llm_calls/a-resend_{LATE_DAY}.jsonl")]
        # the losing copy changed nothing
        loser = planted["loser"]
        assert conn.execute("select input_tokens, source_file from marts.fct_llm_calls where call_id = ?",
                            [loser["call_id"]]).fetchone() == (loser["prompt_tokens"] - 1000, f"llm_calls/llm_calls_{_day(2)}.jsonl")
        # the re-delivered call moved to its new query; the query it left (started the day
        # before) no longer counts it
        left, joined = planted["spanning"]["query_id"], planted["switched"]["query_id"]
        assert conn.execute("select query_id from marts.fct_llm_calls where call_id = ?",
                            [planted["switched"]["call_id"]]).fetchall() == [(joined,)]
        for query in (left, joined):
            assert conn.execute("select llm_calls from marts.mart_query_performance where query_id = ?", [query]).fetchall() \
                == conn.execute("select count(*) from marts.fct_llm_calls where query_id = ?", [query]).fetchall()
        # the old execution's API cost now includes the late call, on its own (old) day
        api = planted["late_api"]
        assert conn.execute(
            "select f.usage_date, f.api_cost = (select sum(cost_usd) from marts.fct_api_calls a "
            "where a.execution_id = f.execution_id) from marts.fct_resource_utilization f where execution_id = ?",
            [api["execution_id"]]).fetchone() == (date.fromisoformat(planted["late_api_execution_day"]), True)


def test_the_first_build_lists_no_rebuild_days_and_the_next_run_lists_its_window(builds):
    """The first run has a window (its partition range) but no table to replace days in: every
    model is built whole, so int_rebuild_days lists nothing. The second run (Nov 4..11,
    lookback 3) lists at least every day of its window, Nov 1..11."""
    first, second = builds["rebuilt_per_run"][:2]
    assert first == {}
    window = {date(2026, 11, 1) + timedelta(days=n) for n in range(11)}
    assert window <= set(second)
    assert all("window" in second[d][0].split(",") for d in window)


@pytest.mark.parametrize("full_refresh", [False, True])
def test_a_full_refresh_lists_no_rebuild_days(builds, tmp_path, full_refresh):
    """On a built warehouse a run with a window lists its days, unless it is a --full-refresh:
    that rebuilds every model whole, so int_rebuild_days compiles to its empty select."""
    window = json.dumps({"min_date": str(LATE_DAY), "max_date": str(LATE_DAY)})
    run([str(BIN / "dbt"), "compile", "--quiet", "-s", "int_rebuild_days", "--vars", window,
         "--target-path", str(tmp_path / "target"), *(["--full-refresh"] if full_refresh else [])],
        env=builds["env"], cwd=REPO / "dbt_project")
    compiled = next((tmp_path / "target").rglob("int_rebuild_days.sql")).read_text()
    assert ("where false" in compiled) == full_refresh
    assert ("window_days" in compiled) != full_refresh


def test_the_one_day_run_rebuilt_only_the_days_it_had_to(builds):
    planted, sentinel, after = builds["planted"], builds["sentinel"], builds["after"]
    window = {LATE_DAY - timedelta(days=n) for n in range(LOOKBACK + 1)}
    gpu_only = min(window) - timedelta(days=1)  # GPU sample intervals reach across midnight
    expected = window | {
        date.fromisoformat(_day(6)),                              # the 6-day-late call's file is in the run
        date.fromisoformat(planted["old"]["started_at"][:10]) - timedelta(days=9),  # old copy's day
        date.fromisoformat(planted["late_api_execution_day"]),    # the late API call's execution
        SPAN_DAY,                                                 # the switched call's old and new copy
        SPAN_DAY - timedelta(days=1),                             # the query it left started then
        gpu_only,
        LATE_DAY + timedelta(days=1),                             # a last reading's interval is from the one before
        STOPPED_DAY,                                              # the resumed GPU's last reading before its gap
    }
    # the day before the query the switched call left: its daily cloud line ends at the
    # midnight that starts a reopened day, so its split over agents is booked again
    line_before = SPAN_DAY - timedelta(days=2)
    rebuilt = builds["late_day_rebuilt"]
    assert set(rebuilt) == expected | {line_before}
    # only the GPU days and that cloud line's day leave the usage models alone
    gpu_days = {gpu_only, LATE_DAY + timedelta(days=1), STOPPED_DAY}
    assert {d for d, (_, usage) in rebuilt.items() if not usage} == gpu_days | {line_before}
    assert all(rebuilt[d][0] == "gpu" for d in gpu_days) and rebuilt[line_before][0] == "cloud_line"
    # a row planted on a day outside that set survived the run; one inside was rewritten
    outside, inside = "2026-10-20", _day(1)
    assert after["latency"][outside] == -1
    assert after["latency"][inside] == sentinel["latency"][inside] != -1


def test_a_gpu_that_resumes_after_a_gap_has_its_last_reading_before_the_gap_recounted(builds):
    """STOPPED_DAY's 144 readings, 10 minutes apart: before the node resumes, the last one
    stands for the 10 minutes since the one before (144 x 600 s = 24 h); once the readings of
    LATE_DAY-1 arrive it runs to the next one, three days later, capped at 3,600 s
    (143 x 600 + 3,600 s = 24 h 50 min). The one-day run must rebuild that day."""
    hours = builds["gpu_hours"]
    assert hours["before"] == pytest.approx(24.0, abs=1e-9)
    assert hours["after"] == pytest.approx(24 + 50 / 60, abs=1e-9)


def test_a_windowed_gpu_day_far_from_its_gpus_next_reading_is_capped_as_the_full_build_caps_it(builds, tmp_path):
    """A windowed fct_gpu_samples reads its rebuild days and the day on each side. Rebuilding
    STOPPED_DAY alone (lookback 0: the days read are STOPPED_DAY -2 .. +2) leaves the GPU's
    next reading after its last one of the day (LATE_DAY-1, four days on) out of what is read;
    that reading still stands for the capped hour, as in the full build
    (143 x 600 + 3,600 s), and every rebuilt row equals the full build's."""
    database = tmp_path / "warehouse.duckdb"
    shutil.copy(builds["env"]["DUCKDB_PATH"], database)
    around = [STOPPED_DAY + timedelta(days=n) for n in (-1, 0, 1)]
    with duckdb.connect(str(database)) as conn:
        conn.execute("update marts.fct_gpu_samples set interval_seconds = -1, interval_cost_usd = -1 "
                     "where cast(sampled_at as date) in ?", [around])
    window = json.dumps({"min_date": str(STOPPED_DAY), "max_date": str(STOPPED_DAY), "lookback_days": 0})
    run([str(BIN / "dbt"), "build", "--quiet", "-s", "int_rebuild_days", "fct_gpu_samples", "--vars", window,
         "--target-path", str(tmp_path / "target")],
        env={**builds["env"], "DUCKDB_PATH": str(database)}, cwd=REPO / "dbt_project")
    with duckdb.connect(str(database)) as conn:
        rebuilt = [d for (d,) in conn.execute("select usage_date from intermediate.int_rebuild_days").fetchall()]
        assert set(around) <= set(rebuilt) and STOPPED_DAY + timedelta(days=2) not in rebuilt
        assert conn.execute(
            "select sum(interval_seconds), max(interval_seconds) from marts.fct_gpu_samples "
            "where host = ? and cast(sampled_at as date) = ?", [STOPPED_HOST, STOPPED_DAY]).fetchone() \
            == (143 * 600 + 3600, 3600)
        conn.execute(f"attach '{builds['full_env']['DUCKDB_PATH']}' as full_build (read_only)")
        for a, b in (("marts", "full_build.marts"), ("full_build.marts", "marts")):
            assert conn.execute(
                f"select count(*) from (select * from {a}.fct_gpu_samples where cast(sampled_at as date) in ? "
                f"except all select * from {b}.fct_gpu_samples where cast(sampled_at as date) in ?)",
                [rebuilt, rebuilt]).fetchone()[0] == 0
        assert conn.execute("select count(*) from marts.fct_gpu_samples where interval_seconds = -1").fetchone()[0] == 0


def test_the_one_day_run_replaced_only_the_months_it_had_to(builds):
    """mart_api_usage_monthly is replaced by whole month: the month of the run's rebuild days
    (November) is recomputed from all its calls, October is left as it was."""
    after = builds["monthly_after"]
    # the mart reads usage only: the months of the days whose usage the run rebuilt
    assert {d.strftime("%Y-%m-01") for d, (_, usage) in builds["late_day_rebuilt"].items() if usage} == {"2026-11-01"}
    assert after["2026-10-01"] == -1
    # recomputed (a count, so not -1); that it is recomputed right, the final comparison
    # with a full rebuild shows
    assert after["2026-11-01"] >= 0


def test_a_months_bill_books_its_cloud_shares_without_rewriting_the_usage(builds):
    rebuilt, ledger = builds["bill_rebuilt"], builds["ledger"]
    window = {BILL_DAY - timedelta(days=n) for n in range(LOOKBACK + 1)}
    month = {date(2026, 11, 1) + timedelta(days=n) for n in range(BILL_DAY.day)}
    # every day the bill covers is reopened for its cloud shares ...
    assert month <= set(rebuilt)
    assert all("cloud_line" in reasons for d, (reasons, _) in rebuilt.items() if d in month)
    # ... the usage models only the days with a reason beyond the bill (and GPU intervals)
    for reasons, usage in rebuilt.values():
        assert usage == bool(set(reasons.split(",")) - {"cloud_line", "gpu"})
    cloud_only = {d for d, (_, usage) in rebuilt.items() if not usage}
    assert len(cloud_only & month) >= 5 and not cloud_only & window
    # outside the month, at most the day before it: its daily line ends at the midnight that
    # starts the month (reopened here because the re-read late files name a query of that day);
    # and the day after the run's last GPU readings (a last reading's interval is from the one
    # before it)
    assert cloud_only - month <= {min(month) - timedelta(days=1), BILL_DAY + timedelta(days=1)}
    assert rebuilt[date.fromisoformat(CLOUD_ONLY_DAY)] == ("cloud_line", False)
    # on such a day the LLM-call fact and the ledger's execution rows were left as they were
    assert builds["bill_after"]["latency"][CLOUD_ONLY_DAY] == -1 != builds["bill_sentinel"]["latency"][CLOUD_ONLY_DAY]
    assert ledger["after"]["planted_execution_rows"] == 1
    # while the bill's shares of that day were booked in the ledger
    assert ledger["cloud_rows"] == 0 < ledger["after"]["cloud_rows"]


@pytest.mark.parametrize("cap, refused", [(86400, False), (86401, True)])
def test_an_incremental_run_refuses_a_gpu_interval_cap_over_a_day(tmp_path, cap, refused):
    """The GPU days int_rebuild_days reopens (each side of a changed reading) are enough only
    while a reading stands for at most a day: a windowed compile with a longer cap fails and
    says why; a day is allowed."""
    variables = {"min_date": "2026-11-12", "max_date": "2026-11-12", "gpu_sample_max_interval_s": cap}
    proc = subprocess.run(
        [str(BIN / "dbt"), "compile", "-s", "int_rebuild_days", "--profiles-dir", ".", "--vars", json.dumps(variables),
         "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")],
        cwd=REPO / "dbt_project", env={**os.environ, "DUCKDB_PATH": str(tmp_path / "w.duckdb")},
        capture_output=True, text=True)
    message = "gpu_sample_max_interval_s must be at most 86400"
    assert (proc.returncode != 0, message in proc.stdout) == (refused, refused), proc.stdout[-2000:]

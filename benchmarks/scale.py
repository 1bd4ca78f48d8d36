"""Scale benchmark: the warehouse build against the DuckDB floor and a pandas pipeline.

    python benchmarks/scale.py --sizes 1m,10m [--include-100m] [--work /tmp/bench]

For each size (gateway LLM calls over the whole period; executions and API calls follow
in proportion, about 0.43 and 0.7 per call; also 100k for development, or e.g. 2m), one run:

1. generates 91 days of raw exports with data/generate.py (thousands of agents at 1M and
   up) and a copy of dbt_project/ whose agents / budgets / gpu_assignments seeds are the
   generated fleet's (reused when the same data was generated before in --work);
2. times, each in its own process with its peak memory (RSS of the process tree, sampled):
   - the full build of days 1..90: `warehouse build` (ingest + every dbt model and test +
     analytics and forecasts), with DUCKDB_PATH / RAW_DATA_DIR / DBT_PROJECT_DIR / ... in --work;
   - the DuckDB floor: benchmarks/floor.sql in one in-process DuckDB over the same files;
   - the pandas pipeline: benchmarks/pandas_pipeline.py over the same files;
   - the incremental run: day 91's files added, `warehouse build --start d91 --end d91`;
   - loading the Dagster definitions (`from orchestration.definitions import defs`), in three
     fresh processes one after another, once the build's writes are flushed (`sync`, timed
     apart); the median counts, all three are shown;
3. checks, before printing any time, that the warehouse, the floor and pandas agree on the
   headline marts (row counts, executions, calls, tokens, total cost to the cent, rolling
   30-day sums, budget status counts), and that the warehouse after the incremental day
   agrees with the floor over all 91 days; exits 1 naming every disagreement otherwise;
4. prints the table (rows, seconds, rows/s, peak memory) and the ratios build/floor,
   pandas/build, incremental/full, and writes it to benchmarks/results/scale_<date>.md.

The floor and pandas read the reference data (agents, budgets, the rate card and the
effective-dated model prices) from the built warehouse, exported as Parquet: the price
table is the warehouse's own derivation of the genai-prices catalog, an input here.
History days 1..90 get a month-to-date FOCUS bill as of day 90 (the generator names a
month's bill after its last day); day 91 brings the restated bill. Calls that spill past
midnight of the last day (files dated day 92) are left out of the benchmark.
"""

import argparse
import csv
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
DAYS = 91
DATE_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")
# Fleet size per data size: thousands of agents from 1M calls up.
AGENTS = [(1_000_000, 100), (10_000_000, 1000), (100_000_000, 2000), (float("inf"), 5000)]

CHECKS_SQL = """
select
    (select count(*) from {s}mart_daily_usage) as "daily_usage.rows",
    (select sum(executions) from {s}mart_daily_usage) as "daily_usage.executions",
    (select sum(llm_calls) from {s}mart_daily_usage) as "daily_usage.llm_calls",
    (select sum(api_calls) from {s}mart_daily_usage) as "daily_usage.api_calls",
    (select sum(total_tokens) from {s}mart_daily_usage) as "daily_usage.total_tokens",
    (select sum(total_cost) from {s}mart_daily_usage) as "daily_usage.total_cost",
    (select count(*) from {s}mart_infrastructure_cost_allocation) as "allocation.rows",
    (select sum(total_cost) from {s}mart_infrastructure_cost_allocation) as "allocation.total_cost",
    (select sum(rolling_30d_cost) from {s}mart_infrastructure_cost_allocation) as "allocation.rolling_30d_cost",
    (select count(*) from {s}mart_token_budget_tracking) as "budget.rows",
    (select sum(daily_total_tokens) from {s}mart_token_budget_tracking) as "budget.daily_total_tokens",
    (select sum(rolling_30d_tokens) from {s}mart_token_budget_tracking) as "budget.rolling_30d_tokens",
    (select count(*) filter (where budget_status = 'over_budget') from {s}mart_token_budget_tracking) as "budget.over_budget_days",
    (select count(*) filter (where budget_status = 'near_limit') from {s}mart_token_budget_tracking) as "budget.near_limit_days"
"""
MONEY_CHECKS = {"daily_usage.total_cost", "allocation.total_cost", "allocation.rolling_30d_cost"}


# ------------------------------------------------------------------ measuring a process
def _tree_rss(root: int) -> int:
    """Resident bytes of a process and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(f"/proc/{entry.name}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            pass
        todo.extend(children.get(pid, []))
    return total


def measure(cmd: list[str], env: dict, log: Path, cwd: Path = REPO) -> dict:
    """Run cmd to completion; wall seconds, peak RSS of its process tree, exit code."""
    log.parent.mkdir(parents=True, exist_ok=True)
    peak = [0]
    with open(log, "w") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        done = threading.Event()

        def sample():
            while not done.wait(0.2):
                peak[0] = max(peak[0], _tree_rss(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        rc = proc.wait()
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
    return {"seconds": seconds, "peak_rss": peak[0], "rc": rc, "log": str(log)}


# ------------------------------------------------------------------ data
def parse_size(text: str) -> int:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([km]?)", text.strip().lower())
    if not m:
        raise SystemExit(f"bad size {text!r}: use e.g. 100k, 1m, 10m")
    return int(float(m.group(1)) * {"": 1, "k": 1_000, "m": 1_000_000}[m.group(2)])


def agents_for(calls: int) -> int:
    return next(n for limit, n in AGENTS if calls < limit)


def export_day(path: Path) -> dt.date | None:
    m = DATE_IN_NAME.search(path.name)
    return dt.date.fromisoformat(m.group(1)) if m else None


def generate(work: Path, calls: int, start: dt.date) -> dict:
    """Raw exports and seeds in work/gen, reused when the same parameters made them."""
    gen = work / "gen"
    params = {"calls": calls, "agents": agents_for(calls), "days": DAYS, "start": start.isoformat(), "seed": 42,
              "generator": _digest(REPO / "data" / "generate.py", REPO / "data" / "provider_exports.py")}
    marker = gen / "params.json"
    if marker.exists() and json.loads(marker.read_text()).get("params") == params:
        return json.loads(marker.read_text())
    shutil.rmtree(gen, ignore_errors=True)
    gen.mkdir(parents=True)
    cmd = [sys.executable, str(REPO / "data" / "generate.py"), "--out", str(gen / "raw"), "--seeds-dir", str(gen / "seeds"),
           "--truth", "", "--start", start.isoformat(), "--days", str(DAYS), "--agents", str(params["agents"]),
           "--llm-calls-per-day", str(round(calls / DAYS)), "--quiet"]
    result = measure(cmd, dict(os.environ), work / "logs" / "generate.log")
    if result["rc"]:
        raise SystemExit(f"generator failed, see {result['log']}")
    info = {"params": params, "seconds": result["seconds"], "peak_rss": result["peak_rss"]}
    marker.write_text(json.dumps(info))
    return info


def _digest(*paths: Path) -> str:
    import hashlib

    return hashlib.sha256(b"".join(p.read_bytes() for p in paths)).hexdigest()[:16]


def stage(work: Path, start: dt.date) -> tuple[Path, list[Path]]:
    """work/raw = days 1..90 (hard links) + month-to-date FOCUS bill as of day 90; returns it
    and day 91's files (to add for the incremental run)."""
    gen_raw, raw = work / "gen" / "raw", work / "raw"
    last_hist, new_day = start + dt.timedelta(days=DAYS - 2), start + dt.timedelta(days=DAYS - 1)
    shutil.rmtree(raw, ignore_errors=True)
    later = []
    for path in sorted(p for p in gen_raw.rglob("*") if p.is_file()):
        day = export_day(path)
        if day is None:
            continue
        target = raw / path.relative_to(gen_raw)
        target.parent.mkdir(parents=True, exist_ok=True)
        if day <= last_hist:
            os.link(path, target)
        elif day == new_day:
            later.append(path)
            if path.parent.name == "focus":  # the bill as it stood at the end of day 90
                _focus_until(path, target.with_name(f"focus_{last_hist.isoformat()}.csv"), new_day)
    return raw, later


def _focus_until(src: Path, dest: Path, before: dt.date) -> None:
    with open(src, newline="") as f_in, open(dest, "w", newline="") as f_out:
        reader, writer = csv.reader(f_in), csv.writer(f_out, lineterminator="\n")
        header = next(reader)
        writer.writerow(header)
        col = header.index("ChargePeriodStart")
        writer.writerows(r for r in reader if r[col][:10] < before.isoformat())


def copy_dbt_project(work: Path) -> Path:
    """dbt_project/ with the generated fleet's seeds (the pattern of tests/conftest.py)."""
    project = work / "dbt_project"
    shutil.rmtree(project, ignore_errors=True)
    shutil.copytree(REPO / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    for seed in ("agents.csv", "budgets.csv", "gpu_assignments.csv"):
        shutil.copy(work / "gen" / "seeds" / seed, project / "seeds" / seed)
    return project


# ------------------------------------------------------------------ pipelines
def warehouse_env(work: Path, start: dt.date) -> dict:
    home = work / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").touch()
    return {**os.environ, "DUCKDB_PATH": str(work / "warehouse.duckdb"), "RAW_DATA_DIR": str(work / "raw"),
            "PUBLISHED_DUCKDB_PATH": str(work / "published" / "warehouse.duckdb"), "DAGSTER_HOME": str(home),
            "DBT_PROJECT_DIR": str(work / "dbt_project"), "WAREHOUSE_START_DATE": start.isoformat()}


def build(work: Path, env: dict, name: str, *args: str) -> dict:
    result = measure([str(VENV_BIN / "warehouse"), "build", *args], env, work / "logs" / f"{name}.log")
    text = Path(result["log"]).read_text()
    result["succeeded"] = bool(re.search(r"^Run \S+: succeeded", text, re.M))
    failed = re.search(r"^Failed checks: (.*)$", text, re.M)
    result["failed_checks"] = failed.group(1) if failed else ""
    result["steps"] = step_times(text)
    if not result["succeeded"]:
        raise SystemExit(f"`warehouse build {' '.join(args)}` failed (exit {result['rc']}), see {result['log']}")
    return result


def step_times(log: str) -> dict[str, float]:
    """Seconds per Dagster step, from 'Finished execution of step "x" in 1m6s'."""
    out = {}
    for step, text in re.findall(r'Finished execution of step "([^"]+)" in ([0-9hms.]+)', log):
        seconds = 0.0
        for value, unit in re.findall(r"([\d.]+)(ms|h|m|s)", text):
            seconds += float(value) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
        out[step] = out.get(step, 0.0) + seconds
    return out


def definitions_load(work: Path, env: dict, runs: int = 3) -> dict:
    """Load the definitions in `runs` fresh processes, one after another: the median of their
    wall times is what an operator waits for on a reload; every sample is kept and shown."""
    code = ("import time; t = time.perf_counter(); from orchestration.definitions import defs; "
            "defs.resolve_all_asset_specs(); print(f'{time.perf_counter() - t:.3f}')")
    # The build just wrote GBs (warehouse, published copy) that the kernel is still writing
    # back; flush them first (timed apart) so the samples time the load, not that write-back.
    started = time.perf_counter()
    os.sync()
    sync_seconds = time.perf_counter() - started
    samples = []
    for i in range(runs):
        result = measure([sys.executable, "-c", code], env, work / "logs" / f"definitions_{i + 1}.log")
        if result["rc"]:
            raise SystemExit(f"loading the definitions failed, see {result['log']}")
        result["import_seconds"] = float(Path(result["log"]).read_text().split()[-1])
        samples.append(result)
    median = sorted(samples, key=lambda r: r["seconds"])[len(samples) // 2]
    return {**median, "runs": [round(r["seconds"], 2) for r in samples], "sync_seconds": sync_seconds}


def export_reference(database: Path, ref: Path) -> Path:
    """The reference inputs of the floor and pandas, as the built warehouse holds them."""
    import duckdb

    ref.mkdir(parents=True, exist_ok=True)
    tables = {"agents": "reference.agents", "budgets": "reference.budgets",
              "compute_rate_card": "reference.compute_rate_card", "model_prices": "intermediate.int_model_prices"}
    with duckdb.connect(str(database), read_only=True) as conn:
        for name, table in tables.items():
            conn.execute(f"copy (select * from {table}) to '{ref / name}.parquet' (format parquet)")
    return ref


def warehouse_checks(database: Path) -> dict:
    import duckdb

    with duckdb.connect(str(database), read_only=True) as conn:
        return _checks(conn, "marts.")


def _checks(conn, schema: str) -> dict:
    cur = conn.execute(CHECKS_SQL.format(s=schema))
    return {d[0]: (float(v) if d[0] in MONEY_CHECKS else int(v)) for d, v in zip(cur.description, cur.fetchone())}


def run_floor(raw: Path, ref: Path, out: Path) -> None:
    """The floor itself (in a subprocess of the harness): floor.sql in one DuckDB."""
    import duckdb

    sql = (Path(__file__).with_name("floor.sql").read_text()
           .replace("${RAW}", str(raw)).replace("${REF}", str(ref)))
    with duckdb.connect() as conn:
        conn.execute(sql)
        out.write_text(json.dumps(_checks(conn, ""), indent=1))


def floor(work: Path, raw: Path, ref: Path, name: str) -> dict:
    out = work / f"{name}.json"
    result = measure([sys.executable, __file__, "_floor", str(raw), str(ref), str(out)], dict(os.environ),
                     work / "logs" / f"{name}.log")
    if result["rc"]:
        raise SystemExit(f"the floor failed, see {result['log']}")
    result["checks"] = json.loads(out.read_text())
    return result


def pandas_pipeline(work: Path, raw: Path, ref: Path) -> dict:
    out = work / "pandas.json"
    result = measure([sys.executable, str(REPO / "benchmarks" / "pandas_pipeline.py"), "--raw", str(raw),
                      "--ref", str(ref), "--out", str(out)], dict(os.environ), work / "logs" / "pandas.log")
    if result["rc"]:
        # at 10M and up pandas may not fit in memory: a finding to report, not a reason to
        # lose the other pipelines' measurements (exit -9 = killed, by the OOM killer here)
        print(f"the pandas pipeline failed (exit {result['rc']}), see {result['log']}", flush=True)
        result["failed"] = True
        return result
    result["checks"] = json.loads(out.read_text())
    return result


def disagreements(label: str, results: dict[str, dict]) -> list[str]:
    """Every check on which the pipelines differ: counts exactly, money to the cent."""
    names = list(results)
    base = results[names[0]]
    problems = []
    for key in base:
        values = {n: results[n][key] for n in names}
        if key in MONEY_CHECKS:
            ok = max(values.values()) - min(values.values()) < 0.01
        else:
            ok = len(set(values.values())) == 1
        if not ok:
            problems.append(f"{label}: {key}: " + ", ".join(f"{n}={v}" for n, v in values.items()))
    return problems


# ------------------------------------------------------------------ one size
def bench_size(label: str, calls: int, args) -> dict:
    work = args.work / label
    work.mkdir(parents=True, exist_ok=True)
    start = args.start
    print(f"[{label}] generating {DAYS} days, ~{calls:,} LLM calls, {agents_for(calls)} agents ...", flush=True)
    gen = generate(work, calls, start)
    raw, new_files = stage(work, start)
    copy_dbt_project(work)
    for stale in ("warehouse.duckdb", "warehouse.duckdb.wal", "published", "dagster_home"):
        p = work / stale
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
    env = warehouse_env(work, start)
    last_hist, new_day = start + dt.timedelta(days=DAYS - 2), start + dt.timedelta(days=DAYS - 1)

    print(f"[{label}] full build of {start} .. {last_hist} ...", flush=True)
    full = build(work, env, "build_full")
    defs = definitions_load(work, env)
    ref = export_reference(work / "warehouse.duckdb", work / "ref")
    wh_hist = warehouse_checks(work / "warehouse.duckdb")
    print(f"[{label}] DuckDB floor ...", flush=True)
    fl = floor(work, raw, ref, "floor")
    pd_result = None
    if not args.skip_pandas:
        print(f"[{label}] pandas ...", flush=True)
        pd_result = pandas_pipeline(work, raw, ref)

    print(f"[{label}] incremental build of {new_day} ...", flush=True)
    for path in new_files:
        target = raw / path.relative_to(work / "gen" / "raw")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(path, target)
    incr = build(work, env, "build_incremental", "--start", new_day.isoformat(), "--end", new_day.isoformat())
    wh_all = warehouse_checks(work / "warehouse.duckdb")
    fl_all = floor(work, raw, ref, "floor_all")

    compared = {"warehouse": wh_hist, "floor": fl["checks"]}
    if pd_result and not pd_result.get("failed"):
        compared["pandas"] = pd_result["checks"]
    problems = disagreements(f"{label} days 1-{DAYS - 1}", compared)
    problems += disagreements(f"{label} after the incremental day", {"warehouse": wh_all, "floor": fl_all["checks"]})
    rows_hist = wh_hist["daily_usage.executions"] + wh_hist["daily_usage.llm_calls"] + wh_hist["daily_usage.api_calls"]
    rows_all = wh_all["daily_usage.executions"] + wh_all["daily_usage.llm_calls"] + wh_all["daily_usage.api_calls"]
    return {"label": label, "calls": calls, "agents": agents_for(calls), "generate": gen, "full": full, "floor": fl,
            "pandas": pd_result, "incremental": incr, "floor_all": fl_all, "definitions": defs,
            "checks": {"history": compared, "after_incremental": {"warehouse": wh_all, "floor": fl_all["checks"]}},
            "rows_hist": rows_hist, "rows_all": rows_all, "rows_new_day": rows_all - rows_hist,
            "llm_calls_hist": wh_hist["daily_usage.llm_calls"], "problems": problems}


# ------------------------------------------------------------------ report
def _gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB"


def report(results: list[dict], args, started: dt.datetime, load_before: tuple, load_after: tuple) -> str:
    command = f"python benchmarks/scale.py --sizes {args.sizes_text}" + (" --skip-pandas" if args.skip_pandas else "")
    lines = [f"Scale benchmark, {started:%Y-%m-%d %H:%M} UTC, `{command}`",
             "",
             f"Machine: {os.cpu_count()} cores, {_mem_total()} RAM, {platform.python_implementation()} "
             f"{platform.python_version()}; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after "
             "(other work may have been running: compare ratios within a run, not seconds across runs).",
             "Rows = executions + LLM calls (every log) + API calls in the input; 90 days of history, then day 91.",
             "",
             "| size | pipeline | rows | seconds | rows/s | peak RSS |",
             "|---|---|---:|---:|---:|---:|"]
    for r in results:
        def row(name, m, rows):
            lines.append(f"| {r['label']} | {name} | {rows:,} | {m['seconds']:.1f} | {rows / m['seconds']:,.0f} | "
                         f"{_gib(m['peak_rss'])} |")
        row("warehouse build, full (90 d)", r["full"], r["rows_hist"])
        row("DuckDB floor (floor.sql, 90 d)", r["floor"], r["rows_hist"])
        if r["pandas"] and r["pandas"].get("failed"):
            p = r["pandas"]
            lines.append(f"| {r['label']} | pandas (90 d): FAILED, exit {p['rc']}"
                         f"{' (killed: out of memory)' if p['rc'] == -9 else ''} after {p['seconds']:.1f} s | – | – | – | "
                         f"{_gib(p['peak_rss'])} |")
        elif r["pandas"]:
            row("pandas (90 d)", r["pandas"], r["rows_hist"])
        row("warehouse build, +1 day incremental", r["incremental"], r["rows_new_day"])
        row("DuckDB floor (91 d, check only)", r["floor_all"], r["rows_all"])
        d = r["definitions"]
        runs = ", ".join(f"{x:.1f}" for x in d.get("runs", [d["seconds"]]))
        lines.append(f"| {r['label']} | definitions load (median of fresh processes: {runs} s; import "
                     f"{d['import_seconds']:.2f} s; after a {d.get('sync_seconds', 0):.1f} s sync) | – | "
                     f"{d['seconds']:.1f} | – | {_gib(d['peak_rss'])} |")
        g = r["generate"]
        lines.append(f"| {r['label']} | (data generation, {r['agents']} agents, 91 d) | {r['rows_all']:,} | "
                     f"{g['seconds']:.1f} | – | {_gib(g['peak_rss']) if g['peak_rss'] else '–'} |")
    lines += ["", "| size | build / floor (target ≤ 1.5) | pandas / build (target ≥ 10) | incremental / full (target ≤ 0.05) | definitions load (target < 3 s) |",
              "|---|---:|---:|---:|---:|"]
    for r in results:
        pb = ("failed" if r["pandas"].get("failed") else f"{r['pandas']['seconds'] / r['full']['seconds']:.2f}") \
            if r["pandas"] else "–"
        lines.append(f"| {r['label']} | {r['full']['seconds'] / r['floor']['seconds']:.1f} | {pb} | "
                     f"{r['incremental']['seconds'] / r['full']['seconds']:.3f} | {r['definitions']['seconds']:.1f} s |")
    lines += ["", "Where the full build's time goes (Dagster step durations from the run log; the rest is "
              "process start, `dbt parse` and definitions loading before the run):", ""]
    for r in results:
        for kind in ("full", "incremental"):
            steps = r[kind]["steps"]
            other = r[kind]["seconds"] - sum(steps.values())
            parts = ", ".join(f"{k} {v:.1f} s" for k, v in sorted(steps.items(), key=lambda kv: -kv[1]))
            lines.append(f"- {r['label']} {kind}: {parts}, outside steps {other:.1f} s"
                         + (f"; failed checks: {r[kind]['failed_checks']}" if r[kind]["failed_checks"] else ""))
    lines += ["", "Agreement (checked before any time is shown; money to the cent):", ""]
    for r in results:
        hist = r["checks"]["history"]
        lines.append(f"- {r['label']}: " + ", ".join(f"{k} = {_fmt(v)}" for k, v in hist["warehouse"].items())
                     + f" — equal in {', '.join(hist)}; after the incremental day warehouse = floor over 91 days.")
    return "\n".join(lines) + "\n"


def _fmt(v) -> str:
    return f"{v:,.2f}" if isinstance(v, float) else f"{v:,}"


def _mem_total() -> str:
    kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    return f"{kb / 2**20:.0f} GiB"


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_floor":  # the floor's own process
        run_floor(Path(argv[1]), Path(argv[2]), Path(argv[3]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1m,10m", help="comma-separated LLM-call counts: 100k, 1m, 10m (default 1m,10m)")
    parser.add_argument("--include-100m", action="store_true", help="also run 100M calls (hours, ~100 GB of exports)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench"), help="scratch directory (exports, warehouses)")
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2026, 8, 1),
                        help="first generated day (the 91 days must end before today: daily partitions stop at yesterday)")
    parser.add_argument("--skip-pandas", action="store_true", help="leave out the pandas pipeline")
    parser.add_argument("--results", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args(argv)
    if args.start + dt.timedelta(days=DAYS) > dt.date.today():
        parser.error(f"--start {args.start} + {DAYS} days reaches today; pick an earlier start")
    labels = [s.strip().lower() for s in args.sizes.split(",") if s.strip()]
    if args.include_100m and "100m" not in labels:
        labels.append("100m")
    args.sizes_text = ",".join(labels)
    started = dt.datetime.now(dt.timezone.utc)
    load_before = os.getloadavg()
    results = [bench_size(label, parse_size(label), args) for label in labels]
    load_after = os.getloadavg()
    (args.work / "scale_results.json").write_text(json.dumps(results, indent=1, default=str))
    problems = [p for r in results for p in r["problems"]]
    if problems:
        print("\nThe pipelines DISAGREE; no timings are reported:", file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        return 1
    text = report(results, args, started, load_before, load_after)
    print("\n" + text)
    args.results.mkdir(parents=True, exist_ok=True)
    out = args.results / f"scale_{started:%Y-%m-%d}.md"
    out.write_text(text)
    print(f"Written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

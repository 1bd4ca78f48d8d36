"""critical_alerts_sensor: posts new critical alerts to ALERT_WEBHOOK_URL."""

import json
import os

import dagster as dg
import duckdb as duckdb_client
from dagster_duckdb import DuckDBResource

WEBHOOK_ENV = "ALERT_WEBHOOK_URL"


@dg.sensor(
    name="critical_alerts_sensor",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Every 60 s: reads analytics.alerts (read-only) and, for critical alerts not seen before, "
                "POSTs them as one JSON document to $ALERT_WEBHOOK_URL when it is set. Launches no runs.",
)
def critical_alerts_sensor(context: dg.SensorEvaluationContext, duckdb: DuckDBResource):
    from orchestration.analytics import alerting  # pandas: kept out of definitions loading

    seen = set(json.loads(context.cursor)) if context.cursor else set()
    try:
        # Read-only and brief: a build holding the writer lock just makes this tick skip.
        with duckdb_client.connect(duckdb.database, read_only=True) as conn:
            exists = conn.execute(
                "select count(*) from information_schema.tables where table_schema = 'analytics' and table_name = 'alerts'"
            ).fetchone()[0]
            alerts = conn.execute("select * from analytics.alerts").df() if exists else None
    except duckdb_client.Error as exc:
        return dg.SkipReason(f"warehouse not readable now ({exc.__class__.__name__}); will retry")
    if alerts is None:
        return dg.SkipReason("analytics.alerts does not exist yet")

    new = alerting.new_alerts(alerts, seen, "critical")
    if new.empty:
        return dg.SkipReason("no new critical alerts")
    url = os.environ.get(WEBHOOK_ENV)
    if url:
        try:
            status = alerting.post_alerts(url, new)
        except Exception as exc:  # keep the cursor: the same alerts are retried next tick
            return dg.SkipReason(f"posting {len(new)} critical alert(s) to the webhook failed: {exc}")
        context.log.info(f"posted {len(new)} new critical alert(s) to the webhook (HTTP {status})")
    for r in new.head(50).itertuples():
        context.log.warning(f"CRITICAL {r.rule} {r.subject}: {r.message}")
    current_critical = set(alerts.loc[alerts["severity"] == "critical", "alert_id"])
    context.update_cursor(json.dumps(sorted(current_critical)))
    return dg.SkipReason(f"{len(new)} new critical alert(s)" + (" posted to the webhook" if url else f" ({WEBHOOK_ENV} not set)"))

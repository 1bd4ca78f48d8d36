"""Prompt and response text never reaches the warehouse: a planted secret string is looked
for in every column of every table and view, in every schema.

The shipped sample plants PRIVATE-PROMPT-CANARY-7f3a in LiteLLM `messages`/`response` and
OTel `gen_ai.input.messages`; the corpus plants it in bad rows too (LiteLLM rows rejected
for a negative spend or a missing id, a truncated LiteLLM document, invalid UTF-8 lines,
OTel spans with gen_ai.prompt / gen_ai.completion / output messages / events / other
conventions' content keys), where the reject payload is the risk.
"""

import json
from datetime import datetime, timezone

import duckdb

from orchestration.ingest.loader import ensure_raw_schema, load_file
from orchestration.ingest.parsing import parse_bytes, record_payload
from orchestration.ingest.sources import SOURCES

from .conftest import REPO
from .test_bad_input_corpus import CANARY, CASES, CORPUS, scan_for

SAMPLE = REPO / "data" / "raw"
PROVIDERS = REPO / "tests" / "fixtures" / "providers" / "raw"
NOW = datetime(2026, 11, 24, tzinfo=timezone.utc)
SCHEMAS = {"raw", "staging", "intermediate", "marts", "analytics", "reference"}


def test_the_sample_plants_the_canary_in_litellm_and_otel_content():
    litellm = json.loads((SAMPLE / "litellm_spend_logs" / "litellm_spend_logs_2026-10-15.json").read_text())
    rows = litellm if isinstance(litellm, list) else litellm["data"]
    assert all(CANARY in json.dumps(r["messages"]) and CANARY in json.dumps(r["response"]) for r in rows)
    otel = json.loads((SAMPLE / "otel_genai_spans" / "otel_genai_spans_2026-10-15.json").read_text())
    contents = [a["value"]["stringValue"] for rs in otel["resourceSpans"] for ss in rs["scopeSpans"]
                for s in ss["spans"] for a in s["attributes"] if a["key"] == "gen_ai.input.messages"]
    assert contents and all(CANARY in c for c in contents)


def test_no_table_of_the_built_sample_holds_prompt_text(sample_warehouse):
    for database in (sample_warehouse["DUCKDB_PATH"], sample_warehouse["PUBLISHED_DUCKDB_PATH"]):
        with duckdb.connect(database, read_only=True) as conn:
            schemas = {s for (s,) in conn.execute(
                "select distinct table_schema from information_schema.tables where table_catalog = current_database()"
            ).fetchall()}
            assert SCHEMAS <= schemas, schemas
            # the LiteLLM and OTel rows did land: the scan looks where the text would be
            assert conn.execute("select count(*) from raw.litellm_spend_logs").fetchone()[0] > 0
            assert conn.execute("select count(*) from raw.otel_genai_spans").fetchone()[0] > 0
            assert scan_for(conn, CANARY) == []


def test_rejected_records_keep_no_prompt_text_but_keep_what_identifies_them(tmp_path):
    canary_cases = [c for c in CASES if c.get("canary")]
    assert {c["source"] for c in canary_cases} == {"litellm_spend_logs", "otel_genai_spans"}
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as conn:
        ensure_raw_schema(conn)
        for case in canary_cases:
            for f in case["files"]:
                load_file(conn, SOURCES[case["source"]], CORPUS / f["path"], CORPUS, now=NOW)
        for source in ("litellm_spend_logs", "otel_genai_spans"):
            for path in (PROVIDERS / source).iterdir():
                load_file(conn, SOURCES[source], path, PROVIDERS, now=NOW)
        rejects = conn.execute("select source, reason, payload from raw.rejects").fetchall()
        assert len(rejects) == sum(f["rejected"] for c in canary_cases for f in c["files"])
        assert scan_for(conn, CANARY) == []
        # the payload still says which record failed and with what values
        by_reason = {reason: payload for _, reason, payload in rejects}
        spend = next(p for r, p in by_reason.items() if "spend_usd: -1" in r)
        assert json.loads(spend.split(" ", 1)[1])["request_id"] == "chatcmpl-2"
        span = next(p for r, p in by_reason.items() if "'lots'" in r)
        assert json.loads(span.split(" ", 1)[1])["attributes"]["gen_ai_usage_input_tokens"] == "lots"


def test_a_litellm_reject_payload_is_a_whitelist_of_the_fields_read():
    spec = SOURCES["litellm_spend_logs"]
    record = {"request_id": "r1", "spend": -1, "model": "gpt-4o-mini", "messages": [{"content": CANARY}],
              "response": CANARY, "metadata": {"usage_object": {"prompt_tokens": 1}, "error_information": CANARY},
              "requester_ip_address": "10.0.0.1", "cache_key": CANARY}
    payload = json.loads(record_payload(spec, record))
    assert payload == {"request_id": "r1", "spend": -1, "model": "gpt-4o-mini",
                       "metadata": {"usage_object": {"prompt_tokens": 1}}}
    # a record that is not an object at all is withheld, not dumped
    result = parse_bytes(spec, json.dumps([CANARY]).encode(), now=NOW)
    assert result.rows_read == 1 and CANARY not in result.rejects[0].payload

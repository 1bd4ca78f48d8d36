"""Provider and gateway exports for the sample, derived from the generated LLM call log.

- OpenAI Usage API and Costs API pages, and Anthropic usage and cost reports: what the
  providers would report for the sample's own OpenAI and Anthropic calls, per day, model and
  workspace, with dated model names as providers write them. The bills agree with the
  token prices except on one planted day (PLANTED_BILLING_DRIFT) where OpenAI bills gpt-4o
  output 5% high: mart_cost_reconciliation must show it.
- LiteLLM SpendLogs (JSON array per day) and OpenTelemetry GenAI spans (OTLP JSON per day):
  extra calls that two agents make outside the platform's gateway. Their prompt and
  response text carries CANARY, which must never reach the warehouse.

Deterministic for the same inputs. Called by generate.py after the call log is written.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np

CANARY = "PRIVATE-PROMPT-CANARY-7f3a"
DATED_MODELS = {
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "claude-sonnet-4-5": "claude-sonnet-4-5-20250929",
    "claude-haiku-4-5": "claude-haiku-4-5-20251001",
}
PLANTED_BILLING_DRIFT = {"day_index": 10, "provider": "openai", "model": "gpt-4o", "line": "output", "factor": Decimal("1.05")}
LITELLM_AGENT = "agt_016"
OTEL_AGENT = "agt_010"
MILLION = Decimal(1_000_000)


def _d(x: float) -> Decimal:
    return Decimal(str(x))


def _hex(*parts) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


def _epoch(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp())


def _iso(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _add(totals, day: str, provider: str, model: str, workspace: str, uncached: int, read: int, write: int, out: int):
    if provider not in ("openai", "anthropic"):
        return
    t = totals[(day, provider, model, workspace)]
    t[0] += uncached
    t[1] += read
    t[2] += write
    t[3] += out
    t[4] += 1


def _daily_call_totals(raw: Path, workspace_of: dict[str, str]):
    """(day, provider, model, workspace) -> [uncached, cache read, cache write, output, requests]."""
    totals: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for path in sorted((raw / "llm_calls").glob("llm_calls_*.jsonl")):
        for line in path.read_text().splitlines():
            c = json.loads(line)
            _add(totals, c["started_at"][:10], c["provider"], c["model"], workspace_of[c["agent_name"]],
                 c["prompt_tokens"] - c["cached_tokens"], c["cached_tokens"], 0, c["completion_tokens"])
    return totals


def _write_pages(path: Path, results: list[dict], bucket: dict, page_size: int) -> None:
    """One page per line, as a script paging the API would save them."""
    pages = [results[i:i + page_size] for i in range(0, len(results), page_size)] or [[]]
    lines = []
    for n, chunk in enumerate(pages):
        more = n < len(pages) - 1
        lines.append(json.dumps({
            "object": "page", "data": [{**bucket, "results": chunk}],
            "has_more": more, "next_page": f"page_{_hex(path.name, n)[:16]}" if more else None,
        }))
    path.write_text("\n".join(lines) + "\n")


def planted_facts(start: date) -> dict:
    drift = PLANTED_BILLING_DRIFT
    return {
        "billing_drift": {"date": (start + timedelta(days=drift["day_index"])).isoformat(), "provider": drift["provider"],
                          "model": drift["model"], "line": drift["line"], "factor": str(drift["factor"])},
        "litellm_agent": LITELLM_AGENT, "otel_agent": OTEL_AGENT, "prompt_canary": CANARY,
    }


def write_provider_exports(raw: Path, seeds: Path, start: date, days: int, seed: int, prices: dict,
                           call_totals: dict | None = None) -> dict[str, int]:
    """`call_totals`: the call log's (day, provider, model, workspace) -> [uncached, cache read,
    cache write, output, requests] if the caller already summed them (generate.py does, from its
    arrays); otherwise they are read back from llm_calls/*.jsonl."""
    raw, seeds = Path(raw), Path(seeds)
    agents = list(csv.DictReader((seeds / "agents.csv").open()))
    workspace_of = {a["agent_name"]: a["workspace_id"] for a in agents}
    by_id = {a["agent_id"]: a for a in agents}
    if call_totals is None:
        totals = _daily_call_totals(raw, workspace_of)
    else:
        totals = defaultdict(lambda: [0, 0, 0, 0, 0], {k: list(v) for k, v in call_totals.items()})
    # the hand-designed sample's agents; a smaller or differently numbered fleet uses its last ones
    litellm_agent = by_id.get(LITELLM_AGENT, agents[-1])
    otel_agent = by_id.get(OTEL_AGENT, agents[-2] if len(agents) > 1 else agents[-1])
    counts = defaultdict(int)
    for folder in ("openai_usage", "openai_costs", "anthropic_usage", "anthropic_costs", "litellm_spend_logs", "otel_genai_spans"):
        (raw / folder).mkdir(parents=True, exist_ok=True)
        for old in (raw / folder).glob(f"{folder}_*"):
            old.unlink()

    for i in range(days):
        day = start + timedelta(days=i)
        key_day = day.isoformat()
        # calls outside the platform's gateway reach the providers too: they are billed
        rng = np.random.default_rng([seed, 7_001, i])
        weekend = day.weekday() >= 5
        extra: list[tuple] = []
        counts["litellm_spend_logs"] += _write_litellm(raw, day, rng, litellm_agent, prices, 4 if weekend else 18, extra)
        counts["otel_genai_spans"] += _write_otel(raw, day, rng, otel_agent, 3 if weekend else 12, extra)
        for call in extra:
            _add(totals, *call)
        rows = sorted((k, v) for k, v in totals.items() if k[0] == key_day)

        # ---- OpenAI usage + costs
        usage, costs = [], []
        for (_, provider, model, workspace), (uncached, cached, _write, out, requests) in rows:
            if provider != "openai":
                continue
            inp = uncached + cached  # OpenAI counts cached tokens inside input tokens
            dated = DATED_MODELS[model]
            usage.append({
                "object": "organization.usage.completions.result", "input_tokens": inp, "output_tokens": out,
                "input_cached_tokens": cached, "input_audio_tokens": 0, "output_audio_tokens": 0,
                "num_model_requests": requests, "project_id": f"proj_{workspace}", "user_id": None,
                "api_key_id": None, "model": dated, "batch": False, "service_tier": "default",
            })
            p = prices[model]
            for line, tokens, usd_per_m in (("input", inp - cached, p["input"]), ("cached input", cached, p["cache_read"]),
                                            ("output", out, p["output"])):
                amount = Decimal(tokens) * _d(usd_per_m) / MILLION
                drift = PLANTED_BILLING_DRIFT
                if (i, provider, model, line) == (drift["day_index"], drift["provider"], drift["model"], drift["line"]):
                    amount *= drift["factor"]
                costs.append({
                    "object": "organization.costs.result",
                    "amount": {"value": float(amount.quantize(Decimal("0.000001"), ROUND_HALF_UP)), "currency": "usd"},
                    "line_item": f"{dated}, {line}", "project_id": f"proj_{workspace}",
                })
        bucket = {"object": "bucket", "start_time": _epoch(day), "end_time": _epoch(day + timedelta(days=1))}
        _write_pages(raw / "openai_usage" / f"openai_usage_{key_day}.jsonl", usage, bucket, page_size=4)
        (raw / "openai_costs" / f"openai_costs_{key_day}.json").write_text(json.dumps(
            {"object": "page", "data": [{**bucket, "results": costs}], "has_more": False, "next_page": None}, indent=1))
        counts["openai_usage"] += len(usage)
        counts["openai_costs"] += len(costs)

        # ---- Anthropic usage + cost reports (cost amounts in cents, as decimal strings)
        usage, costs = [], []
        for (_, provider, model, workspace), (uncached, cached, write, out, requests) in rows:
            if provider != "anthropic":
                continue
            dated = DATED_MODELS[model]
            group = {"workspace_id": workspace, "model": dated, "service_tier": "standard", "context_window": "0-200k"}
            usage.append({
                "uncached_input_tokens": uncached, "cache_read_input_tokens": cached,
                "cache_creation": {"ephemeral_5m_input_tokens": write, "ephemeral_1h_input_tokens": 0},
                "output_tokens": out, "server_tool_use": {"web_search_requests": 0}, "api_key_id": None, **group,
            })
            p = prices[model]
            for token_type, tokens, usd_per_m in (("uncached_input_tokens", uncached, p["input"]),
                                                  ("cache_read_input_tokens", cached, p["cache_read"]),
                                                  # Anthropic's 5-minute cache writes cost 1.25x input
                                                  ("cache_creation.ephemeral_5m_input_tokens", write, p["input"] * 1.25),
                                                  ("output_tokens", out, p["output"])):
                if token_type.startswith("cache_creation") and not tokens:
                    continue
                cents = Decimal(tokens) * _d(usd_per_m) * 100 / MILLION
                costs.append({"currency": "USD", "amount": str(cents.quantize(Decimal("0.0001"), ROUND_HALF_UP)),
                              "description": f"{dated} {token_type}", "cost_type": "tokens", "token_type": token_type,
                              **group})
        page = {"starting_at": _iso(day), "ending_at": _iso(day + timedelta(days=1))}
        (raw / "anthropic_usage" / f"anthropic_usage_{key_day}.json").write_text(json.dumps(
            {"data": [{**page, "results": usage}], "has_more": False, "next_page": None}, indent=1))
        (raw / "anthropic_costs" / f"anthropic_costs_{key_day}.json").write_text(json.dumps(
            {"data": [{**page, "results": costs}], "has_more": False, "next_page": None}, indent=1))
        counts["anthropic_usage"] += len(usage)
        counts["anthropic_costs"] += len(costs)
    return dict(counts)


def _time_in_day(day: date, rng) -> datetime:
    seconds = int(rng.integers(8 * 3600, 19 * 3600))
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(seconds=seconds, milliseconds=int(rng.integers(0, 1000)))


def _write_litellm(raw: Path, day: date, rng, agent: dict, prices: dict, n: int, extra: list) -> int:
    rows = []
    for k in range(n):
        model = "gpt-4o-mini" if k % 3 else "claude-haiku-4-5"
        provider = "openai" if model.startswith("gpt") else "anthropic"
        prompt = int(rng.integers(800, 6000))
        cached = int(rng.integers(0, prompt // 128 + 1)) * 128 if provider == "openai" else 0
        completion = int(rng.integers(50, 900))
        started = _time_in_day(day, rng)
        duration = int(rng.integers(400, 6000))
        p = prices[model]
        spend = (Decimal(prompt - cached) * _d(p["input"]) + Decimal(cached) * _d(p["cache_read"])
                 + Decimal(completion) * _d(p["output"])) / MILLION
        request_id = f"chatcmpl-{_hex('litellm', day, k)[:24]}"
        extra.append((started.date().isoformat(), provider, model, agent["workspace_id"], prompt - cached, cached, 0, completion))
        rows.append({
            "request_id": request_id, "call_type": "acompletion", "api_key": _hex("key", agent["agent_id"]),
            "spend": float(spend.quantize(Decimal("0.0000001"))), "total_tokens": prompt + completion,
            "prompt_tokens": prompt, "completion_tokens": completion,
            "startTime": started.isoformat(), "endTime": (started + timedelta(milliseconds=duration)).isoformat(),
            "request_duration_ms": duration, "model": model, "model_group": model, "custom_llm_provider": provider,
            "api_base": None, "user": agent["owner_user_id"],
            "metadata": {"user_api_key_team_alias": agent["workspace_id"],
                         "usage_object": {"prompt_tokens": prompt, "completion_tokens": completion,
                                          "total_tokens": prompt + completion,
                                          "prompt_tokens_details": {"cached_tokens": cached}}},
            "cache_hit": "False", "request_tags": ["notebook"], "team_id": agent["workspace_id"],
            "end_user": None, "agent_id": agent["agent_id"], "session_id": f"sess_{_hex(day, k // 4)[:12]}",
            "status": "success",
            "messages": [{"role": "user", "content": f"{CANARY}: summarise the ledger for {day}"}],
            "response": {"choices": [{"message": {"content": f"{CANARY} reply"}}]},
        })
    (raw / "litellm_spend_logs" / f"litellm_spend_logs_{day.isoformat()}.json").write_text(json.dumps(rows, indent=1))
    return len(rows)


def _attr(key: str, value) -> dict:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    return {"key": key, "value": {"stringValue": str(value)}}


def _write_otel(raw: Path, day: date, rng, agent: dict, n: int, extra: list) -> int:
    spans = []
    for k in range(n):
        started = _time_in_day(day, rng)
        duration_ns = int(rng.integers(500, 9000)) * 1_000_000
        uncached = int(rng.integers(1000, 9000))
        cache_read = int(rng.integers(0, 4)) * 1024
        cache_write = 2048 if k % 5 == 0 else 0
        output = int(rng.integers(100, 1500))
        start_ns = int(started.timestamp()) * 10**9 + started.microsecond * 1000
        trace = _hex("trace", day, k)[:32]
        extra.append((day.isoformat(), "anthropic", "claude-sonnet-4-5", agent["workspace_id"], uncached, cache_read, cache_write, output))
        spans.append({
            "traceId": trace, "spanId": _hex("span", day, k)[:16], "parentSpanId": "", "name": "chat claude-sonnet-4-5",
            "kind": 3, "startTimeUnixNano": str(start_ns), "endTimeUnixNano": str(start_ns + duration_ns),
            "attributes": [
                _attr("gen_ai.operation.name", "chat"), _attr("gen_ai.provider.name", "anthropic"),
                _attr("gen_ai.request.model", "claude-sonnet-4-5"),
                _attr("gen_ai.response.model", DATED_MODELS["claude-sonnet-4-5"]),
                # OTel counts cached tokens inside input tokens
                _attr("gen_ai.usage.input_tokens", uncached + cache_read + cache_write),
                _attr("gen_ai.usage.output_tokens", output),
                _attr("gen_ai.usage.cache_read.input_tokens", cache_read),
                _attr("gen_ai.usage.cache_creation.input_tokens", cache_write),
                _attr("gen_ai.agent.id", agent["agent_id"]), _attr("gen_ai.agent.name", agent["agent_name"]),
                _attr("gen_ai.conversation.id", f"conv_{_hex(day, k // 3)[:12]}"),
                _attr("gen_ai.input.messages", json.dumps([{"role": "user", "parts": [{"type": "text", "content": CANARY}]}])),
            ],
            "status": {"code": 1},
        })
        if k == 0:  # other telemetry in the same export: not a GenAI span
            spans.append({"traceId": trace, "spanId": _hex("http", day)[:16], "parentSpanId": "", "name": "GET /health",
                          "kind": 2, "startTimeUnixNano": str(start_ns), "endTimeUnixNano": str(start_ns + 1_000_000),
                          "attributes": [_attr("http.request.method", "GET")], "status": {"code": 0}})
    document = {"resourceSpans": [{
        "resource": {"attributes": [_attr("service.name", "research-agent"), _attr("service.version", "1.4.2")]},
        "scopeSpans": [{"scope": {"name": "opentelemetry.instrumentation.anthropic", "version": "0.40.0"}, "spans": spans}],
    }]}
    (raw / "otel_genai_spans" / f"otel_genai_spans_{day.isoformat()}.json").write_text(json.dumps(document, indent=1))
    return n

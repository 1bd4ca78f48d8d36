"""One token convention: every provider's usage object mapped onto disjoint token buckets.

Providers disagree on what "input tokens" means. OpenAI (Chat and Responses), Gemini, OTel
GenAI and the OpenAI-shaped gateways (Groq, OpenRouter, LiteLLM, Mistral, DeepSeek) count
cached tokens *inside* input tokens; Anthropic and Bedrock Converse report uncached input,
cache reads and cache writes *apart*. Gemini and xAI report reasoning ("thoughts") apart
from output, OpenAI and Anthropic count it inside output. Cache writes cost more than
plain input, and Anthropic's 1-hour writes more than its 5-minute ones.

`normalize_usage` detects the shape of one usage object and returns `TokenBuckets`:

    input side   uncached_input_tokens + cache_read_tokens + cache_write_tokens
                 (cache_write_tokens = cache_write_5m_tokens + cache_write_1h_tokens)
    output side  output_tokens  (reasoning_tokens, when known, is *part of* output_tokens)

so that no token is counted twice, plus the provider's own totals (`provider_input_total`,
`provider_output_total`, `provider_total`, None where the provider gives none), which the
buckets are checked against. Anything that cannot be mapped honestly (negative or
non-integer counts, missing required fields, parts larger than their whole, totals that the
buckets cannot sum to) raises `UsageRejected` with the reason; nothing is guessed.

Pure Python: no Dagster, no database.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["TokenBuckets", "UsageRejected", "normalize_usage"]


class UsageRejected(ValueError):
    """A usage object that cannot be mapped onto token buckets honestly; str() is the reason."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class TokenBuckets:
    """Disjoint token buckets of one LLM call (or one usage-report bucket).

    Every count is an int >= 0 except `reasoning_tokens` and the provider totals, which are
    None when the provider does not report them.

    - uncached_input_tokens: input tokens billed at the plain input price.
    - cache_read_tokens: input tokens served from a prompt cache (cache-read price).
    - cache_write_tokens: input tokens written to a prompt cache, all TTLs
      (= cache_write_5m_tokens + cache_write_1h_tokens). Writes whose TTL the provider does
      not report are counted as 5-minute writes (the default TTL where TTLs exist).
    - cache_write_5m_tokens, cache_write_1h_tokens: the writes by cache TTL.
    - output_tokens: every output token billed at the output price, reasoning included.
    - reasoning_tokens: the reasoning/thinking part of output_tokens, None if unreported.
      It is always *inside* output_tokens here; `reasoning_in_provider_output` says whether
      the provider's own output figure included it (OpenAI, Anthropic: True) or reported it
      apart (Gemini thoughtsTokenCount, xAI: False).
    - provider_input_total: the provider's own count of the whole input side (OpenAI
      prompt_tokens / input_tokens, OTel gen_ai.usage.input_tokens, Gemini promptTokenCount +
      toolUsePromptTokenCount), None when the provider only reports disjoint parts
      (Anthropic, Bedrock Converse).
    - provider_output_total: the provider's own count of the whole output side, None when it
      reports output in parts (Gemini candidates + thoughts, xAI completion + reasoning).
    - provider_total: the provider's total_tokens / totalTokenCount / totalTokens, or None.
    - shape: the usage shape detected (openai_chat, openai_responses, anthropic, bedrock_converse,
      gemini, otel_genai, deepseek, cohere).
    """

    shape: str
    uncached_input_tokens: int
    cache_read_tokens: int
    cache_write_5m_tokens: int
    cache_write_1h_tokens: int
    output_tokens: int
    reasoning_tokens: int | None = None
    reasoning_in_provider_output: bool | None = None
    provider_input_total: int | None = None
    provider_output_total: int | None = None
    provider_total: int | None = None

    @property
    def cache_write_tokens(self) -> int:
        return self.cache_write_5m_tokens + self.cache_write_1h_tokens

    @property
    def input_tokens(self) -> int:
        """The whole input side: uncached + cache reads + cache writes."""
        return self.uncached_input_tokens + self.cache_read_tokens + self.cache_write_tokens

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def as_dict(self) -> dict[str, Any]:
        """Every field plus the derived cache_write_tokens, input_tokens and total_tokens."""
        out = {name: getattr(self, name) for name in self.__dataclass_fields__}
        out.update(cache_write_tokens=self.cache_write_tokens, input_tokens=self.input_tokens,
                   total_tokens=self.total_tokens)
        return out


_MISSING = object()
_ANTHROPIC_PROVIDERS = ("anthropic", "claude")
_XAI_PROVIDERS = ("x-ai", "xai", "grok")


def _count(usage: Mapping, path: str, *, required: bool = False) -> int | None:
    """An integer token count at a dotted path; None when absent (or JSON null)."""
    value: Any = usage
    for part in path.split("."):
        if not isinstance(value, Mapping):
            value = _MISSING
            break
        value = value.get(part, _MISSING)
    if value is _MISSING or value is None:
        if required:
            raise UsageRejected(f"missing required field {path}")
        return None
    if isinstance(value, bool):
        raise UsageRejected(f"{path} is not an integer: {value!r}")
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")) or not value.is_integer():
            raise UsageRejected(f"{path} is not an integer: {value!r}")
        value = int(value)
    if not isinstance(value, int):
        raise UsageRejected(f"{path} is not an integer: {value!r}")
    if value < 0:
        raise UsageRejected(f"{path} is negative: {value}")
    return value


def _one_of(usage: Mapping, *paths: str) -> int | None:
    """The same quantity reported under several names: they must agree."""
    found = {p: v for p in paths if (v := _count(usage, p)) is not None}
    values = set(found.values())
    if len(values) > 1:
        raise UsageRejected("fields disagree: " + ", ".join(f"{p}={v}" for p, v in found.items()))
    return values.pop() if values else None


def _check_total(shape: str, buckets_total: int, provider_total: int | None, name: str):
    if provider_total is not None and provider_total != buckets_total:
        raise UsageRejected(f"{shape}: {name}={provider_total} but the buckets sum to {buckets_total}")


def _unwrap(usage: Mapping) -> Mapping:
    """Accept a whole response body as well as its usage object."""
    for key in ("usageMetadata", "usage"):
        inner = usage.get(key)
        if isinstance(inner, Mapping) and not any(k in usage for k in ("prompt_tokens", "input_tokens", "inputTokens")):
            return inner
    return usage


def normalize_usage(usage: Mapping, provider: str | None = None) -> TokenBuckets:
    """Map one provider usage object onto disjoint token buckets, or raise UsageRejected.

    The shape is detected from the keys; `provider` (e.g. "anthropic", "openai", "x-ai") only
    settles the cases the keys leave open (a bare {input_tokens, output_tokens} object is
    read as Anthropic's convention when the provider is Anthropic; xAI's reasoning tokens
    are outside completion_tokens when no total_tokens says otherwise).
    """
    if not isinstance(usage, Mapping):
        raise UsageRejected(f"usage is not an object: {type(usage).__name__}")
    usage = _unwrap(usage)
    if not usage:
        raise UsageRejected("empty usage object")
    p = (provider or "").strip().lower()

    if any(isinstance(k, str) and k.startswith("gen_ai.usage.") for k in usage):
        return _otel(usage)
    if any(k in usage for k in ("promptTokenCount", "candidatesTokenCount", "totalTokenCount")):
        return _gemini(usage)
    if any(k in usage for k in ("inputTokens", "outputTokens")):
        return _bedrock(usage)
    if "billed_units" in usage:
        return _cohere(usage)
    if "input_tokens" in usage or "output_tokens" in usage:
        anthropic_keys = any(k in usage for k in ("cache_creation_input_tokens", "cache_read_input_tokens", "cache_creation"))
        # output_tokens_details is in both (reasoning_tokens / thinking_tokens): not a discriminator
        openai_keys = any(k in usage for k in ("input_tokens_details", "total_tokens"))
        if anthropic_keys and not openai_keys:
            return _anthropic(usage)
        if openai_keys and not anthropic_keys:
            return _openai_responses(usage)
        if not anthropic_keys and not openai_keys:
            return _anthropic(usage) if p.startswith(_ANTHROPIC_PROVIDERS) else _openai_responses(usage)
        raise UsageRejected("ambiguous usage: both Anthropic cache fields and OpenAI Responses detail fields")
    if "prompt_cache_hit_tokens" in usage or "prompt_cache_miss_tokens" in usage:
        return _openai_chat(usage, p, shape="deepseek")
    if "prompt_tokens" in usage or "completion_tokens" in usage:
        return _openai_chat(usage, p)
    raise UsageRejected("unrecognised usage shape: keys " + ", ".join(sorted(map(str, usage))))


# ------------------------------------------------------------------ shapes


def _openai_chat(u: Mapping, provider: str, shape: str = "openai_chat") -> TokenBuckets:
    """OpenAI Chat Completions and the gateways that copy it (Groq, OpenRouter, LiteLLM's
    usage_object, Mistral, DeepSeek, Hugging Face): prompt_tokens includes cache reads (and
    OpenRouter's / LiteLLM's cache writes); completion_tokens includes reasoning."""
    prompt = _count(u, "prompt_tokens", required=True)
    completion = _count(u, "completion_tokens")
    total = _count(u, "total_tokens")
    if completion is None:
        # embeddings report prompt tokens only
        if total is not None and total != prompt:
            raise UsageRejected(f"{shape}: completion_tokens missing and total_tokens={total} != prompt_tokens={prompt}")
        completion = 0
    cached = _one_of(u, "prompt_tokens_details.cached_tokens", "cached_tokens", "num_cached_tokens",
                     "cache_read_input_tokens", "prompt_cache_hit_tokens") or 0
    written = _one_of(u, "prompt_tokens_details.cache_write_tokens", "cache_creation_input_tokens") or 0
    miss = _count(u, "prompt_cache_miss_tokens")
    if miss is not None and miss + cached != prompt:
        raise UsageRejected(f"{shape}: prompt_cache_hit_tokens + prompt_cache_miss_tokens = {miss + cached} != prompt_tokens={prompt}")
    uncached = prompt - cached - written
    if uncached < 0:
        raise UsageRejected(f"{shape}: cache reads {cached} + cache writes {written} exceed prompt_tokens={prompt}")
    reasoning = _count(u, "completion_tokens_details.reasoning_tokens")
    if reasoning is None:
        reasoning = _count(u, "reasoning_tokens")
    inside = True
    if total is not None and total != prompt + completion:
        if reasoning and total == prompt + completion + reasoning:
            inside = False  # xAI: completion_tokens excludes reasoning, total_tokens includes it
        else:
            raise UsageRejected(f"{shape}: total_tokens={total} != prompt_tokens + completion_tokens = {prompt + completion}")
    elif total is None and reasoning and provider.startswith(_XAI_PROVIDERS):
        inside = False
    if inside and reasoning is not None and reasoning > completion:
        raise UsageRejected(f"{shape}: reasoning_tokens={reasoning} exceed completion_tokens={completion}")
    output = completion if inside else completion + (reasoning or 0)
    return TokenBuckets(
        shape=shape, uncached_input_tokens=uncached, cache_read_tokens=cached, cache_write_5m_tokens=written,
        cache_write_1h_tokens=0, output_tokens=output, reasoning_tokens=reasoning,
        reasoning_in_provider_output=inside if reasoning is not None else None,
        provider_input_total=prompt, provider_output_total=completion if inside else None, provider_total=total)


def _openai_responses(u: Mapping) -> TokenBuckets:
    """OpenAI Responses API (and OpenRouter's): input_tokens includes cached tokens and cache
    writes (input_tokens_details), output_tokens includes reasoning."""
    shape = "openai_responses"
    inp = _count(u, "input_tokens", required=True)
    out = _count(u, "output_tokens", required=True)
    total = _count(u, "total_tokens")
    cached = _count(u, "input_tokens_details.cached_tokens") or 0
    written = _count(u, "input_tokens_details.cache_write_tokens") or 0
    uncached = inp - cached - written
    if uncached < 0:
        raise UsageRejected(f"{shape}: cached_tokens {cached} + cache_write_tokens {written} exceed input_tokens={inp}")
    reasoning = _count(u, "output_tokens_details.reasoning_tokens")
    if reasoning is not None and reasoning > out:
        raise UsageRejected(f"{shape}: reasoning_tokens={reasoning} exceed output_tokens={out}")
    b = TokenBuckets(
        shape=shape, uncached_input_tokens=uncached, cache_read_tokens=cached, cache_write_5m_tokens=written,
        cache_write_1h_tokens=0, output_tokens=out, reasoning_tokens=reasoning,
        reasoning_in_provider_output=True if reasoning is not None else None,
        provider_input_total=inp, provider_output_total=out, provider_total=total)
    _check_total(shape, b.total_tokens, total, "total_tokens")
    return b


def _anthropic(u: Mapping) -> TokenBuckets:
    """Anthropic Messages: input_tokens excludes cache reads and writes, which are reported
    apart (cache_creation_input_tokens split by TTL in cache_creation.ephemeral_*)."""
    shape = "anthropic"
    uncached = _count(u, "input_tokens", required=True)
    out = _count(u, "output_tokens", required=True)
    read = _count(u, "cache_read_input_tokens") or 0
    written = _count(u, "cache_creation_input_tokens")
    w5 = _count(u, "cache_creation.ephemeral_5m_input_tokens")
    w1 = _count(u, "cache_creation.ephemeral_1h_input_tokens")
    if w5 is None and w1 is None:
        w5, w1 = written or 0, 0
    else:
        w5, w1 = w5 or 0, w1 or 0
        if written is not None and w5 + w1 != written:
            raise UsageRejected(f"{shape}: cache_creation 5m {w5} + 1h {w1} != cache_creation_input_tokens={written}")
    reasoning = _count(u, "output_tokens_details.thinking_tokens")
    if reasoning is not None and reasoning > out:
        raise UsageRejected(f"{shape}: thinking_tokens={reasoning} exceed output_tokens={out}")
    iterations = u.get("iterations")
    if isinstance(iterations, list) and iterations:
        # server-side iterations (compaction, advisor): the top-level usage must be their sum,
        # else the call was billed over several iterations/models that one row cannot carry
        def summed(key):
            return sum(_count(it, key) or 0 for it in iterations if isinstance(it, Mapping))

        top = (uncached, out, read, w5 + w1)
        parts = (summed("input_tokens"), summed("output_tokens"), summed("cache_read_input_tokens"),
                 summed("cache_creation_input_tokens"))
        if top != parts:
            kinds = sorted({str(it.get("type")) for it in iterations if isinstance(it, Mapping)})
            raise UsageRejected(
                f"{shape}: usage spans billing iterations ({', '.join(kinds)}) whose tokens "
                f"(input, output, cache read, cache write) {parts} differ from the top-level usage {top}")
    return TokenBuckets(
        shape=shape, uncached_input_tokens=uncached, cache_read_tokens=read, cache_write_5m_tokens=w5,
        cache_write_1h_tokens=w1, output_tokens=out, reasoning_tokens=reasoning,
        reasoning_in_provider_output=True if reasoning is not None else None,
        provider_input_total=None, provider_output_total=out, provider_total=None)


def _bedrock(u: Mapping) -> TokenBuckets:
    """Bedrock Converse: inputTokens excludes cache reads and writes (cacheRead/WriteInputTokens,
    or the *Count spelling), totalTokens covers all of them plus output; cacheDetails splits
    writes by TTL."""
    shape = "bedrock_converse"
    uncached = _count(u, "inputTokens", required=True)
    out = _count(u, "outputTokens", required=True)
    total = _count(u, "totalTokens")
    read = _one_of(u, "cacheReadInputTokens", "cacheReadInputTokenCount") or 0
    written = _one_of(u, "cacheWriteInputTokens", "cacheWriteInputTokenCount") or 0
    by_ttl = {"5m": 0, "1h": 0}
    details = u.get("cacheDetails")
    if details is not None:
        if not isinstance(details, list):
            raise UsageRejected(f"{shape}: cacheDetails is not a list")
        for i, d in enumerate(details):
            ttl = d.get("ttl") if isinstance(d, Mapping) else None
            if ttl not in by_ttl:
                raise UsageRejected(f"{shape}: cacheDetails[{i}] has unknown ttl {ttl!r}")
            by_ttl[ttl] += _count(d, "inputTokens", required=True)
        if details and by_ttl["5m"] + by_ttl["1h"] != written:
            raise UsageRejected(f"{shape}: cacheDetails sum {by_ttl['5m'] + by_ttl['1h']} != cacheWriteInputTokens={written}")
    w1 = by_ttl["1h"]
    b = TokenBuckets(
        shape=shape, uncached_input_tokens=uncached, cache_read_tokens=read, cache_write_5m_tokens=written - w1,
        cache_write_1h_tokens=w1, output_tokens=out, provider_input_total=None, provider_output_total=out,
        provider_total=total)
    _check_total(shape, b.total_tokens, total, "totalTokens")
    return b


def _gemini(u: Mapping) -> TokenBuckets:
    """Gemini usageMetadata: promptTokenCount includes cachedContentTokenCount; tool-use
    prompt tokens and thoughts are reported apart (toolUsePromptTokenCount is billed as
    input, thoughtsTokenCount as output); totalTokenCount is their sum."""
    shape = "gemini"
    prompt = _count(u, "promptTokenCount", required=True)
    candidates = _count(u, "candidatesTokenCount") or 0
    thoughts = _count(u, "thoughtsTokenCount")
    tool = _count(u, "toolUsePromptTokenCount") or 0
    cached = _count(u, "cachedContentTokenCount") or 0
    total = _count(u, "totalTokenCount")
    if cached > prompt:
        raise UsageRejected(f"{shape}: cachedContentTokenCount={cached} exceeds promptTokenCount={prompt}")
    b = TokenBuckets(
        shape=shape, uncached_input_tokens=prompt - cached + tool, cache_read_tokens=cached, cache_write_5m_tokens=0,
        cache_write_1h_tokens=0, output_tokens=candidates + (thoughts or 0), reasoning_tokens=thoughts,
        reasoning_in_provider_output=False if thoughts is not None else None,
        provider_input_total=prompt + tool, provider_output_total=None if thoughts else candidates,
        provider_total=total)
    _check_total(shape, b.total_tokens, total, "totalTokenCount")
    return b


def _otel(u: Mapping) -> TokenBuckets:
    """OpenTelemetry GenAI semantic conventions: gen_ai.usage.input_tokens includes cache reads
    and cache writes (gen_ai.usage.cache_read.input_tokens, gen_ai.usage.cache_creation.input_tokens);
    pre-1.27 instrumentations say prompt_tokens / completion_tokens."""
    shape = "otel_genai"
    inp = _flat_one_of(u, "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
    out = _flat_one_of(u, "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")
    if inp is None:
        raise UsageRejected("missing required field gen_ai.usage.input_tokens")
    if out is None:
        raise UsageRejected("missing required field gen_ai.usage.output_tokens")
    read = _flat(u, "gen_ai.usage.cache_read.input_tokens") or 0
    written = _flat(u, "gen_ai.usage.cache_creation.input_tokens") or 0
    if read + written > inp:
        raise UsageRejected(f"{shape}: cache reads {read} + cache writes {written} exceed gen_ai.usage.input_tokens={inp}")
    return TokenBuckets(
        shape=shape, uncached_input_tokens=inp - read - written, cache_read_tokens=read, cache_write_5m_tokens=written,
        cache_write_1h_tokens=0, output_tokens=out, provider_input_total=inp, provider_output_total=out)


def _flat(u: Mapping, key: str) -> int | None:
    """A count under a flat (dotted) attribute name, as OTel attribute dicts carry them."""
    if key not in u:
        return None
    try:
        return _count({"v": u[key]}, "v")
    except UsageRejected as exc:
        raise UsageRejected(str(exc).replace("v ", f"{key} ", 1)) from None


def _flat_one_of(u: Mapping, *keys: str) -> int | None:
    found = {k: v for k in keys if (v := _flat(u, k)) is not None}
    if len(set(found.values())) > 1:
        raise UsageRejected("fields disagree: " + ", ".join(f"{k}={v}" for k, v in found.items()))
    return next(iter(found.values()), None)


def _cohere(u: Mapping) -> TokenBuckets:
    """Cohere: billed_units is what is charged; `tokens` counts the prompt template as well and
    cached_tokens is reported against `tokens`, so cache reads cannot be placed in billed input."""
    shape = "cohere"
    inp = _count(u, "billed_units.input_tokens", required=True)
    out = _count(u, "billed_units.output_tokens") or 0
    if _count(u, "billed_units.image_tokens"):
        raise UsageRejected(f"{shape}: billed image tokens are priced apart from text tokens")
    if _count(u, "cached_tokens"):
        raise UsageRejected(f"{shape}: cached_tokens={u['cached_tokens']} are counted against `tokens`, "
                            f"not billed_units.input_tokens={inp}; cache reads cannot be placed")
    return TokenBuckets(
        shape=shape, uncached_input_tokens=inp, cache_read_tokens=0, cache_write_5m_tokens=0, cache_write_1h_tokens=0,
        output_tokens=out, provider_input_total=inp, provider_output_total=out)

{#- Money is DECIMAL end to end. Per-row costs keep 12 decimals (far below a cent), so
    every sum over them is exact and reconciles to the cent with any other sum. -#}
{% macro money(expr) -%}
    cast({{ expr }} as decimal(24, 12))
{%- endmacro %}

{#- tokens x USD per million tokens, exactly: multiplying by 0.000001 keeps DECIMAL,
    where dividing by 1e6 would turn it into a float. -#}
{% macro usd_for_tokens(tokens, usd_per_mtok) -%}
    (cast({{ tokens }} as decimal(18, 0)) * {{ usd_per_mtok }} * cast(0.000001 as decimal(7, 6)))
{%- endmacro %}

{#- Token cost from disjoint buckets: uncached input, cache reads, cache writes (all of
    them; the 1-hour ones among them, if given, at the 1-hour write price), output. -#}
{% macro token_cost(uncached_input, cache_read, cache_write, output, price, cache_write_1h=none) -%}
    {%- set terms = [
        usd_for_tokens(uncached_input, price ~ '.input_usd_per_mtok'),
        usd_for_tokens(cache_read, price ~ '.cached_input_usd_per_mtok')] -%}
    {%- if cache_write_1h is none -%}
        {%- do terms.append(usd_for_tokens(cache_write, price ~ '.cache_write_usd_per_mtok')) -%}
    {%- else -%}
        {%- do terms.append(usd_for_tokens('(' ~ cache_write ~ ' - ' ~ cache_write_1h ~ ')', price ~ '.cache_write_usd_per_mtok')) -%}
        {%- do terms.append(usd_for_tokens(cache_write_1h, price ~ '.cache_write_1h_usd_per_mtok')) -%}
    {%- endif -%}
    {%- do terms.append(usd_for_tokens(output, price ~ '.output_usd_per_mtok')) -%}
    {#- The sum has 24 decimals. Rounding it to 12 first gives the value the cast alone
        would (both round half away from zero) in half the time: DuckDB's cast to fewer
        decimals divides 128-bit integers the slow way (10M calls: 1.8-2.1 s against
        3.9-4.6 s, 2 threads). -#}
    {{ money('round(' ~ terms | join(' + ') ~ ', 12)') }}
{%- endmacro %}

{#- Order-independent aggregates of float measures: DuckDB sums doubles in parallel, in an
    order that varies between runs, so the last bits of a float sum (and a rebuild's bytes)
    could change. Summing in DECIMAL is exact, hence the same on every run. -#}
{% macro exact_sum(expr) -%}
    sum(cast({{ expr }} as decimal(28, 9)))
{%- endmacro %}

{% macro exact_avg(expr) -%}
    (cast({{ exact_sum(expr) }} as double) / count({{ expr }}))
{%- endmacro %}

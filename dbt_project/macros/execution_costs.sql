{#- Every cost of an execution, computed once: tokens x the model price in force at the
    execution's start, resource use x the compute rate card. The price version used is
    kept (price_valid_from, and price_source: 'genai-prices' catalog or 'override' seed) so a
    past month re-prices the same tomorrow unless a price for it changed.
    windowed: only the executions of the run's rebuild days (see int_rebuild_days). -#}
{% macro execution_costs(windowed=false) %}
with executions as (

    {%- if windowed %}
    {{ canonical_executions(windowed=true) }}
    {%- else %}
    select * from {{ ref('int_executions') }}
    {%- endif %}

),

prices as (

    select * from {{ ref('int_model_prices') }}

),

rates as (

    select * from {{ ref('int_compute_rates') }}

),

api_calls as (

    select
        execution_id,
        count(*) as api_calls,
        sum(cost_usd) as api_cost
    {%- if windowed %}
    from ({{ canonical_api_calls(candidates='execution_id in (select execution_id from executions)') }}) as windowed_api_calls
    {%- else %}
    from {{ ref('int_api_calls') }}
    {%- endif %}
    where execution_id is not null
    group by execution_id

),

priced as (

    select
        executions.*,
        prices.valid_from as price_valid_from,
        prices.price_source,
        prices.input_usd_per_mtok,
        prices.cached_input_usd_per_mtok,
        prices.cache_write_usd_per_mtok,
        prices.output_usd_per_mtok,
        prices.context_window_tokens
    from executions
    {{ join_price_in_force('executions', 'started_at', provider_optional='llm_provider') }}

),

costed as (

    select
        priced.*,
        coalesce(api_calls.api_calls, 0) as api_calls_logged,
        {{ money('priced.cpu_core_seconds * rates.cpu_usd_per_core_hour / 3600') }} as cpu_cost,
        {{ money('priced.memory_mb_seconds * rates.memory_usd_per_gb_hour / (1024 * 3600)') }} as memory_cost,
        {{ money('priced.gpu_compute_units * rates.gpu_usd_per_compute_unit') }} as gpu_cost,
        {{ money('priced.persistent_storage_mb * rates.storage_usd_per_gb_month / 1024') }} as storage_cost,
        {{ money('(priced.network_bytes_in + priced.network_bytes_out) * rates.network_usd_per_gb / 1073741824') }} as network_cost,
        {{ token_cost('priced.uncached_input_tokens', 'priced.cached_input_tokens', '0', 'priced.output_tokens', 'priced') }} as token_cost,
        {{ money('coalesce(api_calls.api_cost, 0)') }} as api_cost
    from priced
    cross join rates
    left join api_calls on priced.execution_id = api_calls.execution_id

)

select
    *,
    price_valid_from is not null as is_token_cost_priced,
    {{ money('cpu_cost + memory_cost + gpu_cost') }} as compute_cost,
    {{ money('cpu_cost + memory_cost + gpu_cost + storage_cost + network_cost + coalesce(token_cost, 0) + api_cost') }} as total_cost
from costed
{% endmacro %}

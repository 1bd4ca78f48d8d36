-- The DuckDB floor: the headline marts straight from the raw export files, in one DuckDB
-- process, with no orchestration, no quarantine, no lineage columns and no tests: the
-- least work that produces the same numbers on this machine. benchmarks/scale.py runs it
-- with ${RAW} = the landing zone and ${REF} = reference tables exported from the built
-- warehouse as Parquet (agents, budgets, compute_rate_card seeds; the effective-dated model
-- price table int_model_prices, which the warehouse derives from genai-prices).
--
-- Same semantics as the dbt models (dbt_project/models): disjoint token buckets, the price
-- in force when the event started, the rate card in human units, DECIMAL money with 12
-- decimals per row, one copy per key (first file by name; the latest FOCUS file wins), the
-- cloud bill split in proportion to direct cost with the remainder on the largest share.

create temp table agents as select * from read_parquet('${REF}/agents.parquet');
create temp table budgets as select * from read_parquet('${REF}/budgets.parquet');
create temp table prices as select * from read_parquet('${REF}/model_prices.parquet');
create temp table rates as
select
    max(case when resource = 'cpu' and unit = 'core_hour' then usd_per_unit end) as cpu_usd_per_core_hour,
    max(case when resource = 'memory' and unit = 'gb_hour' then usd_per_unit end) as memory_usd_per_gb_hour,
    max(case when resource = 'gpu' and unit = 'compute_unit' then usd_per_unit end) as gpu_usd_per_compute_unit,
    max(case when resource = 'network' and unit = 'gb' then usd_per_unit end) as network_usd_per_gb,
    max(case when resource = 'storage' and unit = 'gb_month' then usd_per_unit end) as storage_usd_per_gb_month
from read_parquet('${REF}/compute_rate_card.parquet');

-- ---------------------------------------------------------------- API calls
create temp table api as
select
    request_id, execution_id, api.agent_id,
    coalesce(api.workspace_id, agents.workspace_id) as workspace_id,
    cast(cast("timestamp" as timestamptz) at time zone 'UTC' as date) as usage_date,
    cast(cost_usd as decimal(20, 10)) as cost_usd
from read_csv('${RAW}/api_calls/*.csv', header = true, filename = true, types = {
    'request_id': 'VARCHAR', 'execution_id': 'VARCHAR', 'agent_id': 'VARCHAR', 'workspace_id': 'VARCHAR',
    'timestamp': 'VARCHAR', 'cost_usd': 'DECIMAL(20,10)'}) as api
left join agents on api.agent_id = agents.agent_id
qualify row_number() over (partition by request_id order by filename) = 1;

-- ---------------------------------------------------------------- executions, priced
create temp table executions as
with raw as (
    select
        execution_id, agent_id, workspace_id, status,
        cast(cast("timestamp" as timestamptz) at time zone 'UTC' as timestamp) as started_at,
        cast(compute_resources.cpu_usage.core_seconds as decimal(18, 3)) as cpu_core_seconds,
        cast(compute_resources.memory_usage.mb_seconds as decimal(20, 3)) as memory_mb_seconds,
        coalesce(cast(compute_resources.gpu_usage.compute_units as decimal(18, 3)), 0) as gpu_compute_units,
        compute_resources.network_io.bytes_in as bytes_in,
        compute_resources.network_io.bytes_out as bytes_out,
        llm_resources.provider as llm_provider,
        llm_resources.model as model,
        llm_resources.input_tokens as input_tokens,
        coalesce(llm_resources.prompt_cache_hits, 0) as cached_input_tokens,
        llm_resources.output_tokens as output_tokens,
        llm_resources.total_tokens as total_tokens,
        coalesce(cast(storage_resources.persistent_storage_mb as decimal(18, 3)), 0) as persistent_storage_mb
    from read_json('${RAW}/executions/*.jsonl', format = 'newline_delimited', filename = true, columns = {
        'execution_id': 'VARCHAR', 'agent_id': 'VARCHAR', 'workspace_id': 'VARCHAR', 'status': 'VARCHAR',
        'timestamp': 'VARCHAR',
        'compute_resources': 'STRUCT(cpu_usage STRUCT(core_seconds DOUBLE), memory_usage STRUCT(mb_seconds DOUBLE),
            gpu_usage STRUCT(compute_units DOUBLE), network_io STRUCT(bytes_in BIGINT, bytes_out BIGINT))',
        'llm_resources': 'STRUCT(provider VARCHAR, model VARCHAR, input_tokens BIGINT, output_tokens BIGINT,
            total_tokens BIGINT, prompt_cache_hits BIGINT)',
        'storage_resources': 'STRUCT(persistent_storage_mb DOUBLE)'})
    qualify row_number() over (partition by execution_id order by filename) = 1
)
select
    raw.execution_id, raw.agent_id, raw.workspace_id, raw.status, raw.model,
    cast(raw.started_at as date) as usage_date,
    raw.input_tokens, raw.input_tokens - raw.cached_input_tokens as uncached_input_tokens,
    raw.cached_input_tokens, raw.output_tokens, raw.total_tokens,
    cast(raw.cpu_core_seconds * rates.cpu_usd_per_core_hour / 3600 as decimal(24, 12)) as cpu_cost,
    cast(raw.memory_mb_seconds * rates.memory_usd_per_gb_hour / (1024 * 3600) as decimal(24, 12)) as memory_cost,
    cast(raw.gpu_compute_units * rates.gpu_usd_per_compute_unit as decimal(24, 12)) as gpu_cost,
    cast(raw.persistent_storage_mb * rates.storage_usd_per_gb_month / 1024 as decimal(24, 12)) as storage_cost,
    cast((raw.bytes_in + raw.bytes_out) * rates.network_usd_per_gb / 1073741824 as decimal(24, 12)) as network_cost,
    cast(cast(raw.input_tokens - raw.cached_input_tokens as decimal(18, 0)) * p.input_usd_per_mtok * cast(0.000001 as decimal(7, 6))
         + cast(raw.cached_input_tokens as decimal(18, 0)) * p.cached_input_usd_per_mtok * cast(0.000001 as decimal(7, 6))
         + cast(0 as decimal(18, 0)) * p.cache_write_usd_per_mtok * cast(0.000001 as decimal(7, 6))
         + cast(raw.output_tokens as decimal(18, 0)) * p.output_usd_per_mtok * cast(0.000001 as decimal(7, 6))
         as decimal(24, 12)) as token_cost
from raw
cross join rates
left join prices as p
    on raw.model = p.model
    and (raw.llm_provider is null or raw.llm_provider = p.provider)
    and raw.started_at >= p.valid_from and (p.valid_to is null or raw.started_at < p.valid_to);

-- ---------------------------------------------------------------- LLM calls, every log
create temp table calls as
with gateway as (
    select
        c.call_id, agents.agent_id, agents.workspace_id, c.provider, c.model,
        cast(cast(c.started_at as timestamptz) at time zone 'UTC' as timestamp) as started_at,
        c.prompt_tokens as input_tokens, c.prompt_tokens - coalesce(c.cached_tokens, 0) as uncached_input_tokens,
        coalesce(c.cached_tokens, 0) as cached_input_tokens, cast(0 as bigint) as cache_write_tokens,
        cast(0 as bigint) as cache_write_1h_tokens, c.completion_tokens as output_tokens,
        c.total_tokens, c.latency_ms, c.status = 'success' as is_success, 1 as source_priority, c.filename
    from read_json('${RAW}/llm_calls/*.jsonl', format = 'newline_delimited', filename = true, columns = {
        'call_id': 'VARCHAR', 'agent_name': 'VARCHAR', 'provider': 'VARCHAR', 'model': 'VARCHAR',
        'prompt_tokens': 'BIGINT', 'completion_tokens': 'BIGINT', 'total_tokens': 'BIGINT', 'cached_tokens': 'BIGINT',
        'started_at': 'VARCHAR', 'latency_ms': 'BIGINT', 'status': 'VARCHAR'}) as c
    left join agents on c.agent_name = agents.agent_name
),
litellm_rows as (
    select r, filename
    from read_json('${RAW}/litellm_spend_logs/*.json', format = 'array', filename = true,
                   columns = {'request_id': 'VARCHAR', 'startTime': 'VARCHAR', 'request_duration_ms': 'BIGINT',
                       'model': 'VARCHAR', 'custom_llm_provider': 'VARCHAR', 'prompt_tokens': 'BIGINT',
                       'completion_tokens': 'BIGINT', 'total_tokens': 'BIGINT', 'team_id': 'VARCHAR', 'agent_id': 'VARCHAR',
                       'status': 'VARCHAR',
                       'metadata': 'STRUCT(usage_object STRUCT(prompt_tokens_details STRUCT(cached_tokens BIGINT)))'}) as r
),
litellm as (
    -- LiteLLM reports in the OpenAI shape: cached tokens inside prompt tokens
    select
        r.request_id as call_id, agents.agent_id, coalesce(agents.workspace_id, r.team_id) as workspace_id,
        r.custom_llm_provider as provider,
        regexp_replace(r.model, '-([0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{8})$', '') as model,
        cast(cast(r."startTime" as timestamptz) at time zone 'UTC' as timestamp) as started_at,
        r.prompt_tokens as input_tokens,
        r.prompt_tokens - coalesce(r.metadata.usage_object.prompt_tokens_details.cached_tokens, 0) as uncached_input_tokens,
        coalesce(r.metadata.usage_object.prompt_tokens_details.cached_tokens, 0) as cached_input_tokens,
        cast(0 as bigint) as cache_write_tokens, cast(0 as bigint) as cache_write_1h_tokens,
        r.completion_tokens as output_tokens, r.total_tokens,
        r.request_duration_ms as latency_ms, coalesce(r.status, 'success') = 'success' as is_success,
        2 as source_priority, filename
    from litellm_rows left join agents on r.agent_id = agents.agent_id
),
otel_spans as (
    select unnest(ss.spans) as s, filename
    from (
        select unnest(rs.scopeSpans) as ss, filename
        from (
            select unnest("resourceSpans") as rs, filename
            from read_json('${RAW}/otel_genai_spans/*.json', format = 'unstructured', filename = true, columns = {
                'resourceSpans': 'STRUCT("scopeSpans" STRUCT(spans STRUCT("spanId" VARCHAR, "startTimeUnixNano" VARCHAR,
                    "endTimeUnixNano" VARCHAR, attributes STRUCT(key VARCHAR, value STRUCT("stringValue" VARCHAR,
                    "intValue" VARCHAR)) [], status STRUCT(code INTEGER))[])[])[]'})
        )
    )
),
otel_attrs as (
    select
        s."spanId" as span_id, filename, s.status.code as status_code,
        make_timestamp(cast(cast(s."startTimeUnixNano" as hugeint) // 1000 as bigint)) as started_at,
        make_timestamp(cast(cast(s."endTimeUnixNano" as hugeint) // 1000 as bigint)) as ended_at,
        map_from_entries([(a.key, coalesce(a.value."stringValue", a.value."intValue")) for a in s.attributes]) as attrs
    from otel_spans
),
otel as (
    -- OTel GenAI counts cache reads and writes inside input tokens
    select
        span_id as call_id, agents.agent_id, agents.workspace_id, attrs['gen_ai.provider.name'] as provider,
        regexp_replace(coalesce(attrs['gen_ai.request.model'], attrs['gen_ai.response.model']),
                       '-([0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{8})$', '') as model,
        started_at,
        cast(attrs['gen_ai.usage.input_tokens'] as bigint) as input_tokens,
        cast(attrs['gen_ai.usage.input_tokens'] as bigint) - coalesce(cast(attrs['gen_ai.usage.cache_read.input_tokens'] as bigint), 0)
            - coalesce(cast(attrs['gen_ai.usage.cache_creation.input_tokens'] as bigint), 0) as uncached_input_tokens,
        coalesce(cast(attrs['gen_ai.usage.cache_read.input_tokens'] as bigint), 0) as cached_input_tokens,
        coalesce(cast(attrs['gen_ai.usage.cache_creation.input_tokens'] as bigint), 0) as cache_write_tokens,
        cast(0 as bigint) as cache_write_1h_tokens,
        cast(attrs['gen_ai.usage.output_tokens'] as bigint) as output_tokens,
        cast(attrs['gen_ai.usage.input_tokens'] as bigint) + cast(attrs['gen_ai.usage.output_tokens'] as bigint) as total_tokens,
        date_diff('millisecond', started_at, ended_at) as latency_ms, coalesce(status_code, 0) <> 2 as is_success,
        3 as source_priority, filename
    from otel_attrs
    left join agents on attrs['gen_ai.agent.id'] = agents.agent_id or attrs['gen_ai.agent.id'] = agents.agent_name
    where attrs['gen_ai.operation.name'] is not null
),
all_calls as (
    select * from gateway union all select * from litellm union all select * from otel
),
canonical as (
    select * from all_calls
    qualify row_number() over (partition by call_id order by source_priority, filename) = 1
)
select
    c.*, cast(c.started_at as date) as usage_date, c.source_priority > 1 as is_outside_executions,
    cast(cast(c.uncached_input_tokens as decimal(18, 0)) * p.input_usd_per_mtok * cast(0.000001 as decimal(7, 6))
         + cast(c.cached_input_tokens as decimal(18, 0)) * p.cached_input_usd_per_mtok * cast(0.000001 as decimal(7, 6))
         + cast(c.cache_write_tokens - c.cache_write_1h_tokens as decimal(18, 0)) * p.cache_write_usd_per_mtok * cast(0.000001 as decimal(7, 6))
         + cast(c.cache_write_1h_tokens as decimal(18, 0)) * p.cache_write_1h_usd_per_mtok * cast(0.000001 as decimal(7, 6))
         + cast(c.output_tokens as decimal(18, 0)) * p.output_usd_per_mtok * cast(0.000001 as decimal(7, 6))
         as decimal(24, 12)) as token_cost
from canonical as c
left join prices as p
    on c.model = p.model and c.provider = p.provider
    and c.started_at >= p.valid_from and (p.valid_to is null or c.started_at < p.valid_to);

-- ---------------------------------------------------------------- mart_daily_usage
create table mart_daily_usage as
with e as (
    select workspace_id, agent_id, model, usage_date, count(*) as executions,
        count(*) filter (where status = 'success') as successful_executions,
        count(*) filter (where status <> 'success') as failed_executions,
        sum(input_tokens) as input_tokens, sum(uncached_input_tokens) as uncached_input_tokens,
        sum(cached_input_tokens) as cached_input_tokens, sum(output_tokens) as output_tokens,
        sum(total_tokens) as total_tokens, sum(coalesce(token_cost, 0)) as token_cost,
        sum(cpu_cost) as cpu_cost, sum(memory_cost) as memory_cost, sum(gpu_cost) as gpu_cost,
        sum(storage_cost) as storage_cost, sum(network_cost) as network_cost
    from executions group by all
),
c as (
    select coalesce(workspace_id, '(unattributed)') as workspace_id, coalesce(agent_id, '(unattributed)') as agent_id,
        model, usage_date, count(*) as llm_calls, count(*) filter (where not is_success) as failed_llm_calls,
        avg(latency_ms) as avg_llm_latency_ms
    from calls group by all
),
o as (
    select coalesce(workspace_id, '(unattributed)') as workspace_id, coalesce(agent_id, '(unattributed)') as agent_id,
        model, usage_date, sum(input_tokens) as input_tokens, sum(uncached_input_tokens) as uncached_input_tokens,
        sum(cached_input_tokens) as cached_input_tokens, sum(cache_write_tokens) as cache_write_tokens,
        sum(output_tokens) as output_tokens, sum(total_tokens) as total_tokens, sum(coalesce(token_cost, 0)) as token_cost
    from calls where is_outside_executions group by all
),
a as (
    select api.workspace_id, api.agent_id, coalesce(executions.model, '(no execution)') as model, api.usage_date,
        count(*) as api_calls, sum(api.cost_usd) as api_cost
    from api left join executions on api.execution_id = executions.execution_id
    group by all
),
grain as (
    select workspace_id, agent_id, model, usage_date from e union select workspace_id, agent_id, model, usage_date from c
    union select workspace_id, agent_id, model, usage_date from a union select workspace_id, agent_id, model, usage_date from o
)
select
    g.workspace_id, g.agent_id, g.model, g.usage_date,
    coalesce(e.executions, 0) as executions, coalesce(c.llm_calls, 0) as llm_calls, coalesce(a.api_calls, 0) as api_calls,
    coalesce(e.input_tokens, 0) + coalesce(o.input_tokens, 0) as input_tokens,
    coalesce(e.output_tokens, 0) + coalesce(o.output_tokens, 0) as output_tokens,
    coalesce(e.total_tokens, 0) + coalesce(o.total_tokens, 0) as total_tokens,
    cast(coalesce(e.token_cost, 0) + coalesce(o.token_cost, 0) as decimal(24, 12)) as token_cost,
    cast(coalesce(e.cpu_cost, 0) + coalesce(e.memory_cost, 0) + coalesce(e.gpu_cost, 0) + coalesce(e.storage_cost, 0)
         + coalesce(e.network_cost, 0) + coalesce(e.token_cost, 0) + coalesce(o.token_cost, 0) + coalesce(a.api_cost, 0)
         as decimal(24, 12)) as total_cost
from grain as g
left join e using (workspace_id, agent_id, model, usage_date)
left join c using (workspace_id, agent_id, model, usage_date)
left join a using (workspace_id, agent_id, model, usage_date)
left join o using (workspace_id, agent_id, model, usage_date);

-- ---------------------------------------------------------------- direct cost per agent and day
create temp table direct as
with e as (
    select workspace_id, agent_id, usage_date, count(*) as executions,
        sum(cpu_cost + memory_cost + gpu_cost + storage_cost + network_cost + coalesce(token_cost, 0)) as cost
    from executions group by all
),
a as (select workspace_id, agent_id, usage_date, count(*) as api_calls, sum(cost_usd) as cost from api group by all),
o as (
    select coalesce(workspace_id, '(unattributed)') as workspace_id, coalesce(agent_id, '(unattributed)') as agent_id,
        usage_date, sum(coalesce(token_cost, 0)) as cost
    from calls where is_outside_executions group by all
),
subjects as (
    select workspace_id, agent_id from agents union select workspace_id, agent_id from e
    union select workspace_id, agent_id from a union select workspace_id, agent_id from o
),
days as (select usage_date from e union select usage_date from a union select usage_date from o)
select
    s.workspace_id, s.agent_id, d.usage_date, coalesce(e.executions, 0) as executions,
    coalesce(a.api_calls, 0) as api_calls,
    cast(coalesce(e.cost, 0) + coalesce(a.cost, 0) + coalesce(o.cost, 0) as decimal(24, 12)) as direct_cost
from subjects as s cross join days as d
left join e on s.workspace_id = e.workspace_id and s.agent_id = e.agent_id and d.usage_date = e.usage_date
left join a on s.workspace_id = a.workspace_id and s.agent_id = a.agent_id and d.usage_date = a.usage_date
left join o on s.workspace_id = o.workspace_id and s.agent_id = o.agent_id and d.usage_date = o.usage_date;

-- ---------------------------------------------------------------- the cloud bill, split
create temp table cloud_lines as
with lines as (
    select "Id" as line_id, cast("BilledCost" as decimal(38, 12)) as billed_cost,
        cast("ChargePeriodStart" as timestamp) as charge_period_start,
        cast("ChargePeriodEnd" as timestamp) as charge_period_end,
        "Tags" as tags, filename
    from read_csv('${RAW}/focus/*.csv', header = true, filename = true, nullstr = 'NULL', all_varchar = true)
    qualify row_number() over (partition by "Id" order by filename desc) = 1
),
tagged as (
    select *,
        coalesce(json_extract_string(tags, '$.workspace_id'), json_extract_string(tags, '$.workspace')) as tag_workspace,
        coalesce(json_extract_string(tags, '$.agent_id'), json_extract_string(tags, '$.agent')) as tag_agent
    from lines
)
select
    line_id, billed_cost,
    cast(charge_period_start as date) as period_start_day,
    case when cast(charge_period_end as date) > cast(charge_period_start as date)
              and charge_period_end = cast(cast(charge_period_end as date) as timestamp)
         then cast(charge_period_end as date) else cast(charge_period_end as date) + 1 end as period_end_day,
    coalesce(tag_workspace, agents.workspace_id) as workspace_id, tag_agent as agent_id,
    case when tag_agent is not null then 'agent'
         when coalesce(tag_workspace, agents.workspace_id) is not null then 'workspace' else 'shared' end as allocation_level
from tagged left join agents on tagged.tag_agent = agents.agent_id;

create temp table cloud_allocated as
with weights as (
    select l.line_id, d.workspace_id, d.agent_id, sum(d.direct_cost) as weight
    from cloud_lines as l
    join direct as d
        on d.usage_date >= l.period_start_day and d.usage_date < l.period_end_day
        and (l.allocation_level = 'shared' or d.workspace_id = l.workspace_id)
    where l.allocation_level in ('workspace', 'shared') and d.direct_cost > 0 and d.agent_id <> '(unattributed)'
    group by all
),
shares as (
    select w.*, l.billed_cost, l.period_start_day,
        cast(l.billed_cost * w.weight / sum(w.weight) over (partition by w.line_id) as decimal(24, 12)) as rounded_share,
        row_number() over (partition by w.line_id order by w.weight desc, w.agent_id) as share_rank
    from weights as w join cloud_lines as l using (line_id)
)
select workspace_id, agent_id, period_start_day as usage_date, 'cloud_shared' as component,
    case when share_rank = 1 then rounded_share + (billed_cost - sum(rounded_share) over (partition by line_id))
         else rounded_share end as amount
from shares
union all
select workspace_id, agent_id, period_start_day, 'cloud_direct', billed_cost from cloud_lines where allocation_level = 'agent'
union all
select coalesce(workspace_id, '(shared)'), '(unallocated)', period_start_day, 'cloud_unallocated', billed_cost
from cloud_lines as l
where allocation_level in ('workspace', 'shared') and not exists (select 1 from weights where weights.line_id = l.line_id);

-- ---------------------------------------------------------------- mart_infrastructure_cost_allocation
create table mart_infrastructure_cost_allocation as
with cloud as (
    select workspace_id, agent_id, usage_date, sum(amount) as cloud_cost from cloud_allocated group by all
),
daily as (
    select
        coalesce(d.workspace_id, c.workspace_id) as workspace_id, coalesce(d.agent_id, c.agent_id) as agent_id,
        coalesce(d.usage_date, c.usage_date) as usage_date, coalesce(d.executions, 0) as executions,
        coalesce(d.api_calls, 0) as api_calls,
        cast(coalesce(d.direct_cost, 0) + coalesce(c.cloud_cost, 0) as decimal(24, 12)) as total_cost
    from direct as d
    full join cloud as c
        on d.workspace_id = c.workspace_id and d.agent_id = c.agent_id and d.usage_date = c.usage_date
)
select *,
    cast(sum(total_cost) over (partition by workspace_id, agent_id order by usage_date
                               range between interval 29 days preceding and current row) as decimal(24, 12)) as rolling_30d_cost
from daily;

-- ---------------------------------------------------------------- mart_token_budget_tracking
create table mart_token_budget_tracking as
with usage as (
    select workspace_id, agent_id, usage_date, sum(total_tokens) as daily_total_tokens
    from (
        select workspace_id, agent_id, usage_date, total_tokens from executions
        union all
        select workspace_id, agent_id, usage_date, total_tokens from calls
        where is_outside_executions and agent_id is not null
    )
    group by all
),
days as (select distinct usage_date from direct),
daily as (
    select b.workspace_id, b.agent_id, days.usage_date, cast(date_trunc('month', days.usage_date) as date) as budget_month,
        coalesce(u.daily_total_tokens, 0) as daily_total_tokens, coalesce(d.direct_cost, 0) as daily_total_cost,
        b.daily_token_budget, b.monthly_token_budget, b.monthly_cost_budget_usd
    from budgets as b cross join days
    left join usage as u on b.workspace_id = u.workspace_id and b.agent_id = u.agent_id and days.usage_date = u.usage_date
    left join direct as d on b.workspace_id = d.workspace_id and b.agent_id = d.agent_id and days.usage_date = d.usage_date
)
select *,
    cast(sum(daily_total_tokens) over (partition by workspace_id, agent_id order by usage_date
         range between interval 29 days preceding and current row) as bigint) as rolling_30d_tokens,
    cast(sum(daily_total_tokens) over (partition by workspace_id, agent_id, budget_month order by usage_date
         rows between unbounded preceding and current row) as bigint) as month_to_date_tokens,
    case when daily_total_tokens > daily_token_budget then 'over_budget'
         when cast(daily_total_tokens as decimal(38, 6)) * 100 > cast(daily_token_budget as decimal(38, 6)) * 80 then 'near_limit'
         else 'within_budget' end as budget_status
from daily;

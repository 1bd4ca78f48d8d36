{{ config(materialized='table') }}
-- depends_on: {{ ref('int_reference_fingerprint') }}
-- depends_on: {{ ref('stg_agent_platform__executions') }}
-- depends_on: {{ ref('stg_agent_platform__llm_calls') }}
-- depends_on: {{ ref('stg_litellm__spend_logs') }}
-- depends_on: {{ ref('stg_otel__genai_spans') }}
-- depends_on: {{ ref('stg_agent_platform__api_calls') }}
-- depends_on: {{ ref('stg_focus__cost_lines') }}
-- depends_on: {{ source('ingest', 'load_log') }}
-- depends_on: {{ ref('stg_gpu_metrics__samples') }}
-- The event days a windowed (incremental) run rebuilds, with why. Every incremental model
-- deletes exactly these days and inserts them again (strategy replace_days), so a run that
-- re-processes a day replaces it exactly. Without a window (no min_date/max_date var) the
-- table is empty and every model is rebuilt from all history.
--
-- Given the run's days [min_date, max_date] and lookback_days L:
--   window      every calendar day in [min_date - L, max_date] (late data by event day);
--   late_file   event days of every row delivered by an export file dated in that range,
--               however late the event (e.g. a restated bill);
--   moved_key   event days of EVERY delivered copy of a key that has a copy in the two sets
--               above: staging keeps one copy per key (first file by name, then line), and a
--               re-delivered key may win or lose against a copy on another day, or move day;
--   linked      event days of everything tied to an execution or query that any copy of a
--               touched key names (API calls carry their execution's user and model, queries
--               span calls and executions; a re-delivered copy may name another one);
--   cloud_line  the charge-period start day (where its split is booked) of every cloud bill
--               line re-delivered in the range or whose period overlaps a day above: its split
--               over agents' direct cost changes;
--   gpu         days of GPU samples in the window or delivered in the range ("touched"),
--               the day before and the day after each (a reading's interval runs to its
--               GPU's next reading, the last one's from the reading before, capped at
--               gpu_sample_max_interval_s <= 1 day), and the day of each touched GPU's latest
--               untouched reading when touched ones follow it, however far back: it may
--               have been the GPU's last reading (a GPU that stopped reporting and resumed),
--               whose interval now runs to the next one;
--   reference   every day, when seeds or prices changed since the last successful run.
-- rebuilds_usage: a reason other than cloud_line or gpu. Only those change usage rows (calls,
-- executions, API calls): models with rebuild_scope='usage' rebuild these days alone, so a
-- restated month-to-date bill (cloud_line on every day of its month) does not make them
-- replace the month.
-- Empty, too, when no incremental model has a table yet or with --full-refresh: no model is
-- windowed then, every one is rebuilt from all history (any_incremental_model_built).
{%- set w = incremental_window() %}
{%- if w is not none and (var('gpu_sample_max_interval_s', 3600) | int) > 86400 %}
    {{ exceptions.raise_compiler_error("gpu_sample_max_interval_s must be at most 86400 (a day) in an incremental run: it rebuilds the GPU days on each side of a changed reading (rebuild whole, without min_date/max_date, for a longer cap)") }}
{%- endif %}
{%- if w is none or not any_incremental_model_built() %}
select
    cast(null as date) as usage_date,
    cast(null as {{ dbt.type_string() }}) as reasons,
    cast(null as boolean) as rebuilds_usage,
    cast(null as date) as window_start,
    cast(null as date) as window_end
where false
{%- else %}
with window_days as (

    select cast(day as date) as usage_date
    from generate_series(date '{{ w.start }}', date '{{ w.end }}', interval 1 day) as days(day)

),

run_files as (

    select distinct source_file
    from {{ source('ingest', 'load_log') }}
    where export_date between date '{{ w.start }}' and date '{{ w.end }}'

),

-- every delivered copy of every keyed event (LLM calls of the three logs share one key space)
copies as (

    select 'execution' as kind, execution_id as event_key, execution_id, query_id,
        cast(started_at as date) as usage_date, source_file
    from {{ ref('stg_agent_platform__executions') }}
    union all
    select 'llm_call', call_id, execution_id, query_id, cast(started_at as date), source_file
    from {{ ref('stg_agent_platform__llm_calls') }}
    union all
    select 'llm_call', request_id, null, null, cast(started_at as date), source_file
    from {{ ref('stg_litellm__spend_logs') }}
    union all
    select 'llm_call', span_id, null, conversation_id, cast(started_at as date), source_file
    from {{ ref('stg_otel__genai_spans') }}
    union all
    select 'api_call', request_id, execution_id, null, cast(requested_at as date), source_file
    from {{ ref('stg_agent_platform__api_calls') }}

),

touched as (

    select * from copies
    where usage_date between date '{{ w.start }}' and date '{{ w.end }}'
        or source_file in (select source_file from run_files)

),

touched_keys as (

    select distinct kind, event_key from touched

),

-- every delivered copy of a touched key: the winner may change, and the execution or query
-- a losing copy named loses the event (a call re-delivered for another query)
touched_copies as (

    select copies.*
    from copies
    inner join touched_keys on copies.kind = touched_keys.kind and copies.event_key = touched_keys.event_key

),

touched_executions as (

    select execution_id from touched_copies where execution_id is not null
    union
    select event_key from touched_copies where kind = 'execution'

),

touched_queries as (

    select distinct query_id from touched_copies where query_id is not null

),

event_days as (

    select usage_date, 'window' as reason from window_days
    union all
    select distinct usage_date, 'late_file' from touched
    where source_file in (select source_file from run_files)
        and usage_date not between date '{{ w.start }}' and date '{{ w.end }}'
    union all
    select distinct usage_date, 'moved_key' from touched_copies
    union all
    select distinct usage_date, 'linked' from copies
    where execution_id in (select execution_id from touched_executions)
        or (kind = 'execution' and event_key in (select execution_id from touched_executions))
        or query_id in (select query_id from touched_queries)

),

line_copies as (

    select
        coalesce(line_id, source_file || ':' || cast(source_line as {{ dbt.type_string() }})) as cost_line_id,
        cast(charge_period_start as date) as period_start_day,
        cast(charge_period_end as date) as period_end_day,
        source_file
    from {{ ref('stg_focus__cost_lines') }}

),

touched_lines as (

    select distinct line_copies.cost_line_id
    from line_copies
    left join (select distinct usage_date from event_days) as days
        on days.usage_date between line_copies.period_start_day and line_copies.period_end_day
    where days.usage_date is not null
        or line_copies.source_file in (select source_file from run_files)

),

cloud_days as (

    select distinct line_copies.period_start_day as usage_date, 'cloud_line' as reason
    from line_copies
    inner join touched_lines on line_copies.cost_line_id = touched_lines.cost_line_id

),

reference_changed as (

    {%- set state = adapter.get_relation(database=target.database, schema='intermediate', identifier='incremental_state') %}
    {%- if state is none %}
    select true as changed
    {%- else %}
    select coalesce(
        (select reference_fingerprint from {{ ref('int_reference_fingerprint') }})
            is distinct from (select max(reference_fingerprint) from {{ state }}),
        true) as changed
    {%- endif %}

),

reference_days as (

    select distinct usage_date, 'reference' as reason from copies
    where (select changed from reference_changed)
    union all
    select distinct period_start_day, 'reference' from line_copies
    where (select changed from reference_changed)
    union all
    select distinct cast(sampled_at as date), 'reference' from {{ ref('stg_gpu_metrics__samples') }}
    where (select changed from reference_changed)

),

gpu_samples as (

    select
        host,
        gpu_index,
        sampled_at,
        cast(sampled_at as date) between date '{{ w.start }}' and date '{{ w.end }}'
            or source_file in (select source_file from run_files) as touched
    from {{ ref('stg_gpu_metrics__samples') }}

),

gpu_days as (

    select distinct cast({{ dbt.dateadd('day', 'shift', 'cast(sampled_at as date)') }} as date) as usage_date, 'gpu' as reason
    from gpu_samples
    cross join (select 0 as shift union all select -1 union all select 1) as shifts
    where touched
    union all
    select cast(max(case when not touched then sampled_at end) as date), 'gpu'
    from gpu_samples
    group by host, gpu_index
    having max(case when touched then sampled_at end) > max(case when not touched then sampled_at end)

),

all_days as (

    select * from event_days
    union all
    select * from cloud_days
    union all
    select * from gpu_days
    union all
    select * from reference_days

)

select
    usage_date,
    string_agg(distinct reason, ',' order by reason) as reasons,
    max(case when reason in ('cloud_line', 'gpu') then 0 else 1 end) = 1 as rebuilds_usage,
    -- the window this list was made for; incremental models check it (is_windowed)
    date '{{ w.start }}' as window_start,
    date '{{ w.end }}' as window_end
from all_days
where usage_date is not null
group by usage_date
{%- endif %}

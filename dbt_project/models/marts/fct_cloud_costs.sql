-- One row per FOCUS billing line, with the workspace and agent its tags name (null when
-- untagged: those lines are shared cost, never dropped). A line id re-delivered in
-- several files (a restated bill) is kept once, from the latest file by name.
with lines as (

    select
        *,
        coalesce(line_id, source_file || ':' || cast(source_line as {{ dbt.type_string() }})) as cost_line_id
    from {{ ref('stg_focus__cost_lines') }}

),

deduplicated as (

    {{ first_row_per('lines', 'cost_line_id', 'source_file desc, source_line') }}

),

tag_keys as (

    select * from {{ ref('cloud_tag_keys') }}

),

agents as (

    select agent_id, workspace_id from {{ ref('agents') }}

),

-- every tag of every line, its key normalised the way cloud_tag_keys documents
line_tags as (

    select
        deduplicated.cost_line_id,
        {{ regexp_replace_all("regexp_replace(lower(trim(tag.key)), '^user:', '')", "'[- ]'", "'_'") }} as tag_key,
        nullif(trim({{ json_entry_text('tag') }}), '') as tag_value
    from deduplicated{{ json_object_entries('deduplicated.tags', 'tag') }}
    where deduplicated.tags is not null

),

mapped as (

    select
        line_tags.cost_line_id,
        tag_keys.maps_to,
        min_by(line_tags.tag_value, tag_keys.priority) as tag_value
    from line_tags
    inner join tag_keys on line_tags.tag_key = tag_keys.tag_key
    where line_tags.tag_value is not null
    group by line_tags.cost_line_id, tag_keys.maps_to

),

attribution as (

    select
        cost_line_id,
        max(case when maps_to = 'workspace_id' then tag_value end) as tagged_workspace_id,
        max(case when maps_to = 'agent_id' then tag_value end) as tagged_agent_id
    from mapped
    group by cost_line_id

),

final as (

    select
        deduplicated.cost_line_id,
        deduplicated.provider_name as provider,
        deduplicated.billing_account_id,
        deduplicated.sub_account_id,
        deduplicated.billing_period_start,
        deduplicated.billing_period_end,
        deduplicated.charge_period_start,
        deduplicated.charge_period_end,
        cast(deduplicated.charge_period_start as date) as usage_date,
        deduplicated.charge_category,
        deduplicated.charge_description,
        deduplicated.service_name,
        deduplicated.service_category,
        deduplicated.resource_id,
        deduplicated.resource_name,
        deduplicated.resource_type,
        deduplicated.region_id,
        deduplicated.consumed_quantity,
        deduplicated.consumed_unit,
        deduplicated.pricing_unit,
        deduplicated.billed_cost,
        deduplicated.effective_cost,
        deduplicated.list_cost,
        deduplicated.billing_currency,
        deduplicated.tags,
        -- a line tagged with an agent but no workspace is charged to the agent's workspace
        coalesce(attribution.tagged_workspace_id, agents.workspace_id) as workspace_id,
        attribution.tagged_agent_id as agent_id,
        case
            when attribution.tagged_agent_id is not null then 'agent'
            when coalesce(attribution.tagged_workspace_id, agents.workspace_id) is not null then 'workspace'
            else 'shared'
        end as allocation_level,
        deduplicated.source_file,
        deduplicated.source_line
    from deduplicated
    left join attribution on deduplicated.cost_line_id = attribution.cost_line_id
    left join agents on attribution.tagged_agent_id = agents.agent_id

)

select * from final

-- Cost lines as OpenAI and Anthropic bill them, in USD (DECIMAL).
select
    provider,
    model,
    cost_line,
    usage_date,
    bucket_start,
    provider_scope_id,
    amount_usd,
    source_file,
    source_locator
from {{ ref('int_provider_costs') }}

-- The compute rate card as one row, in the human units the seed is edited in.
with rates as (

    select * from {{ ref('compute_rate_card') }}

)

select
    max(case when resource = 'cpu' and unit = 'core_hour' then usd_per_unit end) as cpu_usd_per_core_hour,
    max(case when resource = 'memory' and unit = 'gb_hour' then usd_per_unit end) as memory_usd_per_gb_hour,
    max(case when resource = 'gpu' and unit = 'compute_unit' then usd_per_unit end) as gpu_usd_per_compute_unit,
    max(case when resource = 'network' and unit = 'gb' then usd_per_unit end) as network_usd_per_gb,
    max(case when resource = 'storage' and unit = 'gb_month' then usd_per_unit end) as storage_usd_per_gb_month
from rates

-- One fingerprint (md5) of the reference data every event day is computed with: the agents,
-- budgets, cloud tag and GPU assignment seeds, the compute rate card and the model prices in force. When it
-- differs from the one the last successful run recorded (intermediate.incremental_state,
-- written by the on-run-end hook), a windowed run rebuilds every day: a price override or a
-- budget edit changes history.
select md5({{ ordered_string_agg('part', "'|'") }}) as reference_fingerprint
from (
    {%- for rel in ['agents', 'budgets', 'cloud_tag_keys', 'gpu_assignments', 'int_compute_rates', 'int_model_prices'] %}
    select '{{ rel }}:' || coalesce(md5({{ ordered_string_agg(row_as_text('r'), "'\\n'") }}), '') as part
    from {{ ref(rel) }} as r
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
) as parts

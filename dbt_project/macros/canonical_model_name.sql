{#- Providers report dated model versions (gpt-4o-mini-2024-07-18,
    claude-sonnet-4-5-20250929); prices are kept per model family. Strip a trailing
    -YYYY-MM-DD or -YYYYMMDD. -#}
{% macro canonical_model_name(column) -%}
    regexp_replace({{ column }}, '-([0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{8})$', '')
{%- endmacro %}

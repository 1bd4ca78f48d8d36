{#- Join the model price in force when an event happened: same model (and provider), and
    valid_from <= at < valid_to. `prices` must be a relation with int_model_prices' columns.
    With provider_optional, an event that names no provider matches on the model alone. -#}
{% macro join_price_in_force(event, at, provider_optional=false, prices='prices') -%}
    left join {{ prices }}
        on {{ event }}.model = {{ prices }}.model
        {% if provider_optional -%}
        and ({{ event }}.{{ provider_optional }} is null or {{ event }}.{{ provider_optional }} = {{ prices }}.provider)
        {%- else -%}
        and {{ event }}.provider = {{ prices }}.provider
        {%- endif %}
        and {{ event }}.{{ at }} >= {{ prices }}.valid_from
        and ({{ prices }}.valid_to is null or {{ event }}.{{ at }} < {{ prices }}.valid_to)
{%- endmacro %}

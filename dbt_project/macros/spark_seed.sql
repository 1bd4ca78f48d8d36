{#- Seeds on Spark (overrides dbt-spark's spark__load_csv_rows). In session mode dbt-spark
    pastes bindings in as '<value>' without escaping and turns an empty cell into the
    string 'None' and numbers into floats: a note with an apostrophe breaks the insert,
    a null valid_to becomes 'None' and decimals go through binary floats. Here each cell
    is a literal: null for an empty cell, else the CSV text, escaped, cast to the column
    type (so DECIMAL columns parse the exact digits). -#}
{% macro spark__load_csv_rows(model, agate_table) %}
  {% set batch_size = get_batch_size() %}
  {% set column_override = model['config'].get('column_types', {}) %}
  {% set types = [] %}
  {% for col_name in agate_table.column_names %}
    {% do types.append(column_override.get(col_name, adapter.convert_type(agate_table, loop.index0))) %}
  {% endfor %}
  {% set statements = [] %}
  {% for chunk in agate_table.rows | batch(batch_size) %}
    {% set sql %}
      insert into {{ this.render() }} values
      {% for row in chunk -%}
        ({%- for value in row -%}
          {%- if value is none -%}
            cast(null as {{ types[loop.index0] }})
          {%- elif value is sameas true or value is sameas false -%}
            {{ 'true' if value else 'false' }}
          {%- else -%}
            cast('{{ (value | string).replace("\\", "\\\\").replace("'", "\\'") }}' as {{ types[loop.index0] }})
          {%- endif -%}
          {%- if not loop.last %}, {% endif -%}
        {%- endfor -%})
        {%- if not loop.last %},{% endif %}
      {% endfor %}
    {% endset %}
    {% do adapter.add_query(sql, abridge_sql_log=True) %}
    {% if loop.index0 == 0 %}
      {% do statements.append(sql) %}
    {% endif %}
  {% endfor %}
  {{ return(statements[0]) }}
{% endmacro %}

-- Data quality: every model seen in an export has a price. Warns (never fails the build)
-- and lists the unpriced models; fix by adding them to seeds/model_price_overrides.csv.
{{ config(severity='warn') }}
select * from {{ ref('mart_unpriced_models') }}

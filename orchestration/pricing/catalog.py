"""An effective-dated model price table from pydantic's genai-prices catalog (offline: the
installed package bundles its data, `genai_prices.data.providers`).

One row per provider x catalog model x price period [valid_from, valid_to):

- **time-conditional prices**: a model's `prices` may be a list of `ConditionalPrice`s;
  genai-prices applies the *last* one whose constraint is active. Start-date constraints
  become price periods here (valid_to = the next period's valid_from, exclusive; null = in
  force). The first, unconstrained price has no start date in the catalog: its period starts
  at the model's first snapshot date when its ids carry one (gpt-4o-mini-2024-07-18 ->
  2024-07-18), else at 1970-01-01; `valid_from_basis` says which. Time-of-day windows (DeepSeek's
  off-peak prices) cannot be effective-dated: the date-based price is kept and the window
  is named in `price_note`.
- **tiered prices** (`TieredPrices`: the whole request is charged at a higher rate once its
  input tokens exceed a threshold, e.g. Claude Sonnet 4.5 above 200k): the base tier is in
  the price columns (what every request under the threshold pays), `is_tiered` is true and
  the first tier's threshold and prices are in the `*_tier_*` columns (`tier_count` says if
  there are more).
- **request variants** (batch, service tiers flex/priority): not rows here; standard prices
  only, named in `price_note`.
- **model names**: `model` is the catalog's model id; `aliases` lists the model strings
  exports carry that genai-prices' own matching (`Provider.find_model`) resolves to this
  model: the id and every literal in its match rule (equals / starts-with values), kept only
  when genai-prices resolves that string to this very model. Dated strings
  (claude-sonnet-4-5-20250929) are undated upstream by the `canonical_model_name` macro or
  resolve through a starts-with alias; `resolve_model` is the same matching for Python.

Prices are Decimal (USD per million tokens), exactly as the catalog has them.
"""

import datetime as dt
import re
from collections.abc import Iterable
from decimal import Decimal
from importlib.metadata import version

import pandas as pd
from genai_prices.data import providers as bundled_providers
from genai_prices.types import (
    ClauseAnd, ClauseEquals, ClauseOr, ClauseStartsWith, ConditionalPrice, ModelInfo, ModelPrice, Provider,
    StartDateConstraint, TieredPrices, TimeOfDateConstraint,
)

__all__ = ["PRICE_COLUMNS", "CATALOG_COLUMNS", "build_price_catalog", "catalog_relation", "resolve_model",
           "write_price_catalog", "catalog_version"]

UNBOUNDED_START = dt.date(1970, 1, 1)

# catalog price key -> column (USD per million tokens)
PRICE_COLUMNS = {
    "input_mtok": "input_usd_per_mtok",
    "cache_read_mtok": "cache_read_usd_per_mtok",
    "cache_write_mtok": "cache_write_usd_per_mtok",
    "cache_write_1h_mtok": "cache_write_1h_usd_per_mtok",
    "output_mtok": "output_usd_per_mtok",
}
TIER_COLUMNS = {key: column.replace("_usd_per_mtok", "_tier_usd_per_mtok") for key, column in PRICE_COLUMNS.items()}

CATALOG_COLUMNS = [
    "provider", "model", "model_name", "catalog_order", "valid_from", "valid_to", "valid_from_basis",
    *PRICE_COLUMNS.values(), "is_tiered", "tier_threshold_input_tokens", *TIER_COLUMNS.values(), "tier_count",
    "context_window_tokens", "deprecated", "aliases", "match_rule", "price_note", "catalog_version",
]


def catalog_version() -> str:
    return f"genai-prices {version('genai-prices')}"


def _price_values(price: ModelPrice) -> dict:
    """Base-tier prices, first-tier threshold and prices of one ModelPrice."""
    row: dict = {column: None for column in [*PRICE_COLUMNS.values(), *TIER_COLUMNS.values()]}
    thresholds, tier_counts = set(), set()
    for key, column in PRICE_COLUMNS.items():
        value = getattr(price, key, None)
        if isinstance(value, TieredPrices):
            row[column] = value.base
            if value.tiers:
                row[TIER_COLUMNS[key]] = value.tiers[0].price
                thresholds.add(value.tiers[0].start)
                tier_counts.add(len(value.tiers))
        elif value is not None:
            row[column] = Decimal(value)
    row["is_tiered"] = bool(thresholds)
    row["tier_threshold_input_tokens"] = min(thresholds) if thresholds else None
    row["tier_count"] = max(tier_counts) if tier_counts else 0
    notes = []
    if len(thresholds) > 1:
        notes.append(f"tier thresholds differ by price key: {sorted(thresholds)}")
    if tier_counts and max(tier_counts) > 1:
        notes.append("more than one tier: only the first is in the tier columns")
    others = sorted(k for k, v in price.__dict__.items() if v is not None and k not in PRICE_COLUMNS)
    if others:
        notes.append("also priced by genai-prices, not in this table: " + ", ".join(others))
    row["_notes"] = notes
    return row


def _resolve_at(prices: list[ConditionalPrice], day: dt.date) -> ModelPrice:
    """genai-prices' rule (ModelInfo.get_prices) on a date: the last entry whose constraint is
    active wins, the first if none is. Time-of-day constraints are not date-based: skipped."""
    for conditional in reversed(prices):
        constraint = conditional.constraint
        if constraint is None or (isinstance(constraint, StartDateConstraint) and constraint.start_date <= day):
            return conditional.prices
    return prices[0].prices


_DATED = re.compile(r"(?<!\d)(20\d{2})-?(0[1-9]|1[0-2])-?(0[1-9]|[12]\d|3[01])(?!\d)")


def _first_snapshot_date(model: ModelInfo) -> dt.date | None:
    """The earliest snapshot date in the model's own id and match literals
    (gpt-4o-mini-2024-07-18 -> 2024-07-18): the model, and its first price, exist from then."""
    dates = []
    for text in [model.id, *_literals(model.match)]:
        for y, m, d in _DATED.findall(text):
            try:
                dates.append(dt.date(int(y), int(m), int(d)))
            except ValueError:
                pass
    return min(dates) if dates else None


def _periods(model: ModelInfo) -> list[tuple[dt.date, ModelPrice, str]]:
    """(valid_from, prices, valid_from_basis) per price period, consecutive equal periods
    merged. The first (unconstrained) price has no start date in the catalog: it starts at
    the model's first snapshot date when its ids carry one, else at 1970-01-01 (unknown)."""
    starts = sorted({c.constraint.start_date for c in model.prices if isinstance(c.constraint, StartDateConstraint)}) \
        if isinstance(model.prices, list) else []
    first, basis = UNBOUNDED_START, "unknown"
    snapshot = _first_snapshot_date(model)
    if snapshot is not None and (not starts or snapshot < starts[0]):
        first, basis = snapshot, "first dated model id"
    if isinstance(model.prices, ModelPrice):
        return [(first, model.prices, basis)]
    periods: list[tuple[dt.date, ModelPrice, str]] = []
    for day, day_basis in [(first, basis), *[(s, "catalog start_date") for s in starts]]:
        price = _resolve_at(model.prices, day)
        if periods and _price_values(periods[-1][1]) == _price_values(price):
            continue
        periods.append((day, price, day_basis))
    return periods


def _literals(clause) -> Iterable[str]:
    if isinstance(clause, ClauseEquals):
        yield clause.equals
    elif isinstance(clause, ClauseStartsWith):
        yield clause.starts_with
    elif isinstance(clause, ClauseOr):
        for c in clause.or_:
            yield from _literals(c)
    elif isinstance(clause, ClauseAnd):
        for c in clause.and_:
            yield from _literals(c)


def _aliases(provider: Provider, model: ModelInfo) -> list[str]:
    """Strings genai-prices resolves to this model within its provider (no fallback providers)."""
    candidates = dict.fromkeys([model.id.lower(), *(s.lower() for s in _literals(model.match))])
    return sorted(s for s in candidates if s and provider.find_model(s) is model)


def resolve_model(provider_id: str, model_ref: str, providers: list[Provider] | None = None) -> str | None:
    """The catalog model id genai-prices' matching gives `model_ref` within `provider_id`, or None."""
    providers = bundled_providers if providers is None else providers
    provider = next((p for p in providers if p.id == provider_id.lower()), None)
    model = provider.find_model(model_ref) if provider else None
    return model.id if model else None


def build_price_catalog(providers: list[Provider] | None = None) -> pd.DataFrame:
    """The effective-dated price table (columns: CATALOG_COLUMNS), one row per provider x model x
    price period, from the installed genai-prices catalog (or `providers`, for tests)."""
    providers = bundled_providers if providers is None else providers
    source = catalog_version()
    rows = []
    for provider in providers:
        seen_ids: set[str] = set()
        for order, model in enumerate(provider.models):
            if model.id in seen_ids:  # a duplicate id would never be matched (first wins)
                continue
            seen_ids.add(model.id)
            periods = _periods(model)
            base_notes = []
            if isinstance(model.prices, list) and any(isinstance(c.constraint, TimeOfDateConstraint) for c in model.prices):
                windows = ", ".join(f"{c.constraint.start_time:%H:%M}-{c.constraint.end_time:%H:%M} UTC"
                                    for c in model.prices if isinstance(c.constraint, TimeOfDateConstraint))
                base_notes.append(f"time-of-day prices ({windows}) not modelled: the date-based price applies all day")
            if model.price_variants:
                kinds = sorted({f"{k}={v}" for variant in model.price_variants for k, v in variant.when.items()})
                base_notes.append("standard prices; request variants not modelled: " + ", ".join(kinds))
            aliases = _aliases(provider, model)
            for i, (valid_from, price, basis) in enumerate(periods):
                values = _price_values(price)
                notes = base_notes + values.pop("_notes")
                if values["is_tiered"]:
                    notes.insert(0, f"tiered: above {values['tier_threshold_input_tokens']:,} input tokens per request "
                                    "the whole request pays the tier prices; price columns hold the base tier")
                rows.append({
                    "provider": provider.id,
                    "model": model.id,
                    "model_name": model.name,
                    "catalog_order": order,
                    "valid_from": valid_from,
                    "valid_to": periods[i + 1][0] if i + 1 < len(periods) else None,
                    "valid_from_basis": basis,
                    **values,
                    "context_window_tokens": model.context_window,
                    "deprecated": bool(model.deprecated),
                    "aliases": aliases,
                    "match_rule": repr(model.match),
                    "price_note": "; ".join(notes) or None,
                    "catalog_version": source,
                })
    df = pd.DataFrame(rows, columns=CATALOG_COLUMNS)
    return df.sort_values(["provider", "model", "valid_from"], kind="mergesort").reset_index(drop=True)


def _casts() -> str:
    price_columns = [*PRICE_COLUMNS.values(), *TIER_COLUMNS.values()]
    return ",\n".join(
        f"cast({c} as decimal(38, 18)) as {c}" if c in price_columns
        else f"cast({c} as date) as {c}" if c in ("valid_from", "valid_to")
        else f"cast({c} as bigint) as {c}" if c in ("tier_threshold_input_tokens", "context_window_tokens")
        else f"cast({c} as integer) as {c}" if c in ("catalog_order", "tier_count")
        else f"cast({c} as varchar[]) as {c}" if c == "aliases"
        else c
        for c in CATALOG_COLUMNS)


def _staged(df: pd.DataFrame) -> pd.DataFrame:
    """Prices as exact decimal strings (DuckDB casts them to DECIMAL without a float step)."""
    staged = df.copy()
    for column in [*PRICE_COLUMNS.values(), *TIER_COLUMNS.values()]:
        staged[column] = staged[column].map(lambda v: None if v is None or pd.isna(v) else format(v, "f")).astype(object)
    for column in ("tier_threshold_input_tokens", "context_window_tokens"):
        staged[column] = staged[column].astype("Int64")
    return staged


def catalog_relation(conn, df: pd.DataFrame):
    """The catalog as a typed DuckDB relation on `conn` (prices DECIMAL(38, 18))."""
    conn.register("_model_price_catalog_df", _staged(df))
    return conn.sql(f"select {_casts()} from _model_price_catalog_df")


def write_price_catalog(conn, df: pd.DataFrame, table: str = "raw.model_price_catalog") -> int:
    """Write the catalog to DuckDB (`create or replace`), prices as DECIMAL(38, 18) (the catalog
    has up to 18 decimals), in one transaction. Returns the row count."""
    schema = table.split(".")[0]
    conn.register("_model_price_catalog_df", _staged(df))
    try:
        conn.execute("begin")
        conn.execute(f"create schema if not exists {schema}")
        conn.execute(f"create or replace table {table} as select {_casts()} from _model_price_catalog_df")
        conn.execute("commit")
    except Exception:
        conn.execute("rollback")
        raise
    finally:
        conn.unregister("_model_price_catalog_df")
    return conn.execute(f"select count(*) from {table}").fetchall()[0][0]

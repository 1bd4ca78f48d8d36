"""The shared shape of a finding / recommendation row, and money conventions.

Every finding is one row: who it is about (subject_type, subject_id), what it is (category,
kind), the figures it rests on (evidence, a short text with the numbers and the period),
the estimated monthly saving in USD, the assumption behind that figure, effort and priority.
A finding with no dollar figure carries saving 0 and says why in `assumption`.

Money: costs come from the marts as DECIMAL; here they are floats rounded to 6 decimals at
the edges (`usd`). Monthly figures are the per-day average over the observed window x 30.4
(`monthly`).
"""

import math
from dataclasses import dataclass

import pandas as pd

DAYS_PER_MONTH = 30.4
HOURS_PER_MONTH = 24 * DAYS_PER_MONTH

FINDING_COLUMNS = [
    "finding_id", "category", "kind", "subject_type", "subject_id", "workspace_id", "evidence",
    "period", "monthly_saving_usd", "assumption", "effort", "priority",
]
EFFORTS = ("low", "medium", "high")


def usd(x) -> float:
    """A dollar figure rounded to 6 decimals (the convention for every money column)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return 0.0
    return round(float(x), 6)


@dataclass(frozen=True)
class Window:
    """The period a fact was analysed over: its first and last timestamp (None: no rows).

    An analysis run on one shard of the agents (report.build_sharded) sees only part of a
    fact, whose dates may start later or end earlier than the whole's: its monthly figures
    and periods must come from the whole fact's window, passed in; without one, an analysis
    takes the window of the frame it is given."""

    first: pd.Timestamp | None = None
    last: pd.Timestamp | None = None

    @classmethod
    def of(cls, dates: pd.Series) -> "Window":
        d = pd.to_datetime(dates).dropna()
        return cls() if d.empty else cls(d.min(), d.max())

    @property
    def days(self) -> int:
        """Calendar days from the first to the last date, inclusive (>= 1)."""
        if self.first is None:
            return 1
        return int((self.last.normalize() - self.first.normalize()).days) + 1

    @property
    def period(self) -> str:
        if self.first is None:
            return "no data"
        return f"{self.first:%Y-%m-%d}..{self.last:%Y-%m-%d} ({self.days} days)"


def monthly(amount_in_window, days: int) -> float:
    """Monthly-ize an amount observed over `days` days: per-day average x 30.4."""
    return usd(float(amount_in_window) / max(int(days), 1) * DAYS_PER_MONTH)


def priority_of(monthly_saving: float, effort: str) -> str:
    """Priority from the saving and the effort: P1 (>= $50/month, or >= $10 at low effort),
    P2 (>= $5/month, or >= $1 at low effort), P3 otherwise."""
    s = float(monthly_saving)
    if s >= 50 or (s >= 10 and effort == "low"):
        return "P1"
    if s >= 5 or (s >= 1 and effort == "low"):
        return "P2"
    return "P3"


def finding(category: str, kind: str, subject_type: str, subject_id: str, evidence: str,
            period: str, monthly_saving_usd: float, assumption: str, effort: str,
            workspace_id: str | None = None, priority: str | None = None) -> dict:
    """One finding row. `assumption` must say why when the saving is 0."""
    if effort not in EFFORTS:
        raise ValueError(f"effort must be one of {EFFORTS}, got {effort!r}")
    if not assumption:
        raise ValueError("every finding states the assumption behind its dollar figure")
    saving = usd(monthly_saving_usd)
    return {
        "finding_id": f"{category}:{kind}:{subject_type}:{subject_id}",
        "category": category, "kind": kind, "subject_type": subject_type,
        "subject_id": str(subject_id), "workspace_id": workspace_id, "evidence": evidence,
        "period": period, "monthly_saving_usd": saving, "assumption": assumption,
        "effort": effort, "priority": priority or priority_of(saving, effort),
    }


def findings_frame(rows: list[dict]) -> pd.DataFrame:
    """Finding rows as a DataFrame with the standard columns, best first."""
    df = pd.DataFrame(rows, columns=FINDING_COLUMNS)
    if df.empty:
        return df
    return df.sort_values(["priority", "monthly_saving_usd", "finding_id"],
                          ascending=[True, False, True]).reset_index(drop=True)


def markdown_table(df: pd.DataFrame, columns: list[str], limit: int = 10) -> str:
    """A small markdown table (for Dagster metadata) without the tabulate dependency."""
    rows = df.head(limit)
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for _, r in rows.iterrows():
        cells = []
        for c in columns:
            v = r[c]
            cells.append(f"{v:,.2f}" if isinstance(v, float) else str(v).replace("|", "/"))
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)

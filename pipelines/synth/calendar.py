"""Dates as int32 days since 1970-01-01, and calendar-month arithmetic.

Month offsets go through Polars `dt.offset_by`, which clamps to the month's end like DuckDB's
`interval` (Aug 31 - 6 months = Feb 28), so the generator and the SQL share one arithmetic.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

EPOCH = dt.date(1970, 1, 1)


def to_days(d: dt.date) -> int:
    return (d - EPOCH).days


def to_date(days: int) -> dt.date:
    return EPOCH + dt.timedelta(days=int(days))


def add_months(d: dt.date, months: int) -> dt.date:
    """Calendar-month offset that clamps to the month's end."""
    return pl.select(pl.lit(d).dt.offset_by(f"{months}mo")).item()


def add_years(d: dt.date, years: int) -> dt.date:
    return add_months(d, 12 * years)


def date_series(name: str, days: np.ndarray, null: np.ndarray | None = None) -> pl.Series:
    """int days -> pl.Date, with nulls where `null` is True."""
    s = pl.Series(name, np.asarray(days).astype(np.int32)).cast(pl.Date)
    if null is not None and null.any():
        s = s.scatter(np.flatnonzero(null), None)
    return s

"""The published value sets as the generator and its truth read them, in Polars.

Independent of the SQL models: the truth decides avoidable ED visits from these frames, the
generator draws its codes from them. NYU figures are exact integers in units of 1e-10 (the
table has ten decimals), so "exactly 0.5" stays exact.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache

import polars as pl

from pipelines.reference import read_code_list

NYU_SCALE = 10**10  # the NYU table's probabilities have ten decimals
NYU_AVOIDABLE_PARTS = ("noner", "epct", "edcnpa")
NYU_EXCLUDING_FLAGS = ("injury", "psych", "alcohol", "drug")


def _scaled(value: str) -> int:
    scaled = Decimal(value) * NYU_SCALE
    if scaled != scaled.to_integral_value():
        raise ValueError(f"NYU probability {value!r} has more than ten decimals")
    return int(scaled)


@cache
def nyu_classification() -> pl.DataFrame:
    """code, nyu_figure (noner + epct + edcnpa, in 1e-10 units; null when not classified),
    nyu_flag (injury / psych / alcohol / drug, else null)."""
    raw = read_code_list("nyu_ed_classification")
    figure = sum(
        raw[part].map_elements(_scaled, return_dtype=pl.Int64) for part in NYU_AVOIDABLE_PARTS
    )
    flag = pl.lit(None, dtype=pl.String)
    for name in reversed(NYU_EXCLUDING_FLAGS):
        flag = pl.when(pl.col(name) == "1").then(pl.lit(name)).otherwise(flag)
    return raw.select(
        "code",
        nyu_flag=flag,
        nyu_figure=pl.when(flag.is_null()).then(figure),
    )


@cache
def dhcs_avoidable() -> frozenset[str]:
    return frozenset(read_code_list("dhcs_avoidable_ed_diagnoses")["code"])


@cache
def ccs_map(kind: str) -> dict[str, str]:
    """ICD-10 code -> CCS category, kind 'cm' (diagnoses) or 'pcs' (procedures)."""
    df = read_code_list(f"ccs_icd10{kind}")
    return dict(zip(df["code"], df["ccs_category"], strict=True))


def categories(name: str, kind: str | None = None) -> frozenset[str]:
    df = read_code_list(name)
    if kind is not None:
        df = df.filter(pl.col("ccs_kind") == kind)
    return frozenset(df["ccs_category"])


def code_set(name: str) -> frozenset[str]:
    return frozenset(read_code_list(name)["code"])

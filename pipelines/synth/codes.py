"""Every code the generator emits, as integer indices into one vocabulary.

Event-defining codes come from reference/*.csv (pipelines.reference.codes); routine codes and
demographic values from codes.toml. Claim lines are built as integer arrays (fast, small) and
turned into strings once, at the end. `load_codes` checks that routine pools can never look
like an ED line, and that the diagnosis pools agree with the reference lists they must avoid.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.reference import codes, read_code_list

CODES_FILE = Path(__file__).with_name("codes.toml")


@dataclass(frozen=True)
class Codes:
    """`vocab[0]` is null; every pool is an int32 array of indices into `vocab`."""

    vocab: list[str | None]
    pools: dict[str, np.ndarray]

    def pool(self, name: str) -> np.ndarray:
        return self.pools[name]

    def one(self, name: str) -> int:
        return int(self.pools[name][0])

    def strings(self, idx: np.ndarray) -> pl.Series:
        return pl.Series(self.vocab, dtype=pl.String).gather(idx)


def _category(list_name: str, category: str) -> list[str]:
    df = read_code_list(list_name)
    return df.filter(pl.col("category") == category)["code"].to_list()


def _check(raw: dict[str, list[str]]) -> None:
    ed_revenue = set(codes("ed_codes", "revenue"))
    ed_hcpcs = set(codes("ed_codes", "hcpcs"))
    ed_pos = set(codes("ed_codes", "place_of_service"))
    avoidable = set(codes("avoidable_ed_diagnoses"))
    acute = set(codes("acute_diagnoses"))
    planned = set(codes("always_planned_diagnoses"))
    transfer = set(codes("transfer_discharge_statuses"))
    for name, values in raw.items():
        vals = set(values)
        if name.startswith("revenue.") and name != "revenue.ed":
            assert not vals & ed_revenue, f"{name} holds an ED revenue code"
        if name.startswith("hcpcs.") and name != "hcpcs.ed":
            assert not vals & ed_hcpcs, f"{name} holds an ED HCPCS code"
        if name.startswith("place_of_service.") and name != "place_of_service.ed":
            assert not vals & ed_pos, f"{name} holds the ED place of service"
    assert not set(raw["diagnosis.ed_not_avoidable"]) & avoidable
    assert not set(raw["diagnosis.unplanned_inpatient"]) & planned
    assert not set(raw["diagnosis.elective_not_acute"]) & (acute | planned)
    assert not set(raw["diagnosis.snf"]) & planned
    for status in ("to_hospital", "to_snf", "still_patient"):
        assert set(raw[f"discharge_status.{status}"]) <= transfer, status
    assert not set(raw["discharge_status.home"]) & transfer
    for bt in ("outpatient",):
        assert all(not c.startswith(("11", "21")) for c in raw[f"bill_type.{bt}"])


@cache
def load_codes() -> Codes:
    with open(CODES_FILE, "rb") as f:
        toml = tomllib.load(f)
    raw: dict[str, list[str]] = {
        f"{section}.{key}": list(values)
        for section, table in toml.items()
        for key, values in table.items()
    }
    raw["revenue.ed"] = codes("ed_codes", "revenue")
    raw["hcpcs.ed"] = codes("ed_codes", "hcpcs")
    raw["place_of_service.ed"] = codes("ed_codes", "place_of_service")
    raw["diagnosis.avoidable"] = codes("avoidable_ed_diagnoses")
    raw["diagnosis.acute"] = codes("acute_diagnoses")
    raw["diagnosis.unplanned_inpatient"] = (
        raw["diagnosis.acute"] + raw["diagnosis.unplanned_inpatient"]
    )
    raw["diagnosis.chemotherapy"] = _category(
        "always_planned_diagnoses", "maintenance_chemotherapy"
    )
    raw["diagnosis.rehabilitation"] = _category("always_planned_diagnoses", "rehabilitation")
    raw["diagnosis.delivery"] = _category("always_planned_diagnoses", "delivery")
    raw["procedure.potentially_planned"] = codes("potentially_planned_procedures")
    raw["procedure.delivery"] = _category("always_planned_procedures", "delivery")
    raw["procedure.chemotherapy"] = _category(
        "always_planned_procedures", "maintenance_chemotherapy"
    )
    _check(raw)

    vocab: list[str | None] = [None]
    index: dict[str, int] = {}
    pools: dict[str, np.ndarray] = {}
    for name, values in raw.items():
        ids = []
        for v in values:
            if v == "":
                ids.append(0)
                continue
            if v not in index:
                index[v] = len(vocab)
                vocab.append(v)
            ids.append(index[v])
        pools[name] = np.asarray(ids, dtype=np.int32)
    return Codes(vocab=vocab, pools=pools)


def draw(rng: np.random.Generator, pool: np.ndarray, n: int) -> np.ndarray:
    """n codes drawn uniformly (with replacement) from a pool."""
    return pool[rng.integers(0, len(pool), n)]

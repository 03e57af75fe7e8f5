"""Every code the generator emits, as integer indices into one vocabulary.

Event-defining codes come from the published lists in reference/ (pipelines.synth.value_sets):
ED visit diagnoses by how the DHCS list and the NYU algorithm classify them, stay diagnoses and
procedures by their CMS PRA v4.0 table and AHRQ CCS category. Routine codes and demographic
values come from codes.toml. Claim lines are built as integer arrays (fast, small) and turned
into strings once, at the end. `load_codes` checks that routine pools can never look like an
ED line, and that each stay pool decides as its plan category says under the real lists.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.reference import codes
from pipelines.synth import value_sets as vs

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


def _ccs_codes(kind: str, wanted: frozenset[str]) -> list[str]:
    return sorted(code for code, ccs in vs.ccs_map(kind).items() if ccs in wanted)


def _ed_diagnoses() -> dict[str, list[str]]:
    """ED visit diagnoses by how the methods classify them (docs/method.md section 3)."""
    nyu = vs.nyu_classification()
    dhcs = vs.dhcs_avoidable()
    half = vs.NYU_SCALE // 2
    on_dhcs = pl.col("code").is_in(list(dhcs))
    fig = pl.col("nyu_figure")

    def pick(expr: pl.Expr) -> list[str]:
        return sorted(nyu.filter(expr)["code"])

    in_nyu = set(nyu["code"])
    return {
        "ed_dx.dhcs": sorted(dhcs),
        # On the DHCS list and NYU figure 1: avoidable under every method, weight 1.
        "ed_dx.avoidable_everywhere": pick(on_dhcs & (fig == vs.NYU_SCALE)),
        "ed_dx.nyu_only": pick(~on_dhcs & (fig > half)),
        "ed_dx.nyu_half": pick(~on_dhcs & (fig == half)),
        "ed_dx.nyu_low": pick(~on_dhcs & (fig < half)),
        "ed_dx.nyu_unclassified": pick(~on_dhcs & pl.col("nyu_flag").is_not_null()),
        # Injury codes: avoidable under no method (planted "not avoidable" visits).
        "ed_dx.injury": pick(~on_dhcs & (pl.col("nyu_flag") == "injury")),
        "ed_dx.not_in_nyu": sorted(
            code for code in vs.ccs_map("cm") if code not in in_nyu and code not in dhcs
        ),
    }


def _check(raw: dict[str, list[str]]) -> None:
    ed_revenue = set(codes("ed_codes", "revenue"))
    ed_hcpcs = set(codes("ed_codes", "hcpcs"))
    ed_pos = set(codes("ed_codes", "place_of_service"))
    ed_pos_em = set(codes("ed_codes", "ed_pos_procedure"))
    transfer = set(codes("transfer_discharge_statuses"))
    for name, values in raw.items():
        vals = set(values)
        if name.startswith("revenue.") and name != "revenue.ed":
            assert not vals & ed_revenue, f"{name} holds an ED revenue code"
        if name.startswith("hcpcs.") and name != "hcpcs.ed":
            assert not vals & ed_hcpcs, f"{name} holds an ED HCPCS code"
        if name.startswith("place_of_service.") and name != "place_of_service.ed":
            assert not vals & ed_pos, f"{name} holds the ED place of service"
    # A POS-23 reading carries no E&M or critical-care code: it is not a visit.
    assert not set(raw["hcpcs.pos23_reading"]) & (ed_pos_em | ed_hcpcs)
    dx_ccs, pr_ccs = vs.ccs_map("cm"), vs.ccs_map("pcs")
    always_dx = vs.categories("pra_always_planned_diagnosis_ccs") | vs.categories(
        "delivery_newborn_ccs", "diagnosis"
    )
    acute_ccs, acute_codes = (
        vs.categories("pra_acute_diagnosis_ccs"),
        vs.code_set("pra_acute_diagnoses"),
    )
    pr1 = vs.categories("pra_always_planned_procedure_ccs")
    delivery_pr = vs.categories("delivery_newborn_ccs", "procedure")
    pr3_ccs, pr3_codes = (
        vs.categories("pra_potentially_planned_procedure_ccs"),
        vs.code_set("pra_potentially_planned_procedures"),
    )

    def acute(code: str) -> bool:
        return dx_ccs.get(code) in acute_ccs or code in acute_codes

    for pool in ("unplanned_inpatient", "snf", "elective_not_acute", "unmapped", "acute"):
        bad = [c for c in raw[f"diagnosis.{pool}"] if dx_ccs.get(c) in always_dx]
        assert not bad, f"diagnosis.{pool} holds always-planned diagnoses {bad[:5]}"
    assert all(acute(c) for c in raw["diagnosis.acute"])
    bad = [c for c in raw["diagnosis.elective_not_acute"] if acute(c) or c not in dx_ccs]
    assert not bad, f"diagnosis.elective_not_acute holds acute or unmapped codes {bad}"
    bad = [c for c in raw["diagnosis.unmapped"] if c in dx_ccs or c in acute_codes]
    assert not bad, f"diagnosis.unmapped holds codes the CCS map or PR4 knows {bad}"
    bad = [
        c
        for c in raw["procedure.other"]
        if c not in pr_ccs or pr_ccs[c] in pr1 | delivery_pr | pr3_ccs or c in pr3_codes
    ]
    assert not bad, f"procedure.other holds planned or unmapped procedures {bad}"
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
    raw |= _ed_diagnoses()
    dx_ccs = vs.ccs_map("cm")
    always_dx = vs.categories("pra_always_planned_diagnosis_ccs") | vs.categories(
        "delivery_newborn_ccs", "diagnosis"
    )
    raw["diagnosis.acute"] = sorted(
        c for c in vs.code_set("pra_acute_diagnoses") if dx_ccs.get(c, "") not in always_dx
    )
    raw["diagnosis.unplanned_inpatient"] = (
        raw["diagnosis.acute"] + raw["diagnosis.unplanned_inpatient"]
    )
    raw["diagnosis.chemotherapy"] = _ccs_codes("cm", frozenset({"45"}))
    raw["diagnosis.rehabilitation"] = _ccs_codes("cm", frozenset({"254"}))
    raw["diagnosis.delivery"] = _ccs_codes("cm", frozenset({"196"}))  # delivery (218: newborn)
    pr1 = vs.categories("pra_always_planned_procedure_ccs")
    delivery_pr = vs.categories("delivery_newborn_ccs", "procedure")
    raw["procedure.potentially_planned"] = sorted(
        (
            set(_ccs_codes("pcs", vs.categories("pra_potentially_planned_procedure_ccs")))
            | vs.code_set("pra_potentially_planned_procedures")
        )
        - set(_ccs_codes("pcs", pr1 | delivery_pr))
    )
    raw["procedure.delivery"] = _ccs_codes("pcs", delivery_pr)
    raw["procedure.transplant"] = _ccs_codes("pcs", pr1)
    raw["procedure.chemotherapy"] = _ccs_codes("pcs", frozenset({"224"}))
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

"""Render episodes and routine care into claim lines that follow the landing contract.

Claims are built as integer arrays (codes are indices into codes.Codes.vocab), then lines are
exploded from claims, then version copies (replacements, voids) are appended, and only at the
end are strings made. Routine claims (office visits, labs, outpatient 13x) are most of the
volume and never use an ED revenue code, ED HCPCS, place of service 23 or a 11x/21x bill type.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines.contract import MEDICAL_CLAIMS
from pipelines.synth import events as ev
from pipelines.synth.calendar import date_series
from pipelines.synth.codes import Codes, draw

NONE = 0  # vocab index of null
NO_DATE = -(2**30)

# Line categories: which pools a claim's extra lines come from.
OFFICE, LAB, OUTPATIENT, ED_FACILITY, ED_PROFESSIONAL, INPATIENT, INPATIENT_PROF, SNF = range(8)
EXTRA_POOLS = {  # category: (revenue pool, hcpcs pool)
    OFFICE: (None, "hcpcs.office_extra"),
    LAB: (None, "hcpcs.lab"),
    OUTPATIENT: ("revenue.outpatient", "hcpcs.outpatient"),
    ED_FACILITY: ("revenue.ed_facility_extra", "hcpcs.ed_facility_extra"),
    ED_PROFESSIONAL: (None, "hcpcs.office_extra"),
    INPATIENT: ("revenue.inpatient", None),
    INPATIENT_PROF: (None, "hcpcs.inpatient_professional"),
    SNF: ("revenue.snf", None),
}
# Mean paid amount per line by category (lognormal scale), dollars.
LINE_AMOUNT = np.array([90.0, 25.0, 180.0, 350.0, 160.0, 2400.0, 140.0, 450.0])
ROUTINE_PER_YEAR = 5.8
ROUTINE_WEIGHTS = np.array([0.5, 0.3, 0.2])  # office, lab, outpatient
P_ROUTINE_VOID, P_ROUTINE_REPLACE, P_EPISODE_REPLACE = 0.01, 0.03, 0.02
SNF_CLAIM_DAYS = 30  # a long SNF stay is billed in interim claims of this many days
PAID_LAG_DAYS = (10, 60)
VERSION_LAG_DAYS = (15, 90)
MAX_SECONDARY_DX = 3

CLAIM_FIELDS = (
    "member",
    "inst",
    "cat",
    "bill",
    "pos",
    "rev1",
    "hcpcs1",
    "start",
    "end",
    "adm",
    "dis",
    "adm_type",
    "status",
    "dx",
    "orig_dx",
    "proc",
    "proc2",
    "n_lines",
    "daily",
    "void",
    "replace",
)


class ClaimBlocks:
    """Accumulates claim headers from several renderers, as column arrays."""

    def __init__(self) -> None:
        self.blocks: list[dict[str, np.ndarray]] = []

    def add(self, n: int, **cols) -> None:
        if n == 0:
            return
        defaults = {
            "bill": NONE,
            "pos": NONE,
            "rev1": NONE,
            "hcpcs1": NONE,
            "adm": NO_DATE,
            "dis": NO_DATE,
            "adm_type": NONE,
            "status": NONE,
            "orig_dx": NONE,
            "proc": NONE,
            "proc2": NONE,
            "daily": False,
            "void": False,
            "replace": False,
        }
        block = {}
        for name in CLAIM_FIELDS:
            value = cols.get(name, defaults.get(name))
            block[name] = np.broadcast_to(np.asarray(value), (n,)).copy()
        self.blocks.append(block)

    def concat(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate([b[k] for b in self.blocks]) for k in CLAIM_FIELDS}


class Renderer:
    def __init__(self, codes: Codes, rng: np.random.Generator) -> None:
        self.c = codes
        self.rng = rng
        self.claims = ClaimBlocks()

    def pick(self, pool: str, n: int) -> np.ndarray:
        return draw(self.rng, self.c.pool(pool), n)

    def lines(self, n: int, mean_extra: float, cap: int) -> np.ndarray:
        return np.minimum(1 + self.rng.poisson(mean_extra, n), cap)

    # -- ED ----------------------------------------------------------------------------------
    def ed_facility(self, e: ev.Episodes, day: np.ndarray, dx, other, defines: bool) -> None:
        n = len(e)
        flip = e.replaced_flip & defines
        self.claims.add(
            n,
            member=e.member,
            inst=True,
            cat=ED_FACILITY,
            bill=self.pick("bill_type.outpatient", n),
            rev1=self.pick("revenue.ed", n),
            hcpcs1=self.pick("hcpcs.ed", n),
            start=day,
            end=day,
            dx=dx,
            orig_dx=np.where(flip, other, NONE),
            replace=flip,
            n_lines=self.lines(n, 1.5, 6),
            void=e.voided,
        )

    def ed_professional(self, e: ev.Episodes, day, dx, other, defines: np.ndarray) -> None:
        n = len(e)
        flip = e.replaced_flip & defines
        self.claims.add(
            n,
            member=e.member,
            inst=False,
            cat=ED_PROFESSIONAL,
            pos=self.pick("place_of_service.ed", n),
            hcpcs1=self.pick("hcpcs.ed", n),
            start=day,
            end=day,
            dx=dx,
            orig_dx=np.where(flip, other, NONE),
            replace=flip,
            n_lines=self.lines(n, 0.3, 3),
            void=e.voided,
        )

    def ed_visits(self, e: ev.Episodes) -> None:
        dx, other = e.dx, e.other_dx
        fac = e.ed_form != ev.PROFESSIONAL_ONLY
        prof = e.ed_form != ev.FACILITY_ONLY
        self.ed_facility(e.take(fac), e.anchor[fac], dx[fac], other[fac], True)
        # The professional claim shares the facility's diagnosis unless the episode says
        # otherwise; the visit's diagnosis is the facility's (method.md section 3). A visit
        # crossing midnight has its professional claim on the next day.
        pdx = np.where(e.professional_dx_differs, other, dx)
        p = e.take(prof)
        self.ed_professional(
            p,
            e.anchor[prof] + (e.ed_form[prof] == ev.MIDNIGHT),
            pdx[prof],
            np.where(e.professional_dx_differs, dx, other)[prof],
            ~fac[prof],
        )

    def readings(self, e: ev.Episodes) -> None:
        """POS-23 radiology, lab or ECG readings without an E&M code: not ED visits."""
        n = len(e)
        self.claims.add(
            n,
            member=e.member,
            inst=False,
            cat=ED_PROFESSIONAL,
            pos=self.pick("place_of_service.ed", n),
            hcpcs1=self.pick("hcpcs.pos23_reading", n),
            start=e.anchor,
            end=e.anchor,
            dx=self.pick("diagnosis.routine", n),
            n_lines=1,
            void=e.voided,
        )

    # -- stays -------------------------------------------------------------------------------
    def inpatient(self, e: ev.Episodes, adm, dis, dx, proc, adm_type, status, proc2=NONE) -> None:
        n = len(e)
        self.claims.add(
            n,
            member=e.member,
            inst=True,
            cat=INPATIENT,
            bill=self.pick("bill_type.inpatient", n),
            rev1=self.pick("revenue.inpatient_first", n),
            start=adm,
            end=dis,
            adm=adm,
            dis=dis,
            adm_type=adm_type,
            status=status,
            dx=dx,
            proc=proc,
            proc2=proc2,
            n_lines=self.lines(n, 2.0, 8),
            void=e.voided,
        )
        self.claims.add(
            n,
            member=e.member,
            inst=False,
            cat=INPATIENT_PROF,
            pos=self.pick("place_of_service.inpatient_professional", n),
            hcpcs1=self.pick("hcpcs.inpatient_professional_first", n),
            start=adm,
            end=dis,
            dx=dx,
            n_lines=np.minimum(dis - adm + 1, 6),
            daily=True,
            void=e.voided,
        )

    def emergent(self, e: ev.Episodes, adm, dis, status: str) -> None:
        n = len(e)
        self.inpatient(
            e,
            adm,
            dis,
            self.pick("diagnosis.unplanned_inpatient", n),
            NONE,
            self.pick("admission_type.emergent", n),
            self.c.one(status),
        )

    def stays(self, e: ev.Episodes) -> None:
        n, p = len(e), e.plan
        dx = np.select(
            [
                p == ev.ELECTIVE_ACUTE,
                np.isin(p, (ev.ELECTIVE_NO_PROCEDURE, ev.ELECTIVE_PLANNED, ev.EMERGENCY_PR3)),
                p == ev.UNMAPPED_DX,
                p == ev.CHEMOTHERAPY,
                p == ev.REHABILITATION,
                p == ev.DELIVERY,
            ],
            [
                self.pick("diagnosis.acute", n),
                self.pick("diagnosis.elective_not_acute", n),
                self.pick("diagnosis.unmapped", n),
                self.pick("diagnosis.chemotherapy", n),
                self.pick("diagnosis.rehabilitation", n),
                self.pick("diagnosis.delivery", n),
            ],
            self.pick("diagnosis.unplanned_inpatient", n),
        )
        coin = self.rng.random(n)
        proc = np.select(
            [
                np.isin(p, (ev.ELECTIVE_ACUTE, ev.ELECTIVE_PLANNED, ev.EMERGENCY_PR3)),
                (p == ev.DELIVERY) & (coin < 0.5),
                (p == ev.CHEMOTHERAPY) & (coin < 0.3),
                p == ev.TRANSPLANT_SECONDARY,
            ],
            [
                self.pick("procedure.potentially_planned", n),
                self.pick("procedure.delivery", n),
                self.pick("procedure.chemotherapy", n),
                self.pick("procedure.other", n),
            ],
            NONE,
        )
        proc2 = np.where(p == ev.TRANSPLANT_SECONDARY, self.pick("procedure.transplant", n), NONE)
        elective = np.isin(
            p,
            (
                ev.ELECTIVE_ACUTE,
                ev.ELECTIVE_NO_PROCEDURE,
                ev.ELECTIVE_PLANNED,
                ev.CHEMOTHERAPY,
                ev.REHABILITATION,
            ),
        )
        adm_type = np.where(
            elective, self.c.one("admission_type.elective"), self.pick("admission_type.emergent", n)
        )
        adm = e.anchor
        self.inpatient(
            e, adm, adm + e.los1, dx, proc, adm_type, self.c.one("discharge_status.home"), proc2
        )
        # An ED professional line dated inside the stay (a consult): part of the stay.
        inside = e.take(e.ed_inside)
        self.ed_professional(
            inside,
            inside.anchor + 1,
            inside.dx,
            inside.other_dx,
            np.zeros(len(inside), bool),
        )

    def snf_claim(self, e: ev.Episodes, adm, start, end, dis, bill, status) -> None:
        n = len(e)
        self.claims.add(
            n,
            member=e.member,
            inst=True,
            cat=SNF,
            bill=bill,
            rev1=self.pick("revenue.snf_first", n),
            start=start,
            end=end,
            adm=adm,
            dis=dis,
            adm_type=self.pick("admission_type.snf", n),
            status=status,
            dx=self.pick("diagnosis.snf", n),
            n_lines=self.lines(n, 2.0, 6),
            void=e.voided,
        )

    def long_snf(self, e: ev.Episodes) -> None:
        """Interim claims (212 first, 213 continuing, 214 last) sharing one admission date."""
        los = e.los1.astype(np.int32)
        parts = -(-los // SNF_CLAIM_DAYS)
        rep = np.repeat(np.arange(len(e)), parts)
        first = np.r_[0, np.cumsum(parts)[:-1]]
        k = np.arange(len(rep)) - np.repeat(first, parts)
        last = k == parts[rep] - 1
        adm = e.anchor[rep]
        start = adm + k * SNF_CLAIM_DAYS
        end = np.where(last, adm + los[rep], start + SNF_CLAIM_DAYS - 1)
        c = self.c
        bill = np.select(
            [parts[rep] == 1, k == 0, last],
            [
                c.one("bill_type.snf"),
                c.one("bill_type.snf_interim_first"),
                c.one("bill_type.snf_interim_last"),
            ],
            c.one("bill_type.snf_interim_continuing"),
        )
        status = np.where(
            last, c.one("discharge_status.home"), c.one("discharge_status.still_patient")
        )
        self.snf_claim(e.take(rep), adm, start, end, np.where(last, end, NO_DATE), bill, status)

    def episodes(self, ep: ev.Episodes) -> None:
        k, c = ep.kind, self.c
        self.ed_visits(ep.take(k == ev.ED))
        self.stays(ep.take(k == ev.STAY))

        self.readings(ep.take(k == ev.READING))

        e = ep.take(k == ev.ED_ADMIT)
        dx, other = e.dx, e.other_dx
        self.ed_professional(e, e.anchor, dx, other, np.ones(len(e), bool))
        fac = e.ed_form == ev.FACILITY_AND_PROFESSIONAL
        self.ed_facility(e.take(fac), e.anchor[fac], dx[fac], other[fac], False)
        adm = e.anchor + e.gap
        self.emergent(e, adm, adm + e.los1, "discharge_status.home")

        e = ep.take(k == ev.TRANSFER)
        dis_a = e.anchor + e.los1
        self.emergent(e, e.anchor, dis_a, "discharge_status.to_hospital")
        adm_b = dis_a + e.gap
        self.emergent(e, adm_b, adm_b + e.los2, "discharge_status.home")

        e = ep.take(k == ev.HOSP_SNF)
        dis_a = e.anchor + e.los1
        self.emergent(e, e.anchor, dis_a, "discharge_status.to_snf")
        adm_b = dis_a + e.gap
        self.snf_claim(
            e,
            adm_b,
            adm_b,
            adm_b + e.los2,
            adm_b + e.los2,
            c.one("bill_type.snf"),
            c.one("discharge_status.home"),
        )

        e = ep.take(k == ev.SNF)
        self.snf_claim(
            e,
            e.anchor,
            e.anchor,
            e.anchor + e.los1,
            e.anchor + e.los1,
            c.one("bill_type.snf"),
            c.one("discharge_status.home"),
        )
        self.long_snf(ep.take(k == ev.LONG_SNF))

    # -- routine care ------------------------------------------------------------------------
    def routine(self, member: np.ndarray, day: np.ndarray) -> None:
        n = len(member)
        cat = self.rng.choice(3, n, p=ROUTINE_WEIGHTS)
        for i, (cat_id, inst) in enumerate(((OFFICE, False), (LAB, False), (OUTPATIENT, True))):
            m = cat == i
            nm = int(m.sum())
            cols = {
                "member": member[m],
                "inst": inst,
                "cat": cat_id,
                "start": day[m],
                "end": day[m],
                "dx": self.pick("diagnosis.routine", nm),
            }
            if cat_id == OFFICE:
                cols |= {
                    "pos": self.pick("place_of_service.office", nm),
                    "hcpcs1": self.pick("hcpcs.office", nm),
                    "n_lines": self.lines(nm, 1.2, 5),
                }
            elif cat_id == LAB:
                cols |= {
                    "pos": self.pick("place_of_service.lab", nm),
                    "hcpcs1": self.pick("hcpcs.lab", nm),
                    "n_lines": self.lines(nm, 3.0, 10),
                }
            else:
                cols |= {
                    "bill": self.pick("bill_type.outpatient", nm),
                    "rev1": self.pick("revenue.outpatient", nm),
                    "hcpcs1": self.pick("hcpcs.outpatient", nm),
                    "n_lines": self.lines(nm, 2.5, 8),
                }
            cols.setdefault("bill", NONE)
            self.claims.add(nm, **cols)


def routine_days(
    rng: np.random.Generator,
    member: np.ndarray,
    propensity: np.ndarray,
    first_day: int,
    last_day: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Routine claim dates: a skewed count per member (its propensity), uniform days."""
    years = (last_day - first_day + 1) / 365.25
    counts = rng.poisson(ROUTINE_PER_YEAR * years * (0.4 + 0.6 * propensity))
    m = np.repeat(member, counts)
    return m, rng.integers(first_day, last_day + 1, len(m)).astype(np.int32)


def build_lines(
    claims: dict[str, np.ndarray],
    codes: Codes,
    rng: np.random.Generator,
    as_of: int,
    claim_base: int,
    member_ids: pl.Series,
    first_member: int,
    npis: list[str],
) -> pl.DataFrame:
    """Claim headers -> contract lines, with replacement and void copies appended.

    member_ids[i - first_member] is the id of member index i.
    """
    c = claims
    nc = len(c["member"])
    routine = np.isin(c["cat"], (OFFICE, LAB, OUTPATIENT))
    u = rng.random(nc)
    c["void"] = c["void"] | (routine & (u < P_ROUTINE_VOID))
    c["replace"] = ~c["void"] & (
        c["replace"]
        | (routine & (u > 1 - P_ROUTINE_REPLACE))
        | (~routine & (u > 1 - P_EPISODE_REPLACE))
    )
    c["orig_dx"] = np.where(c["replace"] & (c["orig_dx"] == NONE), c["dx"], c["orig_dx"])

    # Lines of the original claims.
    n_lines = c["n_lines"].astype(np.int64)
    row = np.repeat(np.arange(nc), n_lines)
    first = np.r_[0, np.cumsum(n_lines)[:-1]]
    line_no = np.arange(len(row)) - np.repeat(first, n_lines) + 1
    cat = c["cat"][row]
    extra = line_no > 1
    rev = np.where(extra, NONE, c["rev1"][row])
    hcpcs = np.where(extra, NONE, c["hcpcs1"][row])
    r = rng.random(len(row))
    for cat_id, (rp, hp) in EXTRA_POOLS.items():
        m = extra & (cat == cat_id)
        if rp is not None:
            pool = codes.pool(rp)
            rev[m] = pool[(r[m] * len(pool)).astype(np.int64)]
        if hp is not None:
            pool = codes.pool(hp)
            hcpcs[m] = pool[(r[m] * len(pool)).astype(np.int64)]
    last_daily = c["daily"][row] & (line_no == n_lines[row]) & extra
    pool = codes.pool("hcpcs.inpatient_professional_last")
    hcpcs[last_daily] = pool[(r[last_daily] * len(pool)).astype(np.int64)]
    start, end = c["start"][row], c["end"][row]
    daily = c["daily"][row]
    line_start = np.where(daily, np.minimum(start + line_no - 1, end), start)
    line_end = np.where(daily, line_start, end)
    amount = np.round(LINE_AMOUNT[cat] * rng.lognormal(0.0, 0.6, len(row)), 2)
    paid0 = np.minimum(c["end"] + rng.integers(*PAID_LAG_DAYS, nc), as_of)

    # Version copies: replacement (7) and void (8) claims repeat their original's lines.
    copy_src = np.flatnonzero(c["replace"] | c["void"])
    copy_id = nc + np.arange(len(copy_src))
    copy_of = np.full(nc, -1, np.int64)
    copy_of[copy_src] = copy_id
    line_copy = copy_of[row] >= 0
    all_row = np.concatenate([row, row[line_copy]])
    claim_no = np.concatenate([row, copy_of[row][line_copy]])
    is_copy = np.r_[np.zeros(len(row), bool), np.ones(int(line_copy.sum()), bool)]
    paid_copy = np.minimum(paid0[copy_src] + rng.integers(*VERSION_LAG_DAYS, len(copy_src)), as_of)
    paid = np.full(nc + len(copy_src), 0, np.int32)
    paid[:nc] = paid0
    paid[nc:] = paid_copy
    freq = np.where(is_copy, np.where(c["void"][all_row], 8, 7), 1)
    dx = np.where(
        is_copy,
        c["dx"][all_row],
        np.where(c["replace"][all_row], c["orig_dx"][all_row], c["dx"][all_row]),
    )
    amount = np.concatenate([amount, amount[line_copy]])
    amount = np.where(freq == 8, -amount, amount)

    n_sec = rng.integers(0, MAX_SECONDARY_DX + 1, nc)
    sec = [
        np.where(n_sec > i, draw(rng, codes.pool("diagnosis.routine"), nc), NONE)
        for i in range(MAX_SECONDARY_DX)
    ]
    npi_idx = rng.integers(1, len(npis) + 1, nc)
    npi_series = pl.Series([None, *npis], dtype=pl.String)
    inst = c["inst"]

    def g(a: np.ndarray) -> np.ndarray:
        return a[all_row]

    claim_ids = (
        pl.Series(claim_base + np.arange(nc + len(copy_src), dtype=np.int64))
        .cast(pl.String)
        .str.zfill(12)
    )
    claim_ids = ("C" + claim_ids).alias("claim_id")
    orig_ids = pl.Series(np.where(is_copy, all_row, -1))
    df = pl.DataFrame(
        {
            "claim_id": claim_ids.gather(claim_no),
            "claim_line_number": np.concatenate([line_no, line_no[line_copy]]).astype(np.int64),
            "member_id": member_ids.gather(g(c["member"]) - first_member),
            "claim_type": pl.Series(["professional", "institutional"]).gather(
                g(inst).astype(np.int8)
            ),
            "claim_frequency_code": pl.Series(["", "1", "", "", "", "", "", "7", "8"]).gather(freq),
            "original_claim_id": claim_ids.gather(orig_ids.clip(0)),
            "bill_type": codes.strings(g(c["bill"])),
            "revenue_code": codes.strings(np.concatenate([rev, rev[line_copy]])),
            "place_of_service": codes.strings(g(c["pos"])),
            "hcpcs_code": codes.strings(np.concatenate([hcpcs, hcpcs[line_copy]])),
            "service_from_date": date_series(
                "s", np.concatenate([line_start, line_start[line_copy]])
            ),
            "service_to_date": date_series("e", np.concatenate([line_end, line_end[line_copy]])),
            "admission_date": date_series("a", g(c["adm"]), g(c["adm"]) == NO_DATE),
            "discharge_date": date_series("d", g(c["dis"]), g(c["dis"]) == NO_DATE),
            "admission_type_code": codes.strings(g(c["adm_type"])),
            "discharge_status_code": codes.strings(g(c["status"])),
            "principal_diagnosis_code": codes.strings(dx),
            **{f"diagnosis_code_{i + 2}": codes.strings(g(s)) for i, s in enumerate(sec)},
            "principal_procedure_code": codes.strings(g(c["proc"])),
            "procedure_code_2": codes.strings(g(c["proc2"])),
            "facility_npi": npi_series.gather(np.where(g(inst), g(npi_idx), 0)),
            "rendering_npi": npi_series.gather(np.where(g(inst), 0, g(npi_idx))),
            "paid_date": date_series("p", paid[claim_no]),
            "paid_amount": pl.Series(amount).cast(pl.Decimal(18, 2)),
        }
        | {
            f"diagnosis_code_{i}": pl.repeat(None, len(all_row), dtype=pl.String, eager=True)
            for i in range(2 + MAX_SECONDARY_DX, 13)
        }
        | {
            f"procedure_code_{i}": pl.repeat(None, len(all_row), dtype=pl.String, eager=True)
            for i in range(3, 26)
        },
        strict=False,
    )
    df = df.with_columns(
        pl.when(pl.Series(is_copy)).then(pl.col("original_claim_id")).alias("original_claim_id")
    )
    return df.select([col.name for col in MEDICAL_CLAIMS.columns])

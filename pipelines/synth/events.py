"""Episodes: the unit the generator plants, computes truth from, and renders into claims.

An episode is one clinical happening whose rule outcome is known by construction: an ED visit,
a hospital stay, an ED visit that ends in admission, a direct transfer, a hospital stay then a
SNF stay, a short or a long SNF stay. Interactions the rules care about (same-day facility and
professional claims, ED folding into an admission, transfer merges, versions) exist only
*inside* an episode. Background episodes sit on a grid of `SLOT_DAYS`-day slots with at least
three empty days between two episodes, so no two of them can merge, fold or share a date.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

# Episode kinds. READING: a radiology, lab or ECG reading billed with place of service 23 and
# no E&M code (not an ED visit, and no event at all).
ED, STAY, ED_ADMIT, TRANSFER, HOSP_SNF, SNF, LONG_SNF, READING = range(8)
KIND_NAMES = ("ed", "stay", "ed_admit", "transfer", "hosp_snf", "snf", "long_snf", "reading")

# ED visit forms: which claims render it. MIDNIGHT: the facility claim on the visit's date,
# the professional claim the next day (one encounter crossing midnight: one visit).
FACILITY_AND_PROFESSIONAL, PROFESSIONAL_ONLY, FACILITY_ONLY, MIDNIGHT = range(4)

# ED visit diagnosis classes: the codes.py pool each visit's principal diagnosis is drawn from.
# The truth decides avoidable from the drawn code itself, under whichever method the rules set.
ED_DX_POOLS = (
    "ed_dx.dhcs",  # on the DHCS list
    "ed_dx.nyu_only",  # not on the DHCS list; NYU classified, figure above 0.5
    "ed_dx.nyu_low",  # not on the DHCS list; NYU classified, figure below 0.5
    "ed_dx.nyu_half",  # not on the DHCS list; NYU figure exactly 0.5
    "ed_dx.nyu_unclassified",  # injury, psych, alcohol or drug under NYU
    "ed_dx.not_in_nyu",  # a code the NYU table does not have
    "ed_dx.avoidable_everywhere",  # planted: DHCS list and NYU figure 1
    "ed_dx.injury",  # planted: avoidable under no method
)
DX_DHCS, DX_NYU_ONLY, DX_NYU_LOW, DX_NYU_HALF, DX_UNCLASSIFIED, DX_NOT_IN_NYU = range(6)
DX_AVOIDABLE, DX_NOT_AVOIDABLE = 6, 7
# Background visits (the first six pools). Aimed at: about 4 in 10 Medicaid ED visits
# avoidable under the NYU algorithm (non-emergent, primary-care treatable or preventable),
# about 1 in 10 on the DHCS list of 108 codes, a third injuries (docs/method.md, section 10).
ED_DX_WEIGHTS = np.array([0.10, 0.30, 0.22, 0.01, 0.32, 0.05])

# Stay plan categories; >= FIRST_PLANNED is planned under the CMS PRA v4.0.
(
    EMERGENT,  # admission type 1/2/5, unplanned diagnosis, no procedure: unplanned
    ELECTIVE_ACUTE,  # PR3 procedure + acute (PR4) principal diagnosis: unplanned
    ELECTIVE_NO_PROCEDURE,  # type 3, non-acute dx, no procedure: unplanned
    UNMAPPED_DX,  # principal diagnosis newer than the CCS map, no procedure: unplanned
    ELECTIVE_PLANNED,  # type 3 + PR3 procedure + non-acute dx: planned
    CHEMOTHERAPY,  # PR2 diagnosis (CCS 45)
    REHABILITATION,  # PR2 diagnosis (CCS 254)
    DELIVERY,  # delivery diagnosis (CCS 196), half with a delivery procedure
    EMERGENCY_PR3,  # emergency admission + PR3 procedure + non-acute dx: planned (no type rule)
    TRANSPLANT_SECONDARY,  # a PR1 transplant as the second procedure: planned
) = range(10)
FIRST_PLANNED = ELECTIVE_PLANNED

SLOT_DAYS = 14
SLOT_MARGIN = 3  # empty days a slot keeps around its episode

# Background rates per member-year at propensity 1, by kind.
RATES_PER_YEAR = {
    ED: 0.45,
    STAY: 0.06,
    ED_ADMIT: 0.04,
    TRANSFER: 0.005,
    HOSP_SNF: 0.008,
    SNF: 0.005,
    LONG_SNF: 0.002,
    READING: 0.12,
}
STAY_PLAN_WEIGHTS = np.array([0.50, 0.04, 0.05, 0.02, 0.08, 0.05, 0.04, 0.12, 0.08, 0.02])
ED_FORM_WEIGHTS = np.array([0.5, 0.25, 0.15, 0.10])
P_PROFESSIONAL_DX_DIFFERS = 0.2
P_EPISODE_VOIDED = 0.01
P_ED_INSIDE_STAY = 0.05  # a stay of 2+ days with an ED professional line on its second day


@dataclass
class Episodes:
    """Column arrays, one element per episode. Dates are int days since 1970-01-01."""

    member: np.ndarray  # int64 global member index
    kind: np.ndarray  # int8
    anchor: np.ndarray  # int32: the episode's first date
    ed_class: np.ndarray  # int8: index into ED_DX_POOLS of the visit's (facility) diagnosis
    dx: np.ndarray  # int32: the visit's principal diagnosis (codes vocab index), drawn later
    other_dx: np.ndarray  # int32: a diagnosis of another class (professional, or original)
    ed_form: np.ndarray  # int8
    professional_dx_differs: np.ndarray  # bool: professional claim's dx is other_dx
    ed_inside: np.ndarray  # bool: a stay with an ED professional line on its second day
    plan: np.ndarray  # int8 plan category of the (first) hospital stay
    gap: np.ndarray  # int8 days between the two parts (ED -> admission, A -> B)
    los1: np.ndarray  # int16 length of the first stay
    los2: np.ndarray  # int16 length of the second stay
    voided: np.ndarray  # bool: every claim of the episode is voided
    replaced_flip: np.ndarray  # bool: the original claim had the other dx class; replaced

    def __len__(self) -> int:
        return len(self.member)

    def take(self, idx: np.ndarray) -> Episodes:
        return Episodes(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    @staticmethod
    def concat(parts: list[Episodes]) -> Episodes:
        return Episodes(
            **{
                f.name: np.concatenate([getattr(p, f.name) for p in parts])
                for f in fields(Episodes)
            }
        )

    @staticmethod
    def empty(n: int) -> Episodes:
        return Episodes(
            member=np.zeros(n, np.int64),
            kind=np.zeros(n, np.int8),
            anchor=np.zeros(n, np.int32),
            ed_class=np.zeros(n, np.int8),
            dx=np.zeros(n, np.int32),
            other_dx=np.zeros(n, np.int32),
            ed_form=np.zeros(n, np.int8),
            professional_dx_differs=np.zeros(n, bool),
            ed_inside=np.zeros(n, bool),
            plan=np.zeros(n, np.int8),
            gap=np.zeros(n, np.int8),
            los1=np.zeros(n, np.int16),
            los2=np.zeros(n, np.int16),
            voided=np.zeros(n, bool),
            replaced_flip=np.zeros(n, bool),
        )


def footprint(ep: Episodes) -> np.ndarray:
    """Days from the episode's first date to its last."""
    k = ep.kind
    gap = ep.gap.astype(np.int32)
    los1 = ep.los1.astype(np.int32)
    los2 = ep.los2.astype(np.int32)
    out = np.where((k == ED) & (ep.ed_form == MIDNIGHT), 1, 0).astype(np.int32)
    out = np.where(np.isin(k, (STAY, SNF, LONG_SNF)), los1, out)
    out = np.where(k == ED_ADMIT, gap + los1, out)
    out = np.where(np.isin(k, (TRANSFER, HOSP_SNF)), los1 + gap + los2, out)
    return out


def sample_background(
    rng: np.random.Generator,
    member: np.ndarray,
    propensity: np.ndarray,
    age: np.ndarray,
    can_deliver: np.ndarray,
    first_day: int,
    last_day: int,
) -> Episodes:
    """Skewed episode counts per member, placed on non-interacting slots ending at last_day."""
    years = (last_day - first_day + 1) / 365.25
    child = age < 21
    elderly = age >= 50
    counts = []
    for kind, rate in RATES_PER_YEAR.items():
        lam = propensity * rate * years
        if kind in (STAY, ED_ADMIT, TRANSFER, SNF):
            lam = lam * np.where(child, 0.4, 1.0)
        if kind in (HOSP_SNF, LONG_SNF):
            lam = lam * elderly
        counts.append(rng.poisson(lam))
    counts = np.stack(counts, axis=1)  # members x kinds
    per_member = counts.sum(axis=1)
    n = int(per_member.sum())
    ep = Episodes.empty(n)
    ep.member = np.repeat(member, per_member)
    ep.kind = np.repeat(
        np.tile(np.arange(len(RATES_PER_YEAR), dtype=np.int8), len(member)), counts.ravel()
    )
    k = ep.kind
    ep.ed_class = rng.choice(len(ED_DX_WEIGHTS), n, p=ED_DX_WEIGHTS).astype(np.int8)
    ep.ed_form = rng.choice(len(ED_FORM_WEIGHTS), n, p=ED_FORM_WEIGHTS).astype(np.int8)
    ep.professional_dx_differs = (ep.ed_form == FACILITY_AND_PROFESSIONAL) & (
        rng.random(n) < P_PROFESSIONAL_DX_DIFFERS
    )
    plan = rng.choice(len(STAY_PLAN_WEIGHTS), n, p=STAY_PLAN_WEIGHTS).astype(np.int8)
    deliverable = np.repeat(can_deliver, per_member)
    plan = np.where((plan == DELIVERY) & ~deliverable, EMERGENT, plan)
    ep.plan = np.where(k == STAY, plan, EMERGENT).astype(np.int8)
    ep.gap = rng.integers(0, 2, n).astype(np.int8)
    short = np.minimum(1 + rng.poisson(2.5, n), 8)
    ep.ed_inside = (k == STAY) & (rng.random(n) < P_ED_INSIDE_STAY)
    ep.los1 = np.select(
        [k == TRANSFER, k == HOSP_SNF, k == SNF, k == LONG_SNF],
        [
            np.minimum(short, 6),
            np.maximum(short, 2),
            rng.integers(7, 22, n),
            rng.integers(90, 121, n),
        ],
        short,
    ).astype(np.int16)
    ep.los2 = np.select(
        [k == TRANSFER, k == HOSP_SNF], [rng.integers(2, 11, n), rng.integers(7, 29, n)], 0
    ).astype(np.int16)
    ep.los1 = np.where(ep.ed_inside, np.maximum(ep.los1, 2), ep.los1).astype(np.int16)
    ep.voided = rng.random(n) < P_EPISODE_VOIDED

    # Place episodes on slots: random order per member, drop what does not fit, then spread.
    n_slots = (last_day - first_day + 1) // SLOT_DAYS
    grid_start = last_day - n_slots * SLOT_DAYS + 1
    foot = footprint(ep)
    width = -(-(foot + 2 * SLOT_MARGIN - 1) // SLOT_DAYS)
    order = np.lexsort((rng.random(n), ep.member))
    ep, foot, width = ep.take(order), foot[order], width[order]
    first = np.r_[True, ep.member[1:] != ep.member[:-1]]
    group = np.cumsum(first) - 1
    cum = np.cumsum(width)
    group_base = (cum - width)[first]
    used = cum - group_base[group]  # widths up to and including this episode
    keep = used <= n_slots
    ep, foot, width, used, group = ep.take(keep), foot[keep], width[keep], used[keep], group[keep]
    total = np.zeros(group.max() + 1 if len(group) else 0, np.int64)
    np.add.at(total, group, width)
    free = n_slots - total[group]
    u = rng.integers(0, free + 1)
    u = u[np.lexsort((u, group))]  # sorted within each member, in episode order
    slot = u + (used - width)
    slack = width * SLOT_DAYS - 2 * SLOT_MARGIN + 1 - foot
    offset = rng.integers(0, np.maximum(slack, 0) + 1)
    ep.anchor = (grid_start + slot * SLOT_DAYS + SLOT_MARGIN - 1 + offset).astype(np.int32)
    return ep


def draw_diagnoses(rng: np.random.Generator, ep: Episodes, pools: dict[str, np.ndarray]) -> None:
    """Each visit's principal diagnosis from its class pool, and a diagnosis of another class
    (an avoidable-everywhere code for a visit that is not, an injury code otherwise)."""
    n = len(ep)
    ep.dx = np.zeros(n, np.int32)
    for cls, name in enumerate(ED_DX_POOLS):
        m = ep.ed_class == cls
        pool = pools[name]
        ep.dx[m] = pool[rng.integers(0, len(pool), int(m.sum()))]
    yes, no = pools["ed_dx.avoidable_everywhere"], pools["ed_dx.injury"]
    avoidable_like = np.isin(ep.ed_class, (DX_DHCS, DX_NYU_ONLY, DX_AVOIDABLE))
    ep.other_dx = np.where(
        avoidable_like, no[rng.integers(0, len(no), n)], yes[rng.integers(0, len(yes), n)]
    ).astype(np.int32)

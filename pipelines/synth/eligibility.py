"""Members: ids, birth dates, enrollment spans, program flags and care-management statuses.

Background members are sampled as whole arrays; planted members (planted.py) replace them by
index. Open-ended dates use the `OPEN` sentinel until written out as nulls.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

OPEN = 2**30  # an enrollment without an end date, or no death date
ID_PRIME = 999_999_937  # member ids are an affine permutation of the index modulo this prime
ID_MULTIPLIER = 387_420_489
DECLINED, UNREACHABLE = 0, 1
STATUS_NAMES = ("declined", "unreachable")

# Age mix (Medi-Cal is about a third children): (weight, min age, max age).
AGE_BANDS = ((0.37, 0, 20), (0.50, 21, 64), (0.13, 65, 95))
# Enrollment histories: continuous, a gap, disenrolled before the as-of date, late enrollee.
ENROLLMENT_WEIGHTS = np.array([0.82, 0.07, 0.06, 0.05])
P_END_DATED = 0.2  # continuous spans that carry a future end date
P_DEATH = 0.006
P_IN_ECM, P_HOSPICE, P_PACE, P_WAIVER = 0.02, 0.004, 0.003, 0.01
P_STATUS, P_SECOND_STATUS, P_FUTURE_STATUS = 0.03, 0.2, 0.003
P_FREQUENT = 0.015  # members whose utilization propensity is multiplied
FREQUENT_MULTIPLIER = 8.0
PROPENSITY_SHAPE = 0.6
N_NPIS = 997


def member_ids(index: np.ndarray, seed: int) -> list[str]:
    """Non-sequential, unique ids: "M" + 9 digits, an affine permutation of the index."""
    offset = seed % ID_PRIME
    num = (index.astype(np.int64) * ID_MULTIPLIER + offset) % ID_PRIME
    return np.char.add("M", np.char.zfill(num.astype(str), 9)).tolist()


def npi_pool(seed: int) -> list[str]:
    rng = np.random.default_rng([seed, 7])
    nums = rng.choice(10**9, N_NPIS, replace=False) + 10**9
    return nums.astype(str).tolist()


@dataclass
class Members:
    member: np.ndarray  # int64 global index
    birth: np.ndarray  # int32 days
    death: np.ndarray  # int32 days or OPEN
    sex: np.ndarray  # vocab indices
    county: np.ndarray
    plan_code: np.ndarray
    aid_code: np.ndarray
    pcp: np.ndarray  # index into the NPI pool
    propensity: np.ndarray  # float: utilization multiplier


@dataclass
class Spans:
    member: np.ndarray
    start: np.ndarray
    end: np.ndarray  # OPEN when still enrolled
    in_ecm: np.ndarray
    hospice: np.ndarray
    pace: np.ndarray
    waiver_1915c: np.ndarray

    def take(self, idx: np.ndarray) -> Spans:
        return Spans(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    @staticmethod
    def concat(parts: list[Spans]) -> Spans:
        return Spans(
            **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Spans)}
        )


@dataclass
class Statuses:
    member: np.ndarray
    status: np.ndarray  # DECLINED | UNREACHABLE
    date: np.ndarray

    def take(self, idx: np.ndarray) -> Statuses:
        return Statuses(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    @staticmethod
    def concat(parts: list[Statuses]) -> Statuses:
        return Statuses(
            **{
                f.name: np.concatenate([getattr(p, f.name) for p in parts])
                for f in fields(Statuses)
            }
        )


def sample_members(rng: np.random.Generator, member: np.ndarray, codes, as_of: int) -> Members:
    n = len(member)
    band = rng.choice(len(AGE_BANDS), n, p=[b[0] for b in AGE_BANDS])
    lo = np.array([b[1] for b in AGE_BANDS])[band]
    hi = np.array([b[2] for b in AGE_BANDS])[band]
    age = rng.integers(lo, hi + 1)
    birth = (as_of - np.floor(age * 365.25 + rng.random(n) * 365.0)).astype(np.int32)
    elderly = age >= 65
    dies = rng.random(n) < P_DEATH * np.where(elderly, 4.0, 0.5)
    death = np.where(dies, as_of - rng.integers(1, 300, n), OPEN).astype(np.int32)
    death = np.maximum(death, birth)
    propensity = rng.gamma(PROPENSITY_SHAPE, 1 / PROPENSITY_SHAPE, n)
    propensity *= np.where(rng.random(n) < P_FREQUENT, FREQUENT_MULTIPLIER, 1.0)
    return Members(
        member=member,
        birth=birth,
        death=death,
        sex=codes.pool("demographics.sex")[rng.integers(0, 5, n)],
        county=codes.pool("demographics.county")[
            rng.zipf(1.6, n).clip(1, len(codes.pool("demographics.county"))) - 1
        ],
        plan_code=codes.pool("demographics.plan_code")[
            rng.integers(0, len(codes.pool("demographics.plan_code")), n)
        ],
        aid_code=codes.pool("demographics.aid_code")[
            rng.integers(0, len(codes.pool("demographics.aid_code")), n)
        ],
        pcp=rng.integers(0, N_NPIS, n),
        propensity=propensity,
    )


def sample_spans(rng: np.random.Generator, m: Members, first_day: int, as_of: int) -> Spans:
    """One or two enrollment spans per member, never starting before birth."""
    n = len(m.member)
    history = rng.choice(len(ENROLLMENT_WEIGHTS), n, p=ENROLLMENT_WEIGHTS)
    start0 = np.maximum(m.birth, first_day - rng.integers(0, 1500, n))
    end0 = np.where(rng.random(n) < P_END_DATED, as_of + rng.integers(10, 400, n), OPEN)
    gap_end1 = rng.integers(first_day + 30, as_of - 150, n)
    gap_start2 = gap_end1 + rng.integers(31, 100, n)
    disenrolled_end = rng.integers(first_day + 30, as_of, n)
    late_start = np.maximum(m.birth, rng.integers(first_day, as_of - 30, n))
    # Histories that would start after their own end fall back to continuous enrollment.
    history = np.where((history == 1) & (start0 >= gap_end1), 0, history)
    history = np.where((history == 2) & (start0 >= disenrolled_end), 0, history)
    # A late start after the member's death (spans end 20 days after it) would end first.
    history = np.where(
        (history == 3) & (late_start >= np.minimum(as_of, m.death.astype(np.int64) + 20)),
        0,
        history,
    )

    start1 = np.select([history == 3], [late_start], start0)
    end1 = np.select([history == 1, history == 2], [gap_end1, disenrolled_end], end0)
    end1 = np.where(m.death < OPEN, np.minimum(end1, m.death + 20), end1)
    two = history == 1
    end2 = np.where(m.death < OPEN, np.minimum(OPEN, m.death + 20), OPEN)
    two &= gap_start2 <= end2
    members = np.concatenate([m.member, m.member[two]])
    age_days = as_of - m.birth
    old = age_days >= 55 * 365
    flags = {
        "in_ecm": rng.random(n) < P_IN_ECM,
        "hospice": rng.random(n) < P_HOSPICE * np.where(old, 5.0, 0.2),
        "pace": (rng.random(n) < P_PACE * 5) & old,
        "waiver_1915c": rng.random(n) < P_WAIVER,
    }
    spans = Spans(
        member=members,
        start=np.concatenate([start1, gap_start2[two]]).astype(np.int32),
        end=np.concatenate([end1, end2[two]]).astype(np.int32),
        **{k: np.concatenate([v, v[two]]) for k, v in flags.items()},
    )
    return spans


def sample_statuses(
    rng: np.random.Generator, member: np.ndarray, first_day: int, as_of: int
) -> Statuses:
    n = len(member)
    has = rng.random(n) < P_STATUS
    second = has & (rng.random(n) < P_SECOND_STATUS)
    future = ~has & (rng.random(n) < P_FUTURE_STATUS)
    d1 = rng.integers(first_day, as_of - 60, n)
    d2 = d1 + rng.integers(1, 60, n)
    d3 = as_of + rng.integers(1, 30, n)
    s = rng.integers(0, 2, n)
    return Statuses(
        member=np.concatenate([member[has], member[second], member[future]]),
        status=np.concatenate([s[has], 1 - s[second], s[future]]).astype(np.int8),
        date=np.concatenate([d1[has], d2[second], d3[future]]).astype(np.int32),
    )

"""Planted edge members: one scenario per rule edge of docs/method.md, with a known answer.

Thresholds come from config/rules.toml, so "at threshold" stays at the threshold when a plan
changes it. Every scenario places its episodes by hand, spaced so nothing merges or folds
except what the scenario means to merge or fold. Several copies of each scenario are spread
over the member index space so any sample of the output holds them all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from pipelines.config import RuleConfig
from pipelines.synth import events as ev
from pipelines.synth.calendar import add_months, add_years, to_days
from pipelines.synth.eligibility import DECLINED, UNREACHABLE

ADULT_AGE = 45
CHILD_AGE = 9
MAX_COPIES = 3


@dataclass
class PlantedMember:
    scenario: str
    birth: dt.date
    episodes: list[dict] = field(default_factory=list)
    # (start, end or None, flags) per enrollment span; default: enrolled throughout.
    spans: list[tuple[dt.date, dt.date | None, dict[str, bool]]] | None = None
    statuses: list[tuple[int, dt.date]] = field(default_factory=list)
    death: dt.date | None = None
    female: bool = False


def _spread(n: int, first: dt.date, last: dt.date) -> list[dt.date]:
    """n dates evenly spread from first to last (inclusive)."""
    if n <= 0:
        return []
    if n == 1:
        return [last]
    step = (last - first).days / (n - 1)
    return [first + dt.timedelta(days=round(i * step)) for i in range(n)]


def _ed(d: dt.date, avoidable: bool = True, **kw) -> dict:
    """An ED visit whose diagnosis is avoidable under every method (DHCS list, NYU figure 1),
    or under none (an injury), unless `ed_class` says otherwise."""
    ed_class = ev.DX_AVOIDABLE if avoidable else ev.DX_NOT_AVOIDABLE
    return {"kind": ev.ED, "anchor": d, "ed_class": ed_class, **kw}


def _stay(d: dt.date, plan: int = ev.EMERGENT, los: int = 3, **kw) -> dict:
    return {"kind": ev.STAY, "anchor": d, "plan": plan, "los1": los, **kw}


class _Builder:
    """Scenario recipes relative to the as-of date."""

    def __init__(self, as_of: dt.date, rules: RuleConfig) -> None:
        self.as_of = as_of
        self.r = rules
        self.lookback_first = add_months(as_of, -rules.windows.lookback_months) + dt.timedelta(1)
        self.adult_birth = add_years(as_of, -ADULT_AGE) - dt.timedelta(100)
        self.child_birth = add_years(as_of, -CHILD_AGE) - dt.timedelta(100)

    def days_before(self, n: int) -> dt.date:
        return self.as_of - dt.timedelta(days=n)

    def recent(self, n: int) -> list[dt.date]:
        """Dates inside the latest six months, far enough apart for short stays."""
        return _spread(n, self.days_before(150), self.days_before(10))

    def whole_year(self, n: int) -> list[dt.date]:
        return _spread(n, self.lookback_first + dt.timedelta(20), self.days_before(10))

    def adult(self, scenario: str, episodes: list[dict], **kw) -> PlantedMember:
        return PlantedMember(scenario, self.adult_birth, episodes, **kw)

    def child(self, scenario: str, episodes: list[dict], **kw) -> PlantedMember:
        return PlantedMember(scenario, self.child_birth, episodes, **kw)

    def adult_ed(self, n: int) -> list[dict]:
        return [_ed(d) for d in self.recent(n)]

    def stays_plus(self, extra: dict) -> list[dict]:
        """threshold - 1 unplanned stays, then `extra` placed after them, all in six months."""
        n = self.r.adult.unplanned_stays - 1
        dates = _spread(n + 1, self.days_before(170), self.days_before(60))
        return [_stay(d) for d in dates[:n]] + [{**extra, "anchor": dates[n]}]

    def stays_then_snf(self, los: int) -> list[dict]:
        """threshold - 1 unplanned hospital stays, then a SNF stay of `los` days."""
        n = self.r.adult.unplanned_stays - 1
        stays = [_stay(d) for d in _spread(n, self.days_before(175), self.days_before(150))]
        return stays + [{"kind": ev.LONG_SNF, "anchor": self.days_before(110), "los1": los}]

    def scenarios(self) -> dict[str, Callable[[], PlantedMember]]:
        r, A, As = self.r, self.r.adult.ed_visits, self.r.adult.unplanned_stays
        C, Cs = r.child.ed_visits, r.child.unplanned_stays
        twelve_back = add_months(self.as_of, -r.windows.lookback_months)
        spread_first = add_months(self.as_of, -(r.windows.period_months + 1))
        spread_last = add_months(spread_first, r.windows.period_months) + dt.timedelta(3)
        early = _spread(
            A, self.lookback_first + dt.timedelta(10), add_months(self.lookback_first, 4)
        )
        gap_spans = [
            (self.days_before(900), self.days_before(300), {"in_ecm": True}),
            (self.days_before(250), None, {}),
        ]
        adult_high = self.adult_ed(A)
        f = {
            "adult_ed_at_threshold": lambda: self.adult("", self.adult_ed(A)),
            "adult_ed_one_short": lambda: self.adult("", self.adult_ed(A - 1)),
            "adult_stays_at_threshold": lambda: self.adult("", [_stay(d) for d in self.recent(As)]),
            "adult_stays_one_short": lambda: self.adult(
                "", [_stay(d) for d in self.recent(As - 1)]
            ),
            "child_ed_at_threshold": lambda: self.child(
                "", [_ed(d, False) for d in self.whole_year(C)]
            ),
            "child_ed_one_short": lambda: self.child(
                "", [_ed(d, False) for d in self.whole_year(C - 1)]
            ),
            "child_stays_at_threshold": lambda: self.child(
                "", [_stay(d) for d in self.whole_year(Cs)]
            ),
            "child_stays_one_short": lambda: self.child(
                "", [_stay(d) for d in self.whole_year(Cs - 1)]
            ),
            "adult_ed_spread_seven_months": lambda: self.adult(
                "", [_ed(d) for d in _spread(A, spread_first, spread_last)]
            ),
            "adult_ed_window_not_latest": lambda: self.adult("", [_ed(d) for d in early]),
            "turns_21_on_as_of": lambda: PlantedMember(
                "",
                add_years(self.as_of, -r.adult_min_age),
                [_ed(d, False) for d in self.whole_year(C)],
            ),
            "turns_21_day_after_as_of": lambda: PlantedMember(
                "",
                add_years(self.as_of, -r.adult_min_age) + dt.timedelta(1),
                [_ed(d, False) for d in self.whole_year(C)],
            ),
            "ed_exactly_12_months_before": lambda: self.child(
                "", [_ed(twelve_back, False)] + [_ed(d, False) for d in self.recent(C - 1)]
            ),
            "ed_day_after_12_months_before": lambda: self.child(
                "",
                [_ed(twelve_back + dt.timedelta(1), False)]
                + [_ed(d, False) for d in self.recent(C - 1)],
            ),
            "same_day_facility_professional": lambda: self.adult(
                "",
                [
                    _ed(d, ed_form=ev.FACILITY_AND_PROFESSIONAL, professional_dx_differs=True)
                    for d in self.recent(A - 1)
                ],
            ),
            "ed_then_admission_next_day": lambda: self.adult(
                "",
                [
                    {
                        "kind": ev.ED_ADMIT,
                        "anchor": d,
                        "ed_class": ev.DX_AVOIDABLE,
                        "gap": 1,
                        "los1": 3,
                    }
                    for d in self.recent(As)
                ],
            ),
            "ed_then_admission_same_day": lambda: self.adult(
                "",
                [
                    {
                        "kind": ev.ED_ADMIT,
                        "anchor": d,
                        "ed_class": ev.DX_AVOIDABLE,
                        "gap": 0,
                        "los1": 3,
                    }
                    for d in self.recent(As)
                ],
            ),
            "direct_transfer": lambda: self.adult(
                "",
                [
                    {"kind": ev.TRANSFER, "anchor": d, "gap": i % 2, "los1": 3, "los2": 4}
                    for i, d in enumerate(self.recent(As - 1))
                ],
            ),
            "snf_95_days": lambda: self.adult("", self.stays_then_snf(95)),
            "snf_89_days": lambda: self.adult("", self.stays_then_snf(89)),
            "hospital_then_snf": lambda: self.adult(
                "",
                [_stay(d) for d in _spread(As - 2, self.days_before(170), self.days_before(150))]
                + [
                    {
                        "kind": ev.HOSP_SNF,
                        "anchor": self.days_before(100),
                        "gap": 0,
                        "los1": 4,
                        "los2": 20,
                    }
                ],
            ),
            "elective_chemotherapy": lambda: self.adult(
                "", self.stays_plus(_stay(None, ev.CHEMOTHERAPY))
            ),
            "elective_planned_procedure": lambda: self.adult(
                "", self.stays_plus(_stay(None, ev.ELECTIVE_PLANNED))
            ),
            # A PR3 procedure with a PR4 (acute) principal diagnosis: unplanned.
            "elective_acute_unplanned": lambda: self.adult(
                "", self.stays_plus(_stay(None, ev.ELECTIVE_ACUTE))
            ),
            "rehabilitation_planned": lambda: self.adult(
                "", self.stays_plus(_stay(None, ev.REHABILITATION))
            ),
            "delivery_planned": lambda: PlantedMember(
                "",
                add_years(self.as_of, -28),
                self.stays_plus(_stay(None, ev.DELIVERY)),
                female=True,
            ),
            "voided_event": lambda: self.adult(
                "", [{**e, "voided": i == 0} for i, e in enumerate(self.adult_ed(A))]
            ),
            "replaced_claim": lambda: self.adult(
                "",
                [
                    {**e, "replaced_flip": i == 0, "ed_form": ev.FACILITY_ONLY}
                    for i, e in enumerate(self.adult_ed(A))
                ],
            ),
            "disenrolled": lambda: self.adult(
                "", adult_high, spans=[(self.days_before(900), self.days_before(5), {})]
            ),
            "in_ecm": lambda: self.adult(
                "", adult_high, spans=[(self.days_before(900), None, {"in_ecm": True})]
            ),
            "hospice": lambda: self.adult(
                "", adult_high, spans=[(self.days_before(900), None, {"hospice": True})]
            ),
            "pace": lambda: self.adult(
                "", adult_high, spans=[(self.days_before(900), None, {"pace": True})]
            ),
            "waiver_1915c": lambda: self.adult(
                "", adult_high, spans=[(self.days_before(900), None, {"waiver_1915c": True})]
            ),
            "deceased": lambda: self.adult("", adult_high, death=self.days_before(5)),
            "deceased_in_hospice": lambda: self.adult(
                "",
                adult_high,
                death=self.days_before(5),
                spans=[(self.days_before(900), None, {"hospice": True})],
            ),
            "declined": lambda: self.adult(
                "", adult_high, statuses=[(DECLINED, self.days_before(40))]
            ),
            "unreachable_moderate": lambda: self.adult(
                "", self.adult_ed(A - 1), statuses=[(UNREACHABLE, self.days_before(40))]
            ),
            "declined_low": lambda: self.adult(
                "", [_ed(self.days_before(30), False)], statuses=[(DECLINED, self.days_before(40))]
            ),
            "status_after_as_of": lambda: self.adult(
                "", adult_high, statuses=[(DECLINED, self.as_of + dt.timedelta(5))]
            ),
            "enrollment_gap": lambda: self.adult(
                "", adult_high, spans=[(s, e, {}) for s, e, _ in gap_spans]
            ),
            "in_ecm_earlier_span_only": lambda: self.adult("", adult_high, spans=gap_spans),
            "no_events": lambda: self.adult("", []),
            # Issue 9: one member per rule edge on real codes.
            "nyu_sum_exactly_half": lambda: self.adult(
                "", [_ed(d, ed_class=ev.DX_NYU_HALF) for d in self.recent(A)]
            ),
            "nyu_only_avoidable": lambda: self.adult(
                "", [_ed(d, ed_class=ev.DX_NYU_ONLY) for d in self.recent(A)]
            ),
            "pr3_procedure_emergency_admission": lambda: self.adult(
                "", self.stays_plus(_stay(None, ev.EMERGENCY_PR3))
            ),
            "secondary_procedure_transplant": lambda: self.adult(
                "", self.stays_plus(_stay(None, ev.TRANSPLANT_SECONDARY))
            ),
            "code_absent_from_ccs_map": lambda: self.adult(
                "", self.stays_plus(_stay(None, ev.UNMAPPED_DX))
            ),
            "pos23_reading_not_a_visit": lambda: self.adult(
                "",
                [_ed(d) for d in self.recent(A - 1)]
                + [{"kind": ev.READING, "anchor": d + dt.timedelta(3)} for d in self.recent(A - 1)],
            ),
            "midnight_crossing_visit": lambda: self.adult(
                "", [_ed(d, ed_form=ev.MIDNIGHT) for d in self.recent(A - 1)]
            ),
            "ed_line_inside_stay": lambda: self.adult(
                "", [_stay(d, los=4, ed_inside=True) for d in self.recent(As)]
            ),
        }
        return f


def planted_scenarios(as_of: dt.date, rules: RuleConfig) -> list[PlantedMember]:
    """One member per scenario, labelled."""
    out = []
    for name, make in _Builder(as_of, rules).scenarios().items():
        m = make()
        m.scenario = name
        out.append(m)
    return out


def planted_layout(n_members: int, n_scenarios: int) -> np.ndarray:
    """Global member indices for the planted copies, spread evenly over the index space."""
    if n_members < n_scenarios:
        raise ValueError(f"--members must be at least {n_scenarios} to hold every planted scenario")
    copies = int(np.clip(n_members // (n_scenarios * 4), 1, MAX_COPIES))
    n = copies * n_scenarios
    return ((np.arange(n) + 0.5) * n_members / n).astype(np.int64)


def planted_episodes(members: list[PlantedMember], index: np.ndarray) -> ev.Episodes:
    rows = [(i, e) for m, i in zip(members, index, strict=True) for e in m.episodes]
    ep = ev.Episodes.empty(len(rows))
    ep.ed_form[:] = ev.FACILITY_AND_PROFESSIONAL
    ep.los1[:] = 3
    for j, (i, e) in enumerate(rows):
        ep.member[j] = i
        for key, value in e.items():
            getattr(ep, key)[j] = to_days(value) if key == "anchor" else value
    return ep

"""Typed rule configuration, read once from config/rules.toml."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from pipelines.paths import RULES_FILE


@dataclass(frozen=True)
class Windows:
    lookback_months: int
    recent_months: int
    period_months: int


ED_MEASURES = ("dhcs", "nyu", "all")
NYU_METHODS = ("threshold", "fractional")


@dataclass(frozen=True)
class AdultRule:
    ed_visits: int
    unplanned_stays: int
    ed_measure: Literal["dhcs", "nyu", "all"]
    nyu_method: Literal["threshold", "fractional"] = "threshold"
    nyu_threshold: float = 0.5

    @property
    def avoidable_method(self) -> str:
        """How a visit's avoidable weight is decided: dhcs, nyu_threshold or nyu_fractional
        (with ed_measure `all` the avoidable counts stay on the DHCS list)."""
        return f"nyu_{self.nyu_method}" if self.ed_measure == "nyu" else "dhcs"


@dataclass(frozen=True)
class ChildRule:
    ed_visits: int
    unplanned_stays: int


@dataclass(frozen=True)
class Stays:
    short_term_snf_days: int
    transfer_gap_days: int
    ed_fold_days: int


@dataclass(frozen=True)
class RuleConfig:
    version: str
    windows: Windows
    adult_min_age: int
    adult: AdultRule
    child: ChildRule
    stays: Stays
    moderate_margin: int

    def sql_params(self) -> dict[str, object]:
        """Flat parameters the SQL models read as `getvariable('name')`."""
        return {
            "lookback_months": self.windows.lookback_months,
            "recent_months": self.windows.recent_months,
            "period_months": self.windows.period_months,
            "adult_min_age": self.adult_min_age,
            "adult_ed_visits": self.adult.ed_visits,
            "adult_unplanned_stays": self.adult.unplanned_stays,
            "adult_ed_measure": self.adult.ed_measure,
            "avoidable_method": self.adult.avoidable_method,
            "nyu_threshold": self.adult.nyu_threshold,
            "child_ed_visits": self.child.ed_visits,
            "child_unplanned_stays": self.child.unplanned_stays,
            "short_term_snf_days": self.stays.short_term_snf_days,
            "transfer_gap_days": self.stays.transfer_gap_days,
            "ed_fold_days": self.stays.ed_fold_days,
            "moderate_margin": self.moderate_margin,
        }


def parse_rules(raw: dict) -> RuleConfig:
    adult = AdultRule(**raw["adult"])
    if adult.ed_measure == "avoidable":
        raise ValueError(
            "adult.ed_measure = 'avoidable' (rules before 2026.12.1, a curated list) is gone:"
            " use 'dhcs' (the DHCS Statewide Avoidable ED Diagnoses list, the same intent),"
            " 'nyu' (with nyu_method) or 'all'"
        )
    if adult.ed_measure not in ED_MEASURES:
        raise ValueError(
            f"adult.ed_measure must be one of {', '.join(ED_MEASURES)}, got {adult.ed_measure!r}"
        )
    if adult.nyu_method not in NYU_METHODS:
        raise ValueError(
            f"adult.nyu_method must be one of {', '.join(NYU_METHODS)}, got {adult.nyu_method!r}"
        )
    if not 0 <= adult.nyu_threshold < 1:
        raise ValueError(f"adult.nyu_threshold must be in [0, 1), got {adult.nyu_threshold}")
    return RuleConfig(
        version=raw["version"],
        windows=Windows(**raw["windows"]),
        adult_min_age=raw["age"]["adult_min_age"],
        adult=adult,
        child=ChildRule(**raw["child"]),
        stays=Stays(**raw["stays"]),
        moderate_margin=raw["tiers"]["moderate_margin"],
    )


@cache
def load_rules(path: Path = RULES_FILE) -> RuleConfig:
    with open(path, "rb") as f:
        return parse_rules(tomllib.load(f))


@dataclass(frozen=True)
class GateConfig:
    """Thresholds of the gates that block a night's publication ([gates] in rules.toml)."""

    required_kinds: tuple[str, ...]
    max_quarantined_percent: float
    max_tier_change_percent: float
    min_tier_change_members: int
    max_unknown_member_percent: float


def parse_gates(raw: dict) -> GateConfig:
    gates = raw["gates"]
    config = GateConfig(
        required_kinds=tuple(gates["required_kinds"]),
        max_quarantined_percent=float(gates["max_quarantined_percent"]),
        max_tier_change_percent=float(gates["max_tier_change_percent"]),
        min_tier_change_members=int(gates["min_tier_change_members"]),
        max_unknown_member_percent=float(gates["max_unknown_member_percent"]),
    )
    from pipelines.contract import FILE_KINDS

    unknown = set(config.required_kinds) - set(FILE_KINDS)
    if unknown:
        raise ValueError(f"gates.required_kinds: unknown kinds {sorted(unknown)}")
    for name in (
        "max_quarantined_percent",
        "max_tier_change_percent",
        "max_unknown_member_percent",
    ):
        if getattr(config, name) < 0:
            raise ValueError(f"gates.{name} must not be negative, got {getattr(config, name)}")
    return config


@cache
def load_gates(path: Path = RULES_FILE) -> GateConfig:
    with open(path, "rb") as f:
        return parse_gates(tomllib.load(f))

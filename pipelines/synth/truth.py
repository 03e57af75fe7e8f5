"""The truth: every member's measures and tier, computed from the planted episodes.

An independent Polars implementation of docs/method.md sections 2 and 4-7. It never reads the
claim lines: it knows each episode's events (ED visit or not, stay setting, planned, length)
because the generator decided them, and the renderer only writes them down. How avoidable an
ED visit is, it decides itself from the visit's diagnosis code and the published lists
(pipelines.synth.value_sets), under whichever method the rules set. Weights are integers in
thousandths, so fractional sums are exact; counts are published as DECIMAL(18,3).
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from pipelines.config import RuleConfig
from pipelines.measures import COUNT_COLUMNS, OUTCOME_COLUMNS, WINDOW_COLUMNS
from pipelines.synth import events as ev
from pipelines.synth import value_sets as vs
from pipelines.synth.eligibility import STATUS_NAMES

HOSPITAL_KINDS = (ev.STAY, ev.ED_ADMIT, ev.TRANSFER, ev.HOSP_SNF)
SNF_KINDS = (ev.HOSP_SNF, ev.SNF, ev.LONG_SNF)
EXCLUSION_ORDER = ("deceased", "not_enrolled", "hospice", "pace", "waiver_1915c", "in_ecm")


def _day(col: str) -> pl.Expr:
    return pl.col(col).cast(pl.Int32).cast(pl.Date)


MILLI = 1000  # weights in thousandths
NYU_TO_MILLI = vs.NYU_SCALE // MILLI


def avoidable_weights(dx: pl.Expr, rules: RuleConfig) -> tuple[pl.Expr, pl.Expr]:
    """(avoidable weight, adult ED weight) of a visit with diagnosis `dx`, in thousandths.

    dhcs: 1 on the DHCS list. nyu threshold: 1 when noner + epct + edcnpa is above the
    threshold; fractional: that figure rounded half up to thousandths. Codes flagged injury,
    psych, alcohol or drug, and codes not in the table, weigh 0 under NYU. `all`: the adult
    weight is 1 for every visit; the avoidable weight stays the DHCS list's.
    """
    adult = rules.adult
    if adult.avoidable_method == "dhcs":
        avoidable = pl.when(dx.is_in(list(vs.dhcs_avoidable()))).then(MILLI).otherwise(0)
    else:
        nyu = vs.nyu_classification().filter(pl.col("nyu_figure").is_not_null())
        figure = dx.replace_strict(
            nyu["code"], nyu["nyu_figure"], default=None, return_dtype=pl.Int64
        )
        if adult.nyu_method == "threshold":
            cut = round(adult.nyu_threshold * vs.NYU_SCALE)
            avoidable = pl.when(figure > cut).then(MILLI).otherwise(0)
        else:
            avoidable = ((figure + NYU_TO_MILLI // 2) // NYU_TO_MILLI).fill_null(0)
    avoidable = avoidable.cast(pl.Int64)
    adult_ed = pl.lit(MILLI, pl.Int64) if adult.ed_measure == "all" else avoidable
    return avoidable, adult_ed


def events_of(episodes: pl.DataFrame, rules: RuleConfig) -> pl.DataFrame:
    """One row per counted-or-not event: member, date, is_ed, avoidable and adult ED weights
    (thousandths), hospital, snf flags."""
    ep = episodes.filter(~pl.col("voided"))
    unplanned = pl.col("plan") < ev.FIRST_PLANNED
    avoidable, adult_ed = avoidable_weights(pl.col("dx"), rules)
    no_weight = pl.lit(0, pl.Int64)
    ed = ep.filter(pl.col("kind") == ev.ED).select(
        "member",
        date=_day("anchor"),
        is_ed=pl.lit(True),
        avoidable=avoidable,
        adult_ed=adult_ed,
        hospital=pl.lit(False),
        snf=pl.lit(False),
    )
    hosp = ep.filter(pl.col("kind").is_in(HOSPITAL_KINDS)).select(
        "member",
        date=_day("anchor")
        + pl.duration(days=pl.when(pl.col("kind") == ev.ED_ADMIT).then(pl.col("gap")).otherwise(0)),
        is_ed=pl.lit(False),
        avoidable=no_weight,
        adult_ed=no_weight,
        hospital=unplanned,
        snf=pl.lit(False),
    )
    to_snf = pl.col("kind") == ev.HOSP_SNF
    snf = ep.filter(pl.col("kind").is_in(SNF_KINDS)).select(
        "member",
        date=_day("anchor")
        + pl.duration(
            days=pl.when(to_snf).then(pl.col("los1").cast(pl.Int32) + pl.col("gap")).otherwise(0)
        ),
        is_ed=pl.lit(False),
        avoidable=no_weight,
        adult_ed=no_weight,
        hospital=pl.lit(False),
        snf=unplanned
        & (
            pl.when(to_snf).then(pl.col("los2")).otherwise(pl.col("los1"))
            < rules.stays.short_term_snf_days
        ),
    )
    return pl.concat([ed, hosp, snf])


def best_windows(
    events: pl.DataFrame, lookback_first: dt.date, period: str, prefix: str
) -> pl.DataFrame:
    """Best six-month window per member (method.md section 2): the most weight (column
    `weight`, events of weight 0 already dropped), ties to the latest end."""
    first_end = pl.select(pl.lit(lookback_first).dt.offset_by(period)).item() - dt.timedelta(1)
    at_events = events.select(
        "member",
        end=pl.col("date"),
        start=pl.col("date").dt.offset_by(f"-{period}") + pl.duration(days=1),
    ).filter(pl.col("start") >= lookback_first)
    earliest = (
        events.select("member")
        .unique()
        .with_columns(end=pl.lit(first_end), start=pl.lit(lookback_first))
    )
    cands = pl.concat([at_events, earliest.select(at_events.columns)]).unique()
    counted = (
        cands.join(events, on="member")
        .filter(pl.col("date").is_between(pl.col("start"), pl.col("end")))
        .group_by("member", "start", "end")
        .agg(n=pl.col("weight").sum().cast(pl.Int64))
        .sort(["member", "n", "end", "start"], descending=[False, True, True, True])
        .unique("member", keep="first")
    )
    return counted.select(
        "member",
        pl.col("n").alias(f"best_window_{prefix}"),
        pl.col("start").alias(f"best_window_{prefix}_start"),
        pl.col("end").alias(f"best_window_{prefix}_end"),
    )


def member_status(
    members: pl.DataFrame, spans: pl.DataFrame, statuses: pl.DataFrame, as_of: dt.date
) -> pl.DataFrame:
    """Age, enrollment, program flags and care-management status on the as-of date (section 4)."""
    md = as_of.month * 100 + as_of.day
    birth = pl.col("birth")
    age = (
        pl.lit(as_of.year)
        - birth.dt.year()
        - (pl.lit(md) < birth.dt.month().cast(pl.Int32) * 100 + birth.dt.day()).cast(pl.Int32)
    )
    covers = (pl.col("start") <= as_of) & (pl.col("end").is_null() | (pl.col("end") >= as_of))
    span = (
        spans.with_columns(covers=covers)
        .sort(["member", "covers", "start"], descending=[False, True, True])
        .group_by("member", maintain_order=True)
        .agg(
            pl.col("covers").any().alias("enrolled"),
            pl.col("in_ecm", "hospice", "pace", "waiver_1915c").first(),
        )
    )
    status = (
        statuses.filter(pl.col("date") <= as_of)
        .sort(["member", "date"])
        .group_by("member")
        .agg(pl.col("status").last())
    )
    return (
        members.with_columns(age=age.cast(pl.Int32))
        .join(span, on="member", how="left")
        .join(status, on="member", how="left")
        .with_columns(
            deceased=pl.col("death").is_not_null() & (pl.col("death") <= as_of),
            not_enrolled=~pl.col("enrolled").fill_null(False),
        )
    )


def compute_truth(
    episodes: pl.DataFrame,
    members: pl.DataFrame,
    spans: pl.DataFrame,
    statuses: pl.DataFrame,
    as_of: dt.date,
    rules: RuleConfig,
) -> pl.DataFrame:
    """members: member, member_id, scenario, birth, death. Returns one row per member."""
    w = rules.windows
    lookback_excl = pl.select(pl.lit(as_of).dt.offset_by(f"-{w.lookback_months}mo")).item()
    recent_excl = pl.select(pl.lit(as_of).dt.offset_by(f"-{w.recent_months}mo")).item()
    lookback_first = lookback_excl + dt.timedelta(1)
    ev_all = events_of(episodes, rules).filter(
        (pl.col("date") > lookback_excl) & (pl.col("date") <= as_of)
    )
    in6 = pl.col("date") > recent_excl

    def n(cond: pl.Expr) -> pl.Expr:
        return cond.cast(pl.Int64).sum()

    counts = ev_all.group_by("member").agg(
        ed_visits_6m=n(pl.col("is_ed") & in6),
        ed_visits_12m=n(pl.col("is_ed")),
        avoidable_ed_visits_6m=pl.col("avoidable").filter(in6).sum(),
        avoidable_ed_visits_12m=pl.col("avoidable").sum(),
        unplanned_hospital_stays_6m=n(pl.col("hospital") & in6),
        unplanned_hospital_stays_12m=n(pl.col("hospital")),
        unplanned_snf_stays_6m=n(pl.col("snf") & in6),
        unplanned_snf_stays_12m=n(pl.col("snf")),
    )
    period = f"{w.period_months}mo"
    bw_ed = best_windows(
        ev_all.filter(pl.col("adult_ed") > 0).with_columns(weight=pl.col("adult_ed")),
        lookback_first,
        period,
        "ed",
    )
    bw_stays = best_windows(
        ev_all.filter(pl.col("hospital") | pl.col("snf")).with_columns(weight=pl.lit(1)),
        lookback_first,
        period,
        "stays",
    )
    bw_ed = bw_ed.rename({"best_window_ed": "best_window_ed_visits"})

    m = member_status(members, spans, statuses, as_of)
    df = (
        m.join(counts, on="member", how="left")
        .join(bw_ed, on="member", how="left")
        .join(bw_stays, on="member", how="left")
        .with_columns(pl.col(c).fill_null(0) for c in COUNT_COLUMNS)
    )
    a, ch, margin = rules.adult, rules.child, rules.moderate_margin
    adult = pl.col("age") >= rules.adult_min_age
    ed12 = pl.col("ed_visits_12m")
    stays12 = pl.col("unplanned_hospital_stays_12m") + pl.col("unplanned_snf_stays_12m")
    # The adult ED measure in thousandths (exact) for comparisons, as a float for the score.
    bwe_milli, bws = pl.col("best_window_ed_visits"), pl.col("best_window_stays")
    bwe = bwe_milli / MILLI

    def near(threshold: int) -> int:
        """Moderate: within the margin of the threshold, and at least 1 (method.md §9)."""
        return max(threshold - margin, 1)

    crit = {
        "adult_ed": adult & (bwe_milli >= a.ed_visits * MILLI),
        "adult_stays": adult & (bws >= a.unplanned_stays),
        "child_ed": ~adult & (ed12 >= ch.ed_visits),
        "child_stays": ~adult & (stays12 >= ch.unplanned_stays),
    }
    moderate = (
        pl.when(adult)
        .then((bwe_milli >= near(a.ed_visits) * MILLI) | (bws >= near(a.unplanned_stays)))
        .otherwise((ed12 >= near(ch.ed_visits)) | (stays12 >= near(ch.unplanned_stays)))
    )
    df = df.with_columns(
        age_group=pl.when(adult).then(pl.lit("adult")).otherwise(pl.lit("child")),
        criteria_met=pl.concat_str(
            [pl.when(c).then(pl.lit(name)) for name, c in crit.items()],
            separator=";",
            ignore_nulls=True,
        ).replace("", None),
        score=pl.when(adult)
        .then(bwe / a.ed_visits + bws / a.unplanned_stays)
        .otherwise(ed12 / ch.ed_visits + stays12 / ch.unplanned_stays)
        .round(3),
    )
    base = (
        pl.when(pl.col("criteria_met").is_not_null())
        .then(pl.lit("High"))
        .when(moderate)
        .then(pl.lit("Moderate"))
        .when((ed12 > 0) | (stays12 > 0))
        .then(pl.lit("Low"))
    )
    flags = {
        "deceased": pl.col("deceased"),
        "not_enrolled": pl.col("not_enrolled"),
        "hospice": pl.col("hospice").fill_null(False),
        "pace": pl.col("pace").fill_null(False),
        "waiver_1915c": pl.col("waiver_1915c").fill_null(False),
        "in_ecm": pl.col("in_ecm").fill_null(False),
    }
    df = df.with_columns(base=base).with_columns(
        would_be_tier=pl.when(
            pl.col("base").is_in(["High", "Moderate"]) & pl.col("status").is_not_null()
        )
        .then(pl.lit("Monitoring"))
        .otherwise(pl.col("base")),
        exclusion_reasons=pl.concat_str(
            [pl.when(flags[r]).then(pl.lit(r)) for r in EXCLUSION_ORDER],
            separator=";",
            ignore_nulls=True,
        ).replace("", None),
    )
    has_tier = pl.col("would_be_tier").is_not_null()
    df = df.with_columns(
        exclusion_reasons=pl.when(has_tier).then(pl.col("exclusion_reasons")),
        exclusion_reason=pl.when(has_tier).then(
            pl.col("exclusion_reasons").str.split(";").list.first()
        ),
    ).with_columns(
        tier=pl.when(pl.col("exclusion_reason").is_null()).then(pl.col("would_be_tier")),
        care_management_status=pl.col("status")
        .cast(pl.Int64)
        .replace_strict(list(range(len(STATUS_NAMES))), list(STATUS_NAMES), default=None),
    )
    milli_decimal = pl.Decimal(18, 3)
    df = df.with_columns(
        (pl.col(c).cast(milli_decimal) / MILLI).cast(milli_decimal)
        for c in ("avoidable_ed_visits_6m", "avoidable_ed_visits_12m", "best_window_ed_visits")
    )
    return df.sort("member").select(
        "member_id",
        "scenario",
        *COUNT_COLUMNS,
        *WINDOW_COLUMNS,
        *OUTCOME_COLUMNS,
        "score",
        "age",
        "exclusion_reasons",
        "care_management_status",
    )

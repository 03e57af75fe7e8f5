"""Orchestrate one extract: members in chunks, episodes, claims, eligibility, truth, files.

Members are processed in fixed-size chunks, each with its own random stream derived from
(seed, chunk), so memory stays bounded and the bytes depend only on the arguments.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.config import RuleConfig, load_rules
from pipelines.synth import events as ev
from pipelines.synth.calendar import add_months, date_series, to_date, to_days
from pipelines.synth.claims import Renderer, build_lines, routine_days
from pipelines.synth.codes import Codes, load_codes
from pipelines.synth.eligibility import (
    OPEN,
    STATUS_NAMES,
    Members,
    Spans,
    Statuses,
    member_ids,
    npi_pool,
    sample_members,
    sample_spans,
    sample_statuses,
)
from pipelines.synth.planted import (
    PlantedMember,
    planted_episodes,
    planted_layout,
    planted_scenarios,
)
from pipelines.synth.truth import compute_truth

log = logging.getLogger(__name__)

CHUNK_MEMBERS = 100_000
CLAIM_ID_STRIDE = 10**10  # claim numbers per chunk
FERTILE_AGES = (15, 45)
SPAN_FLAGS = ("in_ecm", "hospice", "pace", "waiver_1915c")
DEFAULT_SPAN_LEAD_DAYS = 400  # planted members are enrolled from this long before the claims


@dataclass(frozen=True)
class Settings:
    members: int
    months: int
    as_of: dt.date
    seed: int
    out: Path
    fmt: str = "parquet"


@dataclass
class Plant:
    """The planted members and their global indices."""

    members: list[PlantedMember]
    index: np.ndarray


def layout_plants(s: Settings, rules: RuleConfig) -> Plant:
    scenarios = planted_scenarios(s.as_of, rules)
    index = planted_layout(s.members, len(scenarios))
    copies = len(index) // len(scenarios)
    members = [scenarios[i % len(scenarios)] for i in range(copies * len(scenarios))]
    return Plant(members, index)


def _apply_plants(
    m: Members, spans: Spans, statuses: Statuses, plant: Plant, lo: int, female: int, first_day: int
) -> tuple[Spans, Statuses, np.ndarray]:
    """Override planted members' attributes; returns spans, statuses, planted mask over m."""
    here = [
        (p, i)
        for p, i in zip(plant.members, plant.index, strict=True)
        if lo <= i < lo + len(m.member)
    ]
    mask = np.zeros(len(m.member), bool)
    new_spans: list[Spans] = []
    new_status: list[Statuses] = []
    for p, i in here:
        k = i - lo
        mask[k] = True
        m.birth[k] = to_days(p.birth)
        m.death[k] = to_days(p.death) if p.death else OPEN
        if p.female:
            m.sex[k] = female
        default = [(to_date(first_day - DEFAULT_SPAN_LEAD_DAYS), None, {})]
        for start, end, flags in p.spans if p.spans is not None else default:
            start_day = max(to_days(start), int(m.birth[k]))
            new_spans.append(
                Spans(
                    member=np.array([i], np.int64),
                    start=np.array([start_day], np.int32),
                    end=np.array([to_days(end) if end else OPEN], np.int32),
                    **{f: np.array([flags.get(f, False)]) for f in SPAN_FLAGS},
                )
            )
        for status, date in p.statuses:
            new_status.append(
                Statuses(
                    np.array([i], np.int64),
                    np.array([status], np.int8),
                    np.array([to_days(date)], np.int32),
                )
            )
    planted_ids = m.member[mask]
    spans = Spans.concat([spans.take(~np.isin(spans.member, planted_ids)), *new_spans])
    statuses = Statuses.concat([statuses.take(~np.isin(statuses.member, planted_ids)), *new_status])
    return spans, statuses, mask


def covered(member, start, end, m: Members, spans: Spans) -> np.ndarray:
    """Rows whose [start, end] lies in one enrollment span, after birth and before death."""
    rows = pl.DataFrame({"member": member, "start": start, "end": end}).with_row_index("row")
    sp = pl.DataFrame({"member": spans.member, "s": spans.start, "e": spans.end})
    life = pl.DataFrame({"member": m.member, "birth": m.birth, "death": m.death})
    ok = (
        rows.join(sp, on="member")
        .filter((pl.col("s") <= pl.col("start")) & (pl.col("end") <= pl.col("e")))
        .join(life, on="member")
        .filter((pl.col("birth") <= pl.col("start")) & (pl.col("end") <= pl.col("death")))
        .get_column("row")
        .unique()
        .to_numpy()
    )
    mask = np.zeros(len(member), bool)
    mask[ok] = True
    return mask


@dataclass
class ChunkResult:
    lines: pl.DataFrame
    members: Members
    spans: Spans
    statuses: Statuses
    episodes: ev.Episodes
    ids: pl.Series


def generate_chunk(s: Settings, chunk: int, plant: Plant, rules: RuleConfig) -> ChunkResult:
    codes = load_codes()
    rng = np.random.default_rng([s.seed, chunk])
    as_of = to_days(s.as_of)
    first_day = to_days(add_months(s.as_of, -s.months)) + 1
    lo = chunk * CHUNK_MEMBERS
    member = np.arange(lo, min(lo + CHUNK_MEMBERS, s.members), dtype=np.int64)
    m = sample_members(rng, member, codes, as_of)
    spans = sample_spans(rng, m, first_day, as_of)
    statuses = sample_statuses(rng, member, first_day, as_of)
    female = codes.vocab.index("F")
    spans, statuses, planted = _apply_plants(m, spans, statuses, plant, lo, female, first_day)

    age = (as_of - m.birth) / 365.25
    can_deliver = (m.sex == female) & (age >= FERTILE_AGES[0]) & (age <= FERTILE_AGES[1])
    bg = ~planted
    background = ev.sample_background(
        rng, member[bg], m.propensity[bg], age[bg], can_deliver[bg], first_day, as_of
    )
    in_chunk = (plant.index >= lo) & (plant.index < lo + len(member))
    chunk_plants = [p for p, keep in zip(plant.members, in_chunk, strict=True) if keep]
    episodes = ev.Episodes.concat(
        [background, planted_episodes(chunk_plants, plant.index[in_chunk])]
    )
    keep = covered(
        episodes.member, episodes.anchor, episodes.anchor + ev.footprint(episodes), m, spans
    )
    episodes = episodes.take(keep)
    ev.draw_diagnoses(rng, episodes, codes.pools)

    renderer = Renderer(codes, rng)
    renderer.episodes(episodes)
    r_member, r_day = routine_days(rng, member, m.propensity, first_day, as_of)
    ok = covered(r_member, r_day, r_day, m, spans)
    renderer.routine(r_member[ok], r_day[ok])
    ids = pl.Series(member_ids(member, s.seed))
    claims = renderer.claims.concat()
    base = chunk * CLAIM_ID_STRIDE
    lines = build_lines(claims, codes, rng, as_of, base, ids, lo, npi_pool(s.seed))
    return ChunkResult(lines, m, spans, statuses, episodes, ids)


def _eligibility(r: ChunkResult, codes: Codes, npis: list[str]) -> pl.DataFrame:
    sp, m = r.spans, r.members
    pos = sp.member - m.member[0]
    npi = pl.Series(npis, dtype=pl.String)
    return pl.DataFrame(
        {
            "member_id": r.ids.gather(pos),
            "enrollment_start_date": date_series("s", sp.start),
            "enrollment_end_date": date_series("e", sp.end, sp.end == OPEN),
            "birth_date": date_series("b", m.birth[pos]),
            "sex": codes.strings(m.sex[pos]),
            "county": codes.strings(m.county[pos]),
            "plan_code": codes.strings(m.plan_code[pos]),
            "aid_code": codes.strings(m.aid_code[pos]),
            "pcp_npi": npi.gather(m.pcp[pos]),
            "death_date": date_series("d", m.death[pos], m.death[pos] == OPEN),
            **{f: getattr(sp, f) for f in SPAN_FLAGS},
        }
    ).sort("member_id", "enrollment_start_date")


def _statuses(r: ChunkResult) -> pl.DataFrame:
    st = r.statuses
    return pl.DataFrame(
        {
            "member_id": r.ids.gather(st.member - r.members.member[0]),
            "status": pl.Series(STATUS_NAMES).gather(st.status),
            "status_date": date_series("d", st.date),
        }
    ).sort("member_id", "status_date")


def _truth_inputs(r: ChunkResult, plant: Plant, codes: Codes) -> dict[str, pl.DataFrame]:
    m, ep, sp, st = r.members, r.episodes, r.spans, r.statuses
    label = {int(i): p.scenario for p, i in zip(plant.members, plant.index, strict=True)}
    scenario = pl.Series([label.get(int(i), "background") for i in m.member]) if label else None
    members = pl.DataFrame(
        {
            "member": m.member,
            "member_id": r.ids,
            "scenario": scenario if scenario is not None else ["background"] * len(m.member),
            "birth": date_series("b", m.birth),
            "death": date_series("d", m.death, m.death == OPEN),
        }
    )
    episodes = pl.DataFrame(
        {
            k: getattr(ep, k)
            for k in ("member", "kind", "anchor", "plan", "gap", "los1", "los2", "voided")
        }
    ).with_columns(dx=codes.strings(ep.dx))
    spans = pl.DataFrame(
        {
            "member": sp.member,
            "start": date_series("s", sp.start),
            "end": date_series("e", sp.end, sp.end == OPEN),
            **{f: getattr(sp, f) for f in SPAN_FLAGS},
        }
    )
    statuses = pl.DataFrame(
        {"member": st.member, "status": st.status, "date": date_series("d", st.date)}
    )
    return {"members": members, "episodes": episodes, "spans": spans, "statuses": statuses}


def _write(df: pl.DataFrame, path: Path, fmt: str) -> None:
    if fmt == "csv":
        df.write_csv(path)
    else:
        df.write_parquet(path, statistics=True)


def _run_chunk(
    s: Settings, chunk: int, plant: Plant, rules: RuleConfig
) -> tuple[int, pl.DataFrame, pl.DataFrame, dict[str, pl.DataFrame]]:
    """Generate and write one chunk's claims; return what the whole-extract files need."""
    r = generate_chunk(s, chunk, plant, rules)
    n_chunks = -(-s.members // CHUNK_MEMBERS)
    _write(r.lines, s.out / f"medical_claims_part{chunk + 1:04d}.{s.fmt}", s.fmt)
    log.info("chunk %d/%d: %d claim lines", chunk + 1, n_chunks, r.lines.height)
    return (
        r.lines.height,
        _eligibility(r, load_codes(), npi_pool(s.seed)),
        _statuses(r),
        _truth_inputs(r, plant, load_codes()),
    )


def truth_inputs(s: Settings) -> dict[str, pl.DataFrame]:
    """What compute_truth reads, regenerated without writing files (the same bytes as
    `generate` draws): the truth under other rule sets is compute_truth on these."""
    rules = load_rules()
    plant = layout_plants(s, rules)
    parts = [
        _truth_inputs(generate_chunk(s, chunk, plant, rules), plant, load_codes())
        for chunk in range(-(-s.members // CHUNK_MEMBERS))
    ]
    return {k: pl.concat([p[k] for p in parts]) for k in parts[0]}


def generate(s: Settings) -> dict[str, int]:
    """Write the extract and truth.parquet into s.out; returns row counts.

    Chunks run one after another: Polars already uses every core inside a chunk, and a
    process per chunk measured slower on the 2-core target machine.
    """
    if s.fmt not in ("csv", "parquet"):
        raise ValueError(f"format must be csv or parquet, got {s.fmt!r}")
    rules = load_rules()
    if s.months < rules.windows.lookback_months:
        raise ValueError(f"--months must be at least {rules.windows.lookback_months}")
    s.out.mkdir(parents=True, exist_ok=True)
    plant = layout_plants(s, rules)
    n_chunks = -(-s.members // CHUNK_MEMBERS)
    results = [_run_chunk(s, chunk, plant, rules) for chunk in range(n_chunks)]
    n_lines = sum(r[0] for r in results)
    elig = pl.concat([r[1] for r in results])
    _write(elig, s.out / f"eligibility.{s.fmt}", s.fmt)
    _write(pl.concat([r[2] for r in results]), s.out / f"care_management_status.{s.fmt}", s.fmt)
    t = {k: pl.concat([r[3][k] for r in results]) for k in results[0][3]}
    del results
    truth = compute_truth(t["episodes"], t["members"], t["spans"], t["statuses"], s.as_of, rules)
    truth.write_parquet(s.out / "truth.parquet", statistics=True)
    return {"members": s.members, "claim_lines": n_lines, "eligibility_rows": elig.height}

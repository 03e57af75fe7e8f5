"""Invariants of the rules: the marts depend on the claims, not on how they were delivered.

* Reordering the raw rows changes no mart.
* Adding a claim together with its void equals never having the claim.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.config import load_rules
from pipelines.rules.models import build_models
from tests.builders import (
    ACUTE_DX,
    AS_OF,
    AVOIDABLE_DX,
    CHEMO_DX,
    CHILD_BIRTH,
    KNEE_REPLACEMENT,
    NOT_AVOIDABLE_DX,
    RawBuilder,
    build,
    query,
    write_raw,
)

MARTS = (
    "marts.fct_member_measures",
    "marts.fct_candidates",
    "marts.fct_evidence",
    "marts.fct_exclusions",
)
MEMBERS = ("m1", "m2", "m3")

event = st.fixed_dictionaries(
    {
        "member": st.sampled_from(MEMBERS),
        "kind": st.sampled_from(["ed", "ed_professional", "hospital", "snf"]),
        "days_before": st.integers(min_value=-5, max_value=400),
        "length": st.integers(min_value=0, max_value=100),
        "dx": st.sampled_from([AVOIDABLE_DX, NOT_AVOIDABLE_DX, ACUTE_DX, CHEMO_DX]),
        "status": st.sampled_from(["01", "02", "30"]),
        "elective_knee": st.booleans(),
        "version": st.sampled_from(["original", "replaced", "voided", "replaced_same_day"]),
    }
)


def _add(b: RawBuilder, e: dict) -> str:
    day = AS_OF - timedelta(days=e["days_before"])
    if e["kind"].startswith("ed"):
        kind = "professional" if e["kind"] == "ed_professional" else "institutional"
        return b.ed_visit(e["member"], day, dx=e["dx"], kind=kind)
    return b.stay(
        e["member"],
        day,
        day + timedelta(days=e["length"]),
        setting=e["kind"],
        dx=e["dx"],
        procedure=KNEE_REPLACEMENT if e["elective_knee"] else None,
        admission_type="3" if e["elective_knee"] else "1",
        status=e["status"],
    )


def scenario(events: list[dict]) -> RawBuilder:
    b = RawBuilder()
    b.member("m1")
    b.member("m2", CHILD_BIRTH)
    b.member("m3", end=AS_OF - timedelta(days=10), in_ecm=True)
    b.status("m2", "declined", date(2026, 1, 1))
    for e in events:
        claim_id = _add(b, e)
        original_paid = b.claims[claim_id][0]["paid_date"]
        if e["version"] == "replaced":
            b.replace(claim_id, principal_diagnosis_code=NOT_AVOIDABLE_DX)
        elif e["version"] == "replaced_same_day":
            # Same paid date: the replacement still wins (void > replacement > original).
            b.replace(claim_id, paid_date=original_paid, principal_diagnosis_code=AVOIDABLE_DX)
        elif e["version"] == "voided":
            b.void(claim_id)
    return b


def marts(frames: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    con = build_from(frames)
    try:
        out = {}
        for table in MARTS:
            frame = query(con, f"select * from {table}")
            out[table] = frame.sort(frame.columns, nulls_last=True)
        return out
    finally:
        con.close()


def build_from(frames: dict[str, pl.DataFrame]):
    import duckdb

    con = duckdb.connect()
    write_raw(con, frames)
    build_models(con, AS_OF, load_rules())
    return con


def shuffled(frames: dict[str, pl.DataFrame], seed: int) -> dict[str, pl.DataFrame]:
    rng = random.Random(seed)
    out = {}
    for kind, frame in frames.items():
        order = list(range(frame.height))
        rng.shuffle(order)
        out[kind] = frame[order] if order else frame
    return out


def assert_same(left: dict[str, pl.DataFrame], right: dict[str, pl.DataFrame]) -> None:
    for table in MARTS:
        assert left[table].equals(right[table]), table


PROPERTY_SETTINGS = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@PROPERTY_SETTINGS
@given(events=st.lists(event, min_size=1, max_size=12), seed=st.integers(0, 2**32 - 1))
def test_row_order_changes_nothing(events: list[dict], seed: int) -> None:
    frames = scenario(events).frames()
    assert_same(marts(frames), marts(shuffled(frames, seed)))


@PROPERTY_SETTINGS
@given(events=st.lists(event, min_size=0, max_size=10), extra=event)
def test_a_claim_and_its_void_change_nothing(events: list[dict], extra: dict) -> None:
    base = scenario(events)
    before = marts(base.frames())
    base.void(_add(base, {**extra, "version": "original"}))
    assert_same(before, marts(base.frames()))


def test_build_is_repeatable(tmp_path) -> None:
    """Building twice on one warehouse (the nightly rerun) gives the same marts."""
    b = scenario([])
    b.ed_visit("m1", date(2026, 3, 1))
    con = build(b, tmp_path / "w.duckdb")
    first = {t: query(con, f"select * from {t}") for t in MARTS}
    build_models(con, AS_OF, load_rules())
    for table in MARTS:
        assert query(con, f"select * from {table}").equals(first[table]), table

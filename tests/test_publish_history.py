"""history.first_listed and history.published_tiers, the summaries the nightly publication
reads instead of every earlier list, stay equal to what history.published_candidates says:
night after night, for a rerun that changes a night's list, for a night published after a
later one (a backfill), and for a warehouse whose lists were published before they existed."""

from __future__ import annotations

from datetime import date

import duckdb

from pipelines.publish import PUBLISH_SQL, fill_history_summaries, record_history
from pipelines.warehouse import run_sql_file

JUNE, JULY, AUGUST = date(2026, 6, 30), date(2026, 7, 31), date(2026, 8, 31)


def _publish(con: duckdb.DuckDBPyConnection, as_of: date, members: dict[str, str]) -> None:
    """Tonight's list is `members` (member -> tier); then the night is recorded."""
    con.execute(
        "create or replace table publish.pub_candidates "
        "(member_id varchar, tier varchar, criteria_met varchar)"
    )
    for member, tier in members.items():
        con.execute("insert into publish.pub_candidates values (?, ?, null)", [member, tier])
    record_history(con, as_of, f"run-{as_of}")


def _summaries(con: duckdb.DuckDBPyConnection) -> tuple[list[tuple], list[tuple]]:
    return (
        con.execute("select * from history.first_listed order by all").fetchall(),
        con.execute("select * from history.published_tiers order by all").fetchall(),
    )


def _recomputed(con: duckdb.DuckDBPyConnection) -> tuple[list[tuple], list[tuple]]:
    return (
        con.execute(
            "select member_id, min(as_of) from history.published_candidates "
            "group by all order by all"
        ).fetchall(),
        con.execute(
            "select as_of, tier, count(*) from history.published_candidates "
            "group by all order by all"
        ).fetchall(),
    )


def _warehouse(tmp_path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create schema publish")
    con.execute("create schema history")
    run_sql_file(con, PUBLISH_SQL / "history_tables.sql")
    return con


def test_the_summaries_follow_every_night_rerun_and_backfill(tmp_path):
    con = _warehouse(tmp_path)
    _publish(con, JUNE, {"A": "High", "B": "Low"})
    _publish(con, AUGUST, {"A": "High", "C": "Low"})
    assert _summaries(con) == (
        [("A", JUNE), ("B", JUNE), ("C", AUGUST)],
        [(JUNE, "High", 1), (JUNE, "Low", 1), (AUGUST, "High", 1), (AUGUST, "Low", 1)],
    )
    # A backfill of July, published after August: C was first listed in July after all.
    _publish(con, JULY, {"C": "Moderate", "D": "Low"})
    assert _summaries(con)[0] == [("A", JUNE), ("B", JUNE), ("C", JULY), ("D", JULY)]
    # June rerun without B (on no other list: gone) and without A (on August's: first then).
    _publish(con, JUNE, {"E": "Low"})
    assert _summaries(con)[0] == [("A", AUGUST), ("C", JULY), ("D", JULY), ("E", JUNE)]
    assert _summaries(con) == _recomputed(con)
    # A June that lists no one leaves no trace in either summary.
    _publish(con, JUNE, {})
    assert _summaries(con) == _recomputed(con)
    assert "E" not in dict(_summaries(con)[0])


def test_a_warehouse_from_before_the_summaries_is_filled_once(tmp_path):
    con = _warehouse(tmp_path)
    con.execute("drop table history.first_listed")
    con.execute("drop table history.published_tiers")
    con.execute(
        "insert into history.published_candidates values "
        "('2026-06-30', 'A', 'High', null), ('2026-07-31', 'A', 'Low', null), "
        "('2026-07-31', 'B', 'Low', null)"
    )
    run_sql_file(con, PUBLISH_SQL / "history_tables.sql")
    fill_history_summaries(con)
    assert _summaries(con) == _recomputed(con)
    assert _summaries(con)[0] == [("A", JUNE), ("B", JULY)]
    fill_history_summaries(con)  # once: a second call changes nothing
    assert _summaries(con) == _recomputed(con)

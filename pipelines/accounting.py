"""Tonight's accounting: every landing entry's state, the rows it brought, and the gates.

One function for everything that reports a night (the raw_landing metadata, the CLI's last
lines, the manifest): it reads this run's rows of raw.night_files and raw.night_gates, never
the running totals of the ledger. File names, states, counts and gate figures only.
"""

from __future__ import annotations

import duckdb

from pipelines.gates import NIGHT_GATES_DDL
from pipelines.warehouse import NIGHT_FILE_STATES, NIGHT_ROW_COUNTS, RAW_SCHEMA

# What the last lines add when a night has them (loaded rows kept with a warning; earlier
# versions a correction replaced; identical re-deliveries).
_ROW_NOTES = {
    "rows_warned": "kept with a warning",
    "rows_superseded": "earlier versions corrected",
    "rows_duplicate": "unchanged re-deliveries",
}
_FILE_FIELDS = ("entry_name", "kind", "state", "reason", "message", *NIGHT_ROW_COUNTS)
_GATE_FIELDS = ("gate", "subject", "passed", "figure", "threshold", "message", "override")


def night_accounting(con: duckdb.DuckDBPyConnection, run_id: str) -> dict:
    """Tonight's accounting for run `run_id`, as plain JSON-ready values:

    files_by_state (every state, 0 when none), files (one dict per landing entry), rows_read /
    rows_loaded / rows_quarantined / rows_warned / rows_superseded / rows_duplicate (rows newly
    read tonight; bytes loaded on an earlier night count there, not here), and gates (one dict
    per gate result recorded so far this run).
    """
    con.execute(NIGHT_GATES_DDL)
    files = [
        dict(zip(_FILE_FIELDS, row, strict=True))
        for row in con.execute(
            f"select {', '.join(_FILE_FIELDS)} from {RAW_SCHEMA}.night_files "
            "where run_id = ? order by entry_name",
            [run_id],
        ).fetchall()
    ]
    gates = [
        dict(zip(_GATE_FIELDS, row, strict=True))
        for row in con.execute(
            f"select {', '.join(_GATE_FIELDS)} from {RAW_SCHEMA}.night_gates "
            "where run_id = ? order by gate, subject nulls first",
            [run_id],
        ).fetchall()
    ]
    by_state = {state: 0 for state in NIGHT_FILE_STATES}
    for f in files:
        by_state[f["state"]] = by_state.get(f["state"], 0) + 1
    return {
        "run_id": run_id,
        "files_by_state": by_state,
        **{total: sum(f[total] or 0 for f in files) for total in NIGHT_ROW_COUNTS},
        "files": files,
        "gates": gates,
    }


def summary_lines(
    files_by_state: dict[str, int], rows: dict[str, int], gates: list[dict]
) -> list[str]:
    """The few lines a person reads at the end of a night: files by state, tonight's rows,
    the gates (and any override of them)."""
    states = ", ".join(f"{n} {s}" for s, n in files_by_state.items() if n)
    names = sorted({g["gate"] for g in gates})
    failed = sorted({g["gate"] for g in gates if not g["passed"]})
    overrides = sorted({g["override"] for g in gates if g.get("override")})
    extra = ", ".join(
        f"{label} {rows[total]:,}" for total, label in _ROW_NOTES.items() if rows.get(total)
    )
    lines = [
        f"files: {states or 'none'}",
        f"rows tonight: read {rows.get('rows_read', 0):,}, loaded {rows.get('rows_loaded', 0):,},"
        f" quarantined {rows.get('rows_quarantined', 0):,}" + (f" ({extra})" if extra else ""),
        f"gates: {len(names) - len(failed)} of {len(names)} passed"
        + (f" (failed: {', '.join(failed)})" if failed else f" ({', '.join(names)})"),
    ]
    if overrides:
        lines.append(f"override: {'; '.join(overrides)}")
    return lines


def files_markdown(accounting: dict) -> str:
    """Tonight's landing entries as a Markdown table (the raw_landing metadata)."""
    lines = [
        "| entry | kind | state | read | loaded | quarantined | message |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in accounting["files"]:
        lines.append(
            f"| {f['entry_name']} | {f['kind'] or ''} | {f['state']} | {f['rows_read'] or 0} "
            f"| {f['rows_loaded'] or 0} | {f['rows_quarantined'] or 0} | {f['message'] or ''} |"
        )
    return "\n".join(lines)

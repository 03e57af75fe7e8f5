"""The run report: one self-contained HTML file a population-health manager reads.

What changed since the last list, the trend by tier, who is on the list, who is excluded,
utilization per 1,000 member-months, how fresh the claims are, tonight's accounting, links to
the files and the definitions. Inline SVG and CSS only: no script, nothing fetched, so it
opens offline. It names no member: counts only. Queries are sql/report/*.sql, one per file.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable, Sequence

import duckdb

from pipelines.accounting import night_accounting
from pipelines.claim_counts import update_claim_counts
from pipelines.config import RuleConfig
from pipelines.gates import NIGHT_GATES_DDL
from pipelines.measures import EXCLUSION_REASONS, TIERS
from pipelines.paths import SQL_DIR
from pipelines.published_files import PUBLISHED_FILES
from pipelines.report_svg import bar_chart, line_chart
from pipelines.report_text import (
    CHECK_NAMES,
    CRITERION_NAMES,
    FILE_STATES,
    GATE_NAMES,
    MONITORING_REASONS,
    TIER_MEANINGS,
    definitions,
    human,
)
from pipelines.report_text import EXCLUSION_REASONS as EXCLUSION_NAMES
from pipelines.warehouse import set_variables

REPORT_SQL = SQL_DIR / "report"
NOT_LISTED = "not on the previous list"
TOP_COUNTIES = 15


def _rows(con: duckdb.DuckDBPyConnection, name: str) -> list[tuple]:
    return con.execute((REPORT_SQL / f"{name}.sql").read_text()).fetchall()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "passed" if value else "FAILED"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return html.escape(str(value))


def table(header: Sequence[str], rows: Iterable[Sequence[object]], css: str = "") -> str:
    """An HTML table; numbers right-aligned, a row of a failed check marked."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="{"num" if isinstance(v, int | float) and not isinstance(v, bool) else ""}'
            f'{" bad" if v is False else ""}">{_cell(v)}</td>'
            for v in row
        )
        body.append(f"<tr>{cells}</tr>")
    return (
        f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
    )


def _figure(value: float | None) -> str | None:
    """A gate's figure: a count as a whole number, a percent with its decimals."""
    if value is None:
        return None
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


def _signed(n: int) -> str:
    return f"+{n:,}" if n > 0 else f"\u2212{-n:,}" if n < 0 else "no change"


def _previous_as_of(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> dt.date | None:
    return con.execute(
        "select max(as_of) from history.publications where as_of < ?", [as_of]
    ).fetchone()[0]


def _changes(con: duckdb.DuckDBPyConnection, previous: dt.date | None) -> str:
    rows = _rows(con, "tier_changes")
    cards = "".join(
        f'<div class="card"><div class="tier">{tier}: {TIER_MEANINGS[tier]}</div>'
        f'<div class="big">{tonight:,}</div><div class="delta">'
        f"{f'{_signed(tonight - before)} since {previous}' if previous else 'first list'}"
        "</div></div>"
        for tier, tonight, before, *_ in rows
    )
    if previous is None:
        return (
            f'<div class="cards">{cards}</div><h2>What changed since the last list</h2>'
            "<p>This is the first published list: every member is new.</p>"
        )
    totals = [sum(r[i] for r in rows) for i in range(1, 7)]
    moved = [f"{tier} {_signed(t - b)}" for tier, t, b, *_ in rows if t != b]
    summary = (
        f"Since the list of {previous}: {totals[2]:,} new, {totals[4]:,} returning, "
        f"{totals[5]:,} dropped. "
        + ("Tier counts: " + ", ".join(moved) + "." if moved else "No tier count changed.")
    )
    changes = table(
        ("tier", f"on the list of {previous}", "tonight", "change", "new", "continuing",
         "returning", "dropped (by tier on the previous list)"),
        [
            (tier, before, tonight, _signed(tonight - before), new, cont, ret, dropped)
            for tier, tonight, before, new, cont, ret, dropped in rows
        ]
        + [("all tiers", totals[1], totals[0], _signed(totals[0] - totals[1]), *totals[2:])],
    )  # fmt: skip
    return (
        f'<div class="cards">{cards}</div>'
        f"<h2>What changed since the last list ({previous})</h2><p>{summary}</p>{changes}"
        f"<h3>Tier movement</h3><p>Rows: the tier on the list of {previous}; columns: "
        "tonight's tier. The diagonal stayed in its tier.</p>"
        + _movement(_rows(con, "tier_movement"))
    )


def _movement(rows: list[tuple[str, str, int]]) -> str:
    cells = {(before, after): n for before, after, n in rows}
    columns = [*TIERS, "dropped"]
    body = [
        (before, *[cells.get((before, after), 0) for after in columns])
        for before in [*TIERS, NOT_LISTED]
    ]
    return table(("previous \u2193 / tonight \u2192", *columns), body, css="matrix")


def _trend(con: duckdb.DuckDBPyConnection) -> str:
    """One small chart per tier, each on its own scale from 0: High's 100 members would be a
    flat line on Low's scale of thousands, and a night that loses 6 High members must show."""
    rows = _rows(con, "tier_trend")
    nights = sorted({as_of for as_of, _, _ in rows})
    counts = {(as_of, tier): n for as_of, tier, n in rows}
    labels = [str(n) for n in nights]
    charts = "".join(
        "<div>"
        + line_chart(
            tier,
            labels,
            {tier: [counts.get((night, tier), 0) for night in nights]},
            width=540,
            height=230,
        )
        + "</div>"
        for tier in TIERS
    )
    note = (
        "<p>One published night so far: the lines start with the next one.</p>"
        if len(nights) == 1
        else f"<p>Members per tier on each of the {len(nights)} published lists, {nights[0]} "
        f"to {nights[-1]}; each tier on its own scale.</p>"
    )
    overridden: dict[tuple[str, str], list[dt.date]] = {}
    for as_of, gate, override in _rows(con, "gate_overrides"):
        overridden.setdefault((gate, override), []).append(as_of)
    if overridden:
        note += (
            "<p>Published although a gate did not pass, because the operator overrode it: "
            + "; ".join(
                f"&ldquo;{html.escape(human(GATE_NAMES, gate))}&rdquo; failed and was "
                f"overridden ({html.escape(override)}) on "
                + (
                    f"{dates[0]}"
                    if len(dates) == 1
                    else f"{len(dates)} nights from {dates[0]} to {dates[-1]}"
                )
                for (gate, override), dates in overridden.items()
            )
            + ".</p>"
        )
    return f'<h2>Trend by tier</h2>{note}<div class="grid">{charts}</div>'


def _by_tier(rows: list[tuple[str, str, int]], label: str, limit: int | None = None) -> str:
    order: list[str] = []
    counts: dict[tuple[str, str], int] = {}
    for name, tier, n in rows:
        if name not in order:
            order.append(name)
        counts[(name, tier)] = n
    shown = order[:limit] if limit else order
    body = [
        (name, *[counts.get((name, t), 0) for t in TIERS], sum(counts.get((name, t), 0)
                                                                for t in TIERS))
        for name in shown
    ]  # fmt: skip
    rest = order[len(shown) :]
    if rest:
        body.append(
            (
                f"{len(rest)} other(s)",
                *[sum(counts.get((name, t), 0) for name in rest) for t in TIERS],
                sum(counts.get((name, t), 0) for name in rest for t in TIERS),
            )
        )
    return table((label, *TIERS, "all"), body)


def _who(con: duckdb.DuckDBPyConnection) -> str:
    criteria = [(human(CRITERION_NAMES, c), n) for c, n in _rows(con, "candidates_by_criterion")]
    return (
        "<h2>Who is on the list</h2>"
        + bar_chart("High members by criterion met (a member may meet two)", criteria)
        + "<h3>Monitoring: why they are not called</h3>"
        + _monitoring(_rows(con, "monitoring_by_reason"))
        + "<h3>By age group and tier</h3>"
        + _by_tier(_rows(con, "candidates_by_age_group"), "age group")
        + "<h3>By county and tier (most High members first; at most "
        + f"{TOP_COUNTIES} counties, the rest added up)</h3>"
        + _by_tier(_rows(con, "candidates_by_county"), "county", TOP_COUNTIES)
    )


def _monitoring(rows: list[tuple[str, int, dt.date]]) -> str:
    if not rows:
        return "<p class='empty'>No Monitoring member tonight.</p>"
    return table(
        ("reason", "members", "latest status date"),
        [(human(MONITORING_REASONS, reason), n, str(latest)) for reason, n, latest in rows],
    )


def _exclusions(con: duckdb.DuckDBPyConnection) -> str:
    rows = _rows(con, "exclusions_by_reason")
    counts = {(reason, tier): n for reason, tier, n in rows}
    reasons = [r for r in EXCLUSION_REASONS if any(k[0] == r for k in counts)]
    body = [
        (human(EXCLUSION_NAMES, r), *[counts.get((r, t), 0) for t in TIERS],
         sum(counts.get((r, t), 0) for t in TIERS))
        for r in reasons
    ]  # fmt: skip
    total = sum(counts.values())
    return (
        "<h2>Excluded: would have a tier, not referred</h2>"
        f"<p>{total:,} members, by the first reason that applies and the tier they would "
        "have had. They are in exclusions.csv, never dropped silently.</p>"
        + (table(("reason", *TIERS, "all"), body) if body else "<p class='empty'>none</p>")
    )


def _rates(con: duckdb.DuckDBPyConnection) -> str:
    rows = _rows(con, "utilization_rates")
    header = (
        "member-months",
        "ED visits",
        "ED visits per 1,000",
        "unplanned stays",
        "stays per 1,000",
    )
    parts = [
        "<h2>Utilization per 1,000 member-months</h2>",
        "<p>ED visits and unplanned hospital or short-term SNF stays in the 12 months to the "
        "as-of date, per 1,000 member-months of enrolled members (all members, not only the "
        "list). Highest ED rate first.</p>",
        '<div class="grid">',
    ]
    for dimension in ("county", "plan", "age group"):
        body = [r[1:] for r in rows if r[0] == dimension]
        parts.append(f"<div><h3>By {dimension}</h3>{table((dimension, *header), body)}</div>")
    parts.append("</div>")
    return "".join(parts)


def _freshness(con: duckdb.DuckDBPyConnection, as_of: dt.date, months: int) -> str:
    update_claim_counts(con)  # current already when tonight's gates ran: a metadata count
    latest_service, latest_paid, days_since, lag, lines = _rows(con, "data_freshness")[0]
    visits, visits_no_dx, stays, stays_no_dx, unmapped, unmapped_stays = _rows(
        con, "events_without_diagnosis"
    )[0]
    return (
        "<h2>Data freshness and coding</h2>"
        + table(
            ("figure", "value"),
            [
                ("as-of date", str(as_of)),
                ("latest service date in the claims", str(latest_service or "none")),
                ("days from it to the as-of date", days_since),
                ("latest paid date", str(latest_paid or "none")),
                (
                    "claims lag: median days from service to payment",
                    "none" if lag is None else f"{lag:.0f} days",
                ),
                (f"claim lines paid in the last {months} months (the median's base)", lines),
                (
                    "ED visits in the look-back with no diagnosis on any line (never avoidable)",
                    f"{visits_no_dx:,} of {visits:,}",
                ),
                (
                    "stays in the look-back with no diagnosis on any line (never planned)",
                    f"{stays_no_dx:,} of {stays:,}",
                ),
                (
                    "stay codes the CCS maps do not know (only the PRA code lists decide them)",
                    f"{unmapped:,} codes on {unmapped_stays:,} stays",
                ),
            ],
        )
        + "<p>Claims arrive after the service: counts for the last weeks before the as-of "
        "date are incomplete by about the claims lag, so a member may qualify later for "
        "visits already made.</p>"
    )


def _accounting(
    con: duckdb.DuckDBPyConnection, landing_run_id: str, checks: Sequence[tuple[str, bool]]
) -> str:
    night = night_accounting(con, landing_run_id)
    files = table(
        ("file", "kind", "state", "rows read", "loaded", "quarantined", "warned",
         "corrections", "note"),
        [
            (f["entry_name"], f["kind"] or "", human(FILE_STATES, f["state"]),
             f["rows_read"] or 0, f["rows_loaded"] or 0, f["rows_quarantined"] or 0,
             f["rows_warned"] or 0, f["rows_superseded"] or 0, f["message"] or "")
            for f in night["files"]
        ],
    )  # fmt: skip
    quarantined = _rows(con, "quarantine_tonight")
    gates = table(
        ("gate", "about", "result", "figure", "limit", "what was found"),
        [
            (human(GATE_NAMES, g["gate"]), g["subject"] or "the night", bool(g["passed"]),
             _figure(g["figure"]), _figure(g["threshold"]),
             g["message"] + (f" (this run's override: {g['override']})" if g["override"] else ""))
            for g in night["gates"]
        ],
    )  # fmt: skip
    check_table = (
        table(("check", "result"), [(human(CHECK_NAMES, name), ok) for name, ok in checks])
        if checks
        else ""
    )
    return (
        "<h2>Tonight's accounting</h2>"
        f"<p>Tonight's figures only (not running totals): rows read "
        f"{night['rows_read']:,}, loaded {night['rows_loaded']:,}, quarantined "
        f"{night['rows_quarantined']:,}; loaded with a data-quality warning "
        f"{night['rows_warned']:,}; corrections that replaced an earlier row "
        f"{night['rows_superseded']:,}; unchanged re-deliveries {night['rows_duplicate']:,}. "
        "Files by state: "
        + ", ".join(f"{n} {human(FILE_STATES, s)}" for s, n in night["files_by_state"].items() if n)
        + ".</p>"
        + (
            "<p>No new rows tonight: the list is built from the files loaded on earlier "
            "nights, which are still in force.</p>"
            if night["rows_read"] == 0 and night["files_by_state"].get("already_loaded")
            else ""
        )
        + files
        + "<h3>Rows quarantined tonight, by file and reason</h3>"
        + (
            table(("file", "reason", "rows"), quarantined)
            if quarantined
            else "<p>None: every row read tonight was loaded.</p>"
        )
        + "<h3>Gates (a failed gate blocks publication)</h3>"
        + gates
        + (f"<h3>Checks</h3>{check_table}" if check_table else "")
    )


def _links() -> str:
    items = "".join(
        f'<li><a href="{f.name}.csv">{f.name}.csv</a> (<a href="{f.name}.parquet">Parquet</a>)'
        f": {html.escape(f.holds)}</li>"
        for f in PUBLISHED_FILES
    )
    return (
        "<h2>The files</h2><ul>"
        + items
        + '<li><a href="manifest.json">manifest.json</a>: column meanings, tonight\'s '
        "accounting, rules and code-list versions, checksums.</li></ul>"
    )


def _definitions(rules: RuleConfig) -> str:
    items = "".join(
        f"<dt>{html.escape(term)}</dt><dd>{html.escape(text)}</dd>"
        for term, text in definitions(rules)
    )
    return f"<h2>Definitions</h2><dl>{items}</dl>"


STYLE = """
body { font: 14px system-ui, sans-serif; margin: 2em auto; max-width: 1160px; color: #222;
       padding: 0 1em; }
h2 { border-bottom: 2px solid #2f6f9f; padding-bottom: 3px; margin-top: 2em; }
.grid { display: flex; flex-wrap: wrap; gap: 0 2em; align-items: flex-start; }
svg text { font: 12px system-ui, sans-serif; fill: #222; }
table { border-collapse: collapse; margin: 0.5em 0; }
td, th { border: 1px solid #ccc; padding: 3px 8px; vertical-align: top; }
th { background: #f3f3f3; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.bad { background: #fbe3e3; font-weight: bold; }
.empty { color: #888; }
.cards { display: flex; gap: 1em; flex-wrap: wrap; margin: 1em 0; }
.card { border: 1px solid #ccc; border-radius: 6px; padding: 0.6em 1.2em; min-width: 9em; }
.card .tier { color: #555; } .card .big { font-size: 28px; font-weight: 600; }
.card .delta { color: #555; }
dt { font-weight: 600; margin-top: 0.5em; } dd { margin-left: 1.5em; }
"""


def render_report(
    con: duckdb.DuckDBPyConnection,
    *,
    as_of: dt.date,
    run_id: str,
    rules: RuleConfig,
    checks: Sequence[tuple[str, bool]] = (),
    landing_run_id: str | None = None,
) -> str:
    """The report of tonight's publication. Publication tables must be built; `checks` are
    this run's check results (name, passed); `landing_run_id` is the run whose ingest
    tonight's accounting reports (this run unless it re-executes one)."""
    landing = landing_run_id or run_id
    set_variables(
        con,
        {
            "as_of": as_of,
            "tier_order": list(TIERS),
            "exclusion_order": list(EXCLUSION_REASONS),
            "recent_months": rules.windows.recent_months,
            "landing_run_id": landing,
        },
    )
    con.execute(NIGHT_GATES_DDL)  # a warehouse that never recorded a gate still reports
    previous = _previous_as_of(con, as_of)
    body = [
        f"<h1>ECM high-utilizer candidates, as of {as_of}</h1>",
        f"<p>Run <code>{html.escape(run_id)}</code>, rules version "
        f"{html.escape(rules.version)}. "
        + (f"Previous list: {previous}." if previous else "No earlier list.")
        + " Counts only: the members are in the lists: "
        + " \u00b7 ".join(f'<a href="{f.name}.csv">{f.name}.csv</a>' for f in PUBLISHED_FILES)
        + ".</p>",
        _changes(con, previous),
        _trend(con),
        _who(con),
        _exclusions(con),
        _rates(con),
        _freshness(con, as_of, rules.windows.recent_months),
        _accounting(con, landing, checks),
        _links(),
        _definitions(rules),
    ]
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>ECM candidates, as of {as_of}</title><style>{STYLE}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )

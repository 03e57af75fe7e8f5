"""The run report: one self-contained HTML file with inline SVG charts.

No JavaScript and nothing fetched: it opens offline, from an e-mail attachment or a file share.
Member ids appear only in the top-of-list table, never names or birth dates.
"""

from __future__ import annotations

import datetime as dt
import html

import duckdb

from pipelines.measures import TIERS
from pipelines.paths import SQL_DIR
from pipelines.warehouse import set_variables

REPORT_SQL = SQL_DIR / "report"
BAR_COLOR = "#2f6f9f"


def _rows(con: duckdb.DuckDBPyConnection, name: str) -> list[tuple]:
    return con.execute((REPORT_SQL / f"{name}.sql").read_text()).fetchall()


def bar_chart(title: str, rows: list[tuple[str, int]], width: int = 560) -> str:
    """A horizontal bar chart as inline SVG."""
    if not rows:
        return f"<h3>{html.escape(title)}</h3><p class='empty'>nothing to show</p>"
    label_w, bar_h, gap = 170, 18, 6
    top = max(v for _, v in rows) or 1
    height = len(rows) * (bar_h + gap) + gap
    bars = []
    for i, (label, value) in enumerate(rows):
        y = gap + i * (bar_h + gap)
        w = int((width - label_w - 60) * value / top)
        bars.append(
            f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{html.escape(str(label))}'
            f'</text><rect x="{label_w}" y="{y}" width="{w}" height="{bar_h}" '
            f'fill="{BAR_COLOR}"/><text x="{label_w + w + 4}" y="{y + 13}">{value:,}</text>'
        )
    return (
        f"<h3>{html.escape(title)}</h3>"
        f'<svg width="{width}" height="{height}" role="img" aria-label="{html.escape(title)}">'
        + "".join(bars)
        + "</svg>"
    )


def _table(rows: list[tuple], header: tuple[str, ...]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in r)
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_report(
    con: duckdb.DuckDBPyConnection,
    *,
    as_of: dt.date,
    run_id: str,
    summary: dict[str, object],
) -> str:
    set_variables(con, {"as_of": as_of, "tier_order": list(TIERS)})
    charts = [
        bar_chart("Candidates by tier", _rows(con, "candidates_by_tier")),
        bar_chart("Candidates by criterion met", _rows(con, "candidates_by_criterion")),
        bar_chart("Candidates by age group", _rows(con, "candidates_by_age_group")),
        bar_chart("Candidates by county (top 15)", _rows(con, "candidates_by_county")[:15]),
        bar_chart("Candidates per published as-of date", _rows(con, "candidates_trend")),
        bar_chart("Rows quarantined, by reason", _rows(con, "quarantine_by_reason")),
    ]
    top = _rows(con, "top_candidates")
    facts = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in summary.items()
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>ECM candidates - as of {as_of.isoformat()}</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }}
.grid {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(580px, 1fr)); gap: 1em; }}
svg text {{ font: 12px system-ui, sans-serif; fill: #222; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: 3px 8px; }}
th {{ background: #f3f3f3; text-align: left; }} .empty {{ color: #888; }}
</style></head><body>
<h1>ECM high-utilizer candidates</h1>
<p>As of <b>{as_of.isoformat()}</b>, run <code>{html.escape(run_id)}</code>.</p>
<table>{facts}</table>
<div class="grid">{"".join(f"<div>{c}</div>" for c in charts)}</div>
<h2>Top of the list</h2>
{_table(top, ("member_id", "tier", "score", "criteria_met", "change"))}
</body></html>
"""

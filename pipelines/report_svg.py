"""Hand-written inline SVG charts for the run report: no script, nothing fetched, so the
report opens offline from an e-mail attachment or a file share."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

BAR_COLOR = "#2f6f9f"
# One colour per tier, and a dash pattern too, so the lines read in grey print as well.
TIER_STYLES = {
    "High": ("#b2182b", ""),
    "Moderate": ("#e08214", "6 3"),
    "Low": ("#2166ac", "2 3"),
    "Monitoring": ("#555555", "8 3 2 3"),
}


def _esc(value: object) -> str:
    return html.escape(str(value))


def bar_chart(title: str, rows: Sequence[tuple[str, float]], width: int = 560) -> str:
    """A horizontal bar chart, one bar per (label, value)."""
    if not rows:
        return f"<h3>{_esc(title)}</h3><p class='empty'>nothing to show</p>"
    label_w, bar_h, gap = 190, 18, 6
    top = max(v for _, v in rows) or 1
    height = len(rows) * (bar_h + gap) + gap
    bars = []
    for i, (label, value) in enumerate(rows):
        y = gap + i * (bar_h + gap)
        w = int((width - label_w - 70) * value / top)
        bars.append(
            f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{_esc(label)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar_h}" fill="{BAR_COLOR}"/>'
            f'<text x="{label_w + w + 4}" y="{y + 13}">{value:,}</text>'
        )
    return (
        f"<h3>{_esc(title)}</h3>"
        f'<svg width="{width}" height="{height}" role="img" aria-label="{_esc(title)}">'
        + "".join(bars)
        + "</svg>"
    )


def _nice_top(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above value (an axis end)."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= value)


def line_chart(
    title: str,
    x_labels: Sequence[str],
    series: dict[str, Sequence[float]],
    width: int = 1100,
    height: int = 320,
) -> str:
    """One line per series over the same x labels (dates), with a y axis from 0, a legend,
    and each line's last value written at its end."""
    if not x_labels:
        return f"<h3>{_esc(title)}</h3><p class='empty'>nothing to show</p>"
    left, right, top_pad, bottom = 60, 130, 30, 50
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    top = _nice_top(max((v for values in series.values() for v in values), default=1))
    n = len(x_labels)

    def x(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top_pad + plot_h * (1 - v / top)

    parts = []
    for k in range(5):  # y grid and labels
        value = top * k / 4
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            f'stroke="#ddd"/><text x="{left - 6}" y="{y(value) + 4:.1f}" '
            f'text-anchor="end">{value:,.0f}</text>'
        )
    step = max(1, math.ceil(n / max(1, plot_w // 90)))  # date labels 90 px apart at least
    for i in range(0, n, step):
        parts.append(
            f'<text x="{x(i):.1f}" y="{top_pad + plot_h + 18}" text-anchor="middle">'
            f"{_esc(x_labels[i])}</text>"
        )
    for name, values in series.items():
        color, dash = TIER_STYLES.get(name, (BAR_COLOR, ""))
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2"'
            f"{dash_attr}/>"
        )
        parts.extend(
            f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5" fill="{color}"/>'
            for i, v in enumerate(values)
        )
    parts.extend(_end_labels(series, y(0) + 4, lambda v: y(v) + 4, x(n - 1) + 8))
    parts.append(
        f'<text x="{left + plot_w / 2:.0f}" y="{height - 8}" text-anchor="middle">'
        "as-of date (published nights)</text>"
    )
    return (
        f"<h3>{_esc(title)}</h3>"
        f'<svg width="{width}" height="{height}" role="img" aria-label="{_esc(title)}">'
        + "".join(parts)
        + "</svg>"
    )


def _end_labels(series: dict[str, Sequence[float]], bottom: float, y, x: float) -> list[str]:
    """Each line's name and last value at its end, moved apart so none overlap."""
    gap = 14
    ends = sorted(((y(values[-1]), name, values[-1]) for name, values in series.items()))
    placed: list[float] = []
    for wanted, _, _ in ends:
        placed.append(max(wanted, placed[-1] + gap) if placed else wanted)
    overflow = (placed[-1] - bottom) if placed else 0
    if overflow > 0:  # pushed below the axis: shift the whole stack up
        placed = [p - overflow for p in placed]
    return [
        f'<text x="{x:.1f}" y="{p:.1f}" fill="{TIER_STYLES.get(name, (BAR_COLOR, ""))[0]}">'
        f"{_esc(name)} {last:,.0f}</text>"
        for p, (_, name, last) in zip(placed, ends, strict=True)
    ]

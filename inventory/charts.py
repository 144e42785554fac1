"""Charts drawn on the server as SVG (no script, no front-end build).

Each chart is `<svg role="img">` named by its `<title>` and described by its `<desc>`
(aria-labelledby both), and every page shows the same numbers in a table beside it, so
a screen reader loses nothing. Colours keep a 3:1 contrast with the white ground
(WCAG 1.4.11); text is #1a1a1a. Every label is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

INK = "#1a1a1a"
MUTED = "#4a4a4a"
BAR = "#0b5394"
GRID = "#8a8f98"
QUADRANT_COLOURS = {
    "quick_win": "#1d6b35",
    "strategic": "#0b5394",
    "batch": "#8a4b00",
    "defer": "#6b6b6b",
}


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None  # None: no data (drawn as a dash)
    text: str  # the figure written beside the bar


def _open(chart_id: str, width: int, height: int, title: str, desc: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="100%" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" id="{chart_id}">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
    ]


def hbar_chart(
    chart_id: str, title: str, desc: str, bars: Sequence[Bar], *, maximum: float = 1.0
) -> SafeString:
    """Horizontal bars, one a row (departments): label left, bar, figure right."""
    row, top, label_w, bar_w, text_w = 26, 10, 190, 300, 90
    width = label_w + bar_w + text_w
    height = top * 2 + row * max(len(bars), 1)
    top_value = max([maximum, *(b.value or 0 for b in bars)]) or 1.0
    parts = _open(chart_id, width, height, title, desc)
    parts.append(
        f'<line x1="{label_w}" y1="{top - 4}" x2="{label_w}" y2="{height - top + 4}" '
        f'stroke="{GRID}" stroke-width="1"/>'
    )
    for i, bar in enumerate(bars):
        y = top + i * row
        label = bar.label if len(bar.label) <= 13 else bar.label[:12] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 17}" text-anchor="end" font-size="13" '
            f'fill="{INK}">{escape(label)}</text>'
        )
        if bar.value is not None:
            w = max(bar.value / top_value * bar_w, 0)
            parts.append(
                f'<rect x="{label_w}" y="{y + 5}" width="{w:.1f}" height="{row - 10}" '
                f'fill="{BAR}"/>'
            )
        parts.append(
            f'<text x="{label_w + bar_w + 6}" y="{y + 17}" font-size="13" '
            f'fill="{INK}">{escape(bar.text)}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every piece above is escaped


def vbar_chart(
    chart_id: str, title: str, desc: str, bars: Sequence[Bar], *, maximum: float | None = None
) -> SafeString:
    """Vertical bars over fiscal years, the figure above each bar."""
    width, height, left, bottom, top = 420, 220, 20, 34, 26
    n = max(len(bars), 1)
    slot = (width - left * 2) / n
    top_value = max([maximum or 0, *(b.value or 0 for b in bars)]) or 1.0
    plot_h = height - bottom - top
    parts = _open(chart_id, width, height, title, desc)
    base = height - bottom
    parts.append(
        f'<line x1="{left}" y1="{base}" x2="{width - left}" y2="{base}" '
        f'stroke="{GRID}" stroke-width="1"/>'
    )
    for i, bar in enumerate(bars):
        x = left + i * slot
        cx = x + slot / 2
        if bar.value is not None:
            h = bar.value / top_value * plot_h
            parts.append(
                f'<rect x="{x + slot * 0.2:.1f}" y="{base - h:.1f}" width="{slot * 0.6:.1f}" '
                f'height="{h:.1f}" fill="{BAR}"/>'
            )
            text_y = base - h - 6
        else:
            text_y = base - 6
        parts.append(
            f'<text x="{cx:.1f}" y="{text_y:.1f}" text-anchor="middle" font-size="13" '
            f'fill="{INK}">{escape(bar.text)}</text>'
        )
        parts.append(
            f'<text x="{cx:.1f}" y="{base + 20}" text-anchor="middle" font-size="13" '
            f'fill="{INK}">{escape(bar.label)}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every piece above is escaped


@dataclass(frozen=True)
class Point:
    label: str
    effect: float
    difficulty: float
    quadrant: str


def _effect_x(effect: float) -> float:
    return math.log10(max(effect, 0) + 1)


def matrix_chart(
    chart_id: str,
    title: str,
    desc: str,
    points: Sequence[Point],
    *,
    effect_threshold: float,
    difficulty_threshold: float,
    quadrant_labels: dict[str, str],
    x_label: str,
    y_label: str,
) -> SafeString:
    """Effect (hours a year, log scale) across, difficulty up: the 2×2 of quick wins,
    strategic, batch via forms and defer, split at the thresholds of the weights."""
    width, height, left, right, top, bottom = 640, 420, 60, 20, 20, 50
    plot_w, plot_h = width - left - right, height - top - bottom
    max_x = max([_effect_x(effect_threshold) * 2, *(_effect_x(p.effect) for p in points)]) or 1
    max_d = max([difficulty_threshold * 2, *(p.difficulty for p in points)]) or 1

    def px(effect: float) -> float:
        return left + _effect_x(effect) / max_x * plot_w

    def py(difficulty: float) -> float:
        return top + plot_h - difficulty / max_d * plot_h

    parts = _open(chart_id, width, height, title, desc)
    tx, ty = px(effect_threshold), py(difficulty_threshold)
    parts.append(
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
        f'stroke="{GRID}"/>'
        f'<line x1="{tx:.1f}" y1="{top}" x2="{tx:.1f}" y2="{top + plot_h}" stroke="{GRID}" '
        f'stroke-dasharray="4 3"/>'
        f'<line x1="{left}" y1="{ty:.1f}" x2="{left + plot_w}" y2="{ty:.1f}" stroke="{GRID}" '
        f'stroke-dasharray="4 3"/>'
    )
    corners = {
        "quick_win": (left + plot_w - 6, top + plot_h - 8, "end"),
        "strategic": (left + plot_w - 6, top + 16, "end"),
        "batch": (left + 6, top + plot_h - 8, "start"),
        "defer": (left + 6, top + 16, "start"),
    }
    for key, (x, y, anchor) in corners.items():
        parts.append(
            f'<text x="{x}" y="{y}" text-anchor="{anchor}" font-size="13" font-weight="bold" '
            f'fill="{QUADRANT_COLOURS[key]}">{escape(quadrant_labels[key])}</text>'
        )
    for p in points:
        parts.append(
            f'<circle cx="{px(p.effect):.1f}" cy="{py(p.difficulty):.1f}" r="4" '
            f'fill="{QUADRANT_COLOURS[p.quadrant]}" fill-opacity="0.8">'
            f"<title>{escape(p.label)}</title></circle>"
        )
    # Axis ticks: 0, 10, 100, 1,000 … hours.
    value = 0.0
    while _effect_x(value) <= max_x + 1e-9:
        x = px(value)
        parts.append(
            f'<text x="{x:.1f}" y="{top + plot_h + 18}" text-anchor="middle" font-size="12" '
            f'fill="{MUTED}">{value:,.0f}</text>'
        )
        value = 10.0 if value == 0 else value * 10
    for d in range(0, math.ceil(max_d) + 1, max(1, math.ceil(max_d / 6))):
        parts.append(
            f'<text x="{left - 8}" y="{py(d) + 4:.1f}" text-anchor="end" font-size="12" '
            f'fill="{MUTED}">{d}</text>'
        )
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 8}" text-anchor="middle" '
        f'font-size="13" fill="{INK}">{escape(x_label)}</text>'
        f'<text x="16" y="{top + plot_h / 2:.1f}" text-anchor="middle" font-size="13" '
        f'fill="{INK}" transform="rotate(-90 16 {top + plot_h / 2:.1f})">{escape(y_label)}</text>'
    )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every piece above is escaped

"""Number formats for the inventory pages: one way of writing each figure everywhere, so
the explanation on a page reads exactly like the numbers the score used."""

from __future__ import annotations

from django import template

register = template.Library()


def num(value: float | int | None, places: int = 1) -> str:
    """1234.56 → "1,234.6" (places=1); integers keep no decimals; None → "—"."""
    if value is None:
        return "—"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return f"{value:,.{places}f}"


def weight(value: float | None) -> str:
    """A weight or share as typed: 1.5, 3, 0.25 (no trailing zeros)."""
    if value is None:
        return "—"
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text or "0"


def pct(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.1f}%"


register.filter("num", num)
register.filter("weight", weight)
register.filter("pct", pct)

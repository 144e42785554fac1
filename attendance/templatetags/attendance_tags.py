"""Durations on the attendance pages: leave in days and hours, overtime in hours."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def leave_amount(minutes: int | None, per_day: int | None = None) -> str:
    """Leave at the person's day length: 1000 at 465 → "2日1時間10分" (in the UI language)."""
    if minutes is None:
        return "—"
    per_day = per_day or 465
    sign = "-" if minutes < 0 else ""
    days, rest = divmod(abs(minutes), per_day)
    hours, mins = divmod(rest, 60)
    parts = []
    if days or not rest:
        parts.append(_("%(n)s日") % {"n": days})
    if hours:
        parts.append(_("%(n)s時間") % {"n": hours})
    if mins:
        parts.append(_("%(n)s分") % {"n": mins})
    # English units carry their own spacing ("2 d 1 h 10 min"); Japanese has none.
    return sign + "".join(parts).strip()


@register.filter
def hours(minutes: int | float | None) -> str:
    """Overtime as hours and minutes: 150 → "2:30"."""
    if minutes is None:
        return "—"
    total = round(minutes)
    sign = "-" if total < 0 else ""
    h, m = divmod(abs(total), 60)
    return f"{sign}{h}:{m:02d}"


@register.filter
def percent_of(value: int | float | None, limit: int | float | None) -> int:
    if not value or not limit:
        return 0
    return round(value * 100 / limit)

"""Gap-free serial numbers (文書番号, 収受番号): one counter row per series."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, models, transaction


def next_serial(counter_model: type[models.Model], **series: Any) -> int:
    """Take the next serial of a series, gap-free and safe under concurrency.

    The counter row (with a `last_serial` field, unique on the series' fields) is made
    if missing, then locked with SELECT … FOR UPDATE until the caller's transaction
    commits: a concurrent taker waits, and a rolled-back one gives its number back.
    """
    manager = counter_model._default_manager
    if not manager.filter(**series).exists():
        try:
            with transaction.atomic():
                manager.create(**series)
        except IntegrityError:
            pass  # another transaction made it first; it is locked below
    counter = manager.select_for_update().get(**series)
    counter.last_serial += 1
    counter.save(update_fields=["last_serial"])
    return counter.last_serial

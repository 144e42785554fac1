"""Background work of the engine: the sweep that hands steps of moved or newly filled
posts to their current holder, then sends 督促.

The sweep re-schedules itself (run_after) so one worker anywhere keeps it going without
a separate scheduler; `manage.py send_reminders` does one sweep for cron/systemd timers.
Sending is idempotent (a step is reminded at most once a day), so two sweeps never
double-notify.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from common.tasks import retrying_task

from .services import reminders_send, steps_reassign


@retrying_task(max_attempts=3, backoff_seconds=60)
def reminders_sweep(reschedule: bool = True) -> int:
    steps_reassign()
    sent = reminders_send()
    if reschedule:
        reminders_schedule()
    return sent


def reminders_schedule() -> None:
    """Make sure exactly one future sweep is queued."""
    if DBTaskResult.objects.filter(task_path=reminders_sweep.module_path, status="READY").exists():
        return
    minutes = settings.WORKFLOW_REMINDER_INTERVAL_MINUTES
    reminders_sweep.using(run_after=timezone.now() + dt.timedelta(minutes=minutes)).enqueue()

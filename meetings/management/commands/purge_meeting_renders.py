"""manage.py purge_meeting_renders: delete the watermarked page images of confidential
meetings whose access has ended. A daily job (docs/deployment.md, §9).

When a meeting with confidential material closes, its participants may read it for
MEETINGS_CONFIDENTIAL_RETENTION_DAYS more days (`Meeting.access_until`); from then on the
page endpoint refuses them, and this command deletes the per-viewer images
(`services.renders_purge`, one audit event per meeting). The originals and the minutes
are kept. Safe to run at any time and again: what is gone stays gone.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from meetings.services import renders_purge


class Command(BaseCommand):
    help = (
        "Delete the per-viewer (watermarked) page images of confidential meetings whose "
        "access period has ended (Meeting.access_until). Run daily. Idempotent."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        count = renders_purge()
        self.stdout.write(
            f"透かし入りページ画像を {count} 件削除しました "
            f"(purged {count} watermarked page image(s))"
        )

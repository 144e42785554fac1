from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand

from approvals.demo import load as load_approvals
from attendance import demo as attendance_demo
from inventory import demo as inventory_demo
from meetings import demo as meetings_demo
from records import demo as records_demo


class Command(BaseCommand):
    help = (
        "架空の市「瀬戸浜市」のデモデータ（組織・職員・決裁規程・起案文書・文書分類表・簿冊・勤怠）を登録します。"
        "何度実行しても同じ結果です (load the Setohama City demo; idempotent)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        approvals = load_approvals_after_org(self)
        # The records schedule and files, after the decided documents exist.
        records_demo.load()
        inventory = inventory_demo.load()
        if inventory.procedures:
            self.stdout.write(
                f"業務・手続の棚卸: 手続 {inventory.procedures} 件、件数 {inventory.volumes} 件、"
                f"業務 {inventory.processes} 件を登録しました (inventory loaded)"
            )
        attendance = attendance_demo.load()
        self.stdout.write(
            f"勤怠: 休暇の申請 {attendance.leave_created} 件、"
            f"超過勤務 {attendance.overtime_created} 件 (leave requests, overtime orders; "
            f"{attendance.granted} annual-leave grants added)"
        )
        for note in attendance.skipped:
            self.stderr.write(self.style.WARNING(f"勤怠のデモ: 省略 (skipped) {note}"))
        # Meetings after the records schedule (the minutes' classification).
        meetings = meetings_demo.load()
        self.stdout.write(
            f"会議: {meetings.meetings_created} 件を登録、"
            f"ページ画像 {meetings.pages_rendered} 枚を作成しました "
            f"({meetings.meetings_created} meetings added, "
            f"{meetings.pages_rendered} pages rendered)"
        )
        if meetings.meetings_created and not meetings.confidential:
            self.stderr.write(
                self.style.WARNING(
                    "会議のデモ: 透かし用フォントがないため秘の資料は省略しました "
                    "(no watermark font: confidential material skipped)"
                )
            )
        self.stdout.write(
            "電子決裁: "
            + ("事務決裁規程を登録、" if approvals.table_created else "")
            + f"起案文書 {approvals.documents_created} 件を登録しました "
            f"(authority table{' created' if approvals.table_created else ' present'}, "
            f"{approvals.documents_created} documents added)"
        )


def load_approvals_after_org(command: BaseCommand):
    # The organisation first (it prints the demo logins), then what builds on it.
    call_command("demo_org", stdout=command.stdout, stderr=command.stderr)
    return load_approvals()

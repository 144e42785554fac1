from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand

from approvals.demo import load as load_approvals
from records import demo as records_demo


class Command(BaseCommand):
    help = (
        "架空の市「瀬戸浜市」のデモデータ（組織・職員・決裁規程・起案文書・文書分類表・簿冊）を登録します。"
        "何度実行しても同じ結果です (load the Setohama City demo; idempotent)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        approvals = load_approvals_after_org(self)
        # The records schedule and files, after the decided documents exist.
        records_demo.load()
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

from django.core.management.base import BaseCommand

from workflow.services import reminders_send, steps_reassign
from workflow.tasks import reminders_schedule


class Command(BaseCommand):
    help = "期限切れの処理段階に督促を送ります (remind holders of overdue steps)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--schedule",
            action="store_true",
            help="タスクワーカーによる定期実行を登録します (keep a periodic sweep queued)",
        )

    def handle(self, *args, schedule: bool, **options) -> None:
        moved = steps_reassign()
        if moved:
            self.stdout.write(f"担当替え {moved} 件 (steps handed to the current holder: {moved})")
        sent = reminders_send()
        self.stdout.write(f"督促 {sent} 件 (reminders sent: {sent})")
        if schedule:
            reminders_schedule()

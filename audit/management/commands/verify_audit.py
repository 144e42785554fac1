from django.core.management.base import BaseCommand, CommandError

from audit.models import AuditEvent
from audit.services import audit_verify


class Command(BaseCommand):
    help = "監査ログのハッシュチェーンを検証します (verify the audit hash chain)."

    def handle(self, *args, **options) -> None:
        problems = list(audit_verify())
        if problems:
            for problem in problems:
                self.stderr.write(f"NG {problem}")
            raise CommandError("監査ログの改ざんを検出しました (audit chain is broken)")
        count = AuditEvent.objects.count()
        self.stdout.write(f"OK {count} events, chain intact / 監査ログは完全です")

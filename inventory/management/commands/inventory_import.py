"""Import a 棚卸調査 file (the national layout with the city's columns), all or nothing."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from inventory import exchange
from org.models import Staff
from workflow.errors import WorkflowError


class Command(BaseCommand):
    help = (
        "棚卸調査の様式の .xlsx / .csv を取り込みます。誤りが1つでもあれば何も取り込みません "
        "(import the national inventory layout; nothing is written if any cell is wrong)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("path")
        parser.add_argument(
            "--actor", required=True, help="記録に残す職員のユーザー名（dx_office の権限が必要）"
        )
        parser.add_argument(
            "--check", action="store_true", help="確認だけして取り込まない (validate only)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        actor = Staff.objects.filter(username=options["actor"], is_active=True).first()
        if actor is None:
            raise CommandError(f"職員 {options['actor']} がいません (no such active user)")
        try:
            raw = exchange.national_read(options["path"])
        except exchange.RosterFileError as exc:
            raise CommandError(str(exc)) from exc
        validated = exchange.national_validate(raw)
        if not validated.ok:
            for problem in validated.problems:
                self.stderr.write(str(problem))
            raise CommandError(
                f"{len(validated.problems)} 件の問題があるため、何も取り込んでいません "
                f"({len(validated.problems)} problems: nothing imported)"
            )
        if options["check"]:
            self.stdout.write(f"問題はありません: {len(validated.rows)} 行 (no problems)")
            return
        try:
            result = exchange.national_import(actor=actor, validated=validated)
        except WorkflowError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"新規 {result.created} 件、更新 {result.updated} 件、件数 {result.volumes} 件 "
            f"(created, updated, volume rows)"
        )

"""manage.py import_staff FILE [--dry-run]: load the staff roster (職員名簿) from HR."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, DjangoHelpFormatter
from django.db import transaction

from org.importing import COLUMNS, RosterFileError, roster_read, roster_validate
from org.models import Staff
from org.services import staff_import


class _Formatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Keep the column table in the epilog as written."""


def _columns_help() -> str:
    width = max(len(c.header) for c in COLUMNS)
    lines = ["列 (columns; the first row holds these headers, in any order):"]
    for c in COLUMNS:
        mark = "必須" if c.required else "任意"
        pad = "　" * (width - len(c.header))  # full-width pad: headers are full-width text
        extra = f" — {c.help}" if c.help else ""
        lines.append(f"  {c.header}{pad}  [{mark}] {c.gloss}{extra}")
    lines += [
        "",
        "日付 (dates): 2027-04-01, 2027/4/1, 20270401, Excel の日付, R9.4.1, 令和9年4月1日",
        "CSV: UTF-8 (BOM 有無どちらも) または Shift_JIS (cp932)。Excel: 最初のシート。",
        "行番号はシートの行番号です (見出し = 行 1)。row numbers are the sheet's own.",
        "",
        "一行でも問題があれば何も取り込みません (any bad row: nothing is imported).",
        "職員番号で照合し、同じファイルの再取込では何も変わりません (idempotent by 職員番号).",
        "発令日が未来の行は将来の配属を登録し、現在の本務をその前日で終了します",
        "(a future 発令日 schedules the transfer and ends the current post the day before).",
        "新しい職員のパスワードは設定しません: パスワード再設定で本人が設定します",
        "(new staff get no usable password). 権限 admin は名簿では付与できません.",
    ]
    return "\n".join(lines)


class Command(BaseCommand):
    help = "職員名簿 (.xlsx / .csv) を取り込みます (import the staff roster)."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = _Formatter
        parser.epilog = _columns_help()
        return parser

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("file", type=Path, help="名簿ファイル (.xlsx or .csv)")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="検証して結果を表示するだけで保存しません (validate and report, save nothing)",
        )
        parser.add_argument(
            "--actor",
            default="",
            help="監査ログに記録する実行者のユーザー名 (username recorded as the actor)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        actor = None
        if options["actor"]:
            actor = Staff.objects.filter(username=options["actor"]).first()
            if actor is None:
                raise CommandError(f"実行者「{options['actor']}」がいません (unknown --actor)")
        try:
            raw = roster_read(path)
        except RosterFileError as exc:
            raise CommandError(str(exc)) from exc

        validated = roster_validate(raw)
        if validated.ignored_headers:
            self.stderr.write(
                "注意: 使わない列を無視しました (ignored columns): "
                + ", ".join(f"「{h}」" for h in validated.ignored_headers)
            )
        if validated.problems:
            order = {c.header: i for i, c in enumerate(COLUMNS)}
            for problem in sorted(
                validated.problems,
                key=lambda p: (p.row or 0, order.get(p.column or "", len(order))),
            ):
                self.stderr.write(str(problem))
            raise CommandError(
                f"{len(validated.problems)} 件の問題があるため、何も取り込みませんでした "
                f"({len(validated.problems)} problem(s): nothing imported)"
            )

        with transaction.atomic():
            result = staff_import(rows=validated.rows, actor=actor, source=path.name)
            if options["dry_run"]:
                # Run the real import and roll it back, so the dry run reports exactly
                # what would change rather than a second, approximate calculation.
                transaction.set_rollback(True)

        prefix = (
            "検証のみ・保存していません (dry run, nothing saved)"
            if options["dry_run"]
            else "取込完了 (imported)"
        )
        self.stdout.write(
            f"{prefix}: {len(validated.rows)} 行 / 新規 {result.created} 名 (created), "
            f"更新 {result.updated} 名 (updated), 変更なし {result.unchanged} 名 (unchanged); "
            f"配属 登録 {result.assignments_created} 件 (assignments created), "
            f"訂正 {result.assignments_updated} 件 (corrected), "
            f"終了 {result.assignments_ended} 件 (ended), "
            f"うち将来の発令 {result.future_assignments} 件 (future-dated)"
        )

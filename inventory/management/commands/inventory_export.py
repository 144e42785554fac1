"""Write the inventory in one of its exchange formats."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from inventory import exchange
from inventory.selectors import reference_fiscal_year


class Command(BaseCommand):
    help = (
        "棚卸調査（national）・公表用の表（publication）・手続カタログ（catalogue）を出力します "
        "(export the inventory: national layout, publication table or GIF catalogue)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("kind", choices=["national", "publication", "catalogue"])
        parser.add_argument("output", help="出力ファイル（.xlsx / .csv / .json）")
        parser.add_argument("--fiscal-year", type=int, default=None, help="件数の年度（西暦）")

    def handle(self, *args: Any, **options: Any) -> None:
        kind, out = options["kind"], Path(options["output"])
        fy = options["fiscal_year"] or reference_fiscal_year()
        suffix = out.suffix.lower()
        allowed = {"national": {".xlsx", ".csv"}, "publication": {".xlsx", ".csv"}}
        allowed["catalogue"] = {".json", ".csv"}
        if suffix not in allowed[kind]:
            raise CommandError(
                f"{kind} は {', '.join(sorted(allowed[kind]))} で出力します "
                f"(unsupported file type {suffix or '(none)'})"
            )
        if suffix == ".xlsx":
            writer = (
                exchange.export_national_xlsx
                if kind == "national"
                else exchange.export_publication_xlsx
            )
            with out.open("wb") as handle:
                rows = writer(handle, fy)
            self.stdout.write(f"{out}: {rows} 行 (rows), {fy} 年度")
            return
        if suffix == ".json":
            out.write_text(exchange.export_catalogue_json(), encoding="utf-8")
        else:
            chunks = {
                "national": lambda: exchange.export_national_csv(fy),
                "publication": lambda: exchange.export_publication_csv(fy),
                "catalogue": exchange.export_catalogue_csv,
            }[kind]()
            with out.open("w", encoding="utf-8", newline="") as handle:
                for chunk in chunks:
                    handle.write(chunk)
        self.stdout.write(f"{out}: 出力しました (written)")

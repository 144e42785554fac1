"""manage.py init_pki: make the demo PKI under settings.PKI_DIR (demonstrations only).

A root CA, the organisation's signer (PKCS#12) and an in-process TSA key, plus a CRL
valid for 30 years, so `make run` signs B-LTA with no network and no real PKI. Everything
it signs is marked "DEMO — NOT TRUSTED" (Record.demo_pki). Does nothing when the files
are there already, unless --force (which makes new keys: earlier demo signatures then
no longer chain to the configured root).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from records import pki

BANNER = (
    "*** デモ用認証局 — 信頼されていません / DEMO PKI — NOT TRUSTED ***\n"
    "These keys are for demonstrations only: a signature made with them proves nothing.\n"
    "Production: SIGNING_PKCS12_PATH (or SIGNING_PKCS11_MODULE), SIGNING_TSA_URL and\n"
    "SIGNING_TRUST_ROOTS — see docs/signing.md."
)


class Command(BaseCommand):
    help = "Make the demo PKI (root CA, signer, TSA, CRL) under PKI_DIR. For demos only."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force", action="store_true", help="make new keys even if the files exist"
        )

    def handle(self, *args: Any, force: bool = False, **options: Any) -> None:
        quiet = options.get("verbosity", 1) == 0

        def say(message: str) -> None:
            if not quiet:
                self.stdout.write(message)

        pki_dir = Path(settings.PKI_DIR)
        conf = settings.SIGNING
        result = pki.create_demo_pki(
            pki_dir, passphrase=conf.get("PKCS12_PASSPHRASE") or "", force=force
        )
        if not result.created:
            say(f"demo PKI already in {pki_dir} (nothing done; --force to remake)")
            return
        from records import signing

        signing.clear_caches()
        say(self.style.WARNING(BANNER))
        say(f"made in {pki_dir}:")
        for path in result.files:
            mode = path.stat().st_mode & 0o777
            say(f"  {path.name:12} {mode:04o}")
        say(f"signer: {result.signer_subject}")
        if result.valid_until:
            say(f"valid until: {result.valid_until:%Y-%m-%d}")
        expected = str(pki_dir / pki.SIGNER_P12)
        if conf.get("PKCS12_PATH") and conf["PKCS12_PATH"] != expected:
            say(
                self.style.WARNING(
                    f"note: SIGNING_PKCS12_PATH is {conf['PKCS12_PATH']}, not {expected}: "
                    "the demo key is not the one that will sign"
                )
            )

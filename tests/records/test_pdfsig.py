"""Independent checks: qpdf (structure) and poppler's pdfsig with NSS (signature, chain).

pdfsig 22.12 exits 0 whatever it finds, so its output is parsed. Its certificate verdict
works by an accident of NSS's call order (docs/signing.md): the positive test ("Certificate
is Trusted.") always runs beside a negative one (an empty NSS db must not say Trusted).
pdfsig checks at the current time only and cannot verify document timestamps, so it
sees the signature of a B-LTA file, not the archival chain: pyHanko covers that.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import time_machine

from records import signing
from tests.conftest import need_binary
from tests.records.conftest import SIGNED_LEVELS, tamper_one_byte, write
from tests.records.test_renewal import RENEW_AT


@dataclass
class Pdfsig:
    output: str

    @property
    def signature_lines(self) -> list[str]:
        return [
            line.split(":", 1)[1].strip()
            for line in self.output.splitlines()
            if "Signature Validation:" in line and "not yet been verified" not in line
        ]

    @property
    def certificate_lines(self) -> list[str]:
        return [
            line.split(":", 1)[1].strip()
            for line in self.output.splitlines()
            if "Certificate Validation:" in line
        ]


def pdfsig(path: Path, nssdb: str) -> Pdfsig:
    proc = subprocess.run(
        [need_binary("pdfsig"), "-nssdir", nssdb, "-no-ocsp", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return Pdfsig(proc.stdout + proc.stderr)


def nss_db(directory: Path, root_pem: Path | None) -> str:
    certutil = need_binary("certutil")
    directory.mkdir(parents=True)
    db = f"sql:{directory}"
    subprocess.run([certutil, "-N", "-d", db, "--empty-password"], check=True, timeout=60)
    if root_pem is not None:
        subprocess.run(
            [certutil, "-A", "-d", db, "-n", "root", "-t", "C,C,C", "-i", str(root_pem)],
            check=True,
            timeout=60,
        )
    return db


@pytest.fixture(scope="module")
def nss(tmp_path_factory, test_pki) -> tuple[str, str]:
    base = tmp_path_factory.mktemp("nss")
    return nss_db(base / "trusted", test_pki.root_pem), nss_db(base / "empty", None)


@pytest.fixture(scope="module")
def renewed(signed, test_pki) -> bytes:
    from django.test import override_settings

    from tests.records.conftest import pki_settings

    with (
        override_settings(**pki_settings(test_pki, TSA_URL=test_pki.tsa2_url)),
        time_machine.travel(RENEW_AT, tick=True),
    ):
        return signing.renew_timestamp(signed["B-LTA"]).pdf


@pytest.mark.parametrize("level", [*SIGNED_LEVELS, "renewed"])
def test_qpdf_check_passes(signed, renewed, level, tmp_path) -> None:
    data = renewed if level == "renewed" else signed[level]
    path = write(tmp_path, f"{level}.pdf", data)
    proc = subprocess.run(
        [need_binary("qpdf"), "--check", str(path)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No syntax or stream encoding errors found" in proc.stdout


@pytest.mark.parametrize("level", [*SIGNED_LEVELS, "renewed"])
def test_pdfsig_trusts_with_the_root_and_not_without(signed, renewed, level, nss, tmp_path):
    trusted, empty = nss
    data = renewed if level == "renewed" else signed[level]
    path = write(tmp_path, f"{level}.pdf", data)
    result = pdfsig(path, trusted)
    assert result.signature_lines[0] == "Signature is Valid.", result.output
    assert result.certificate_lines[0] == "Certificate is Trusted.", result.output

    result = pdfsig(path, empty)
    assert result.signature_lines[0] == "Signature is Valid.", result.output
    assert result.certificate_lines[0] != "Certificate is Trusted.", result.output


def test_pdfsig_reports_one_changed_byte(signed, nss, tmp_path) -> None:
    trusted, _ = nss
    path = write(tmp_path, "tampered.pdf", tamper_one_byte(signed["B-LTA"]))
    result = pdfsig(path, trusted)
    assert result.signature_lines[0] != "Signature is Valid.", result.output
    assert "Digest Mismatch" in result.output
    proc = subprocess.run(
        [need_binary("qpdf"), "--check", str(path)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0  # structurally fine: only the signature notices

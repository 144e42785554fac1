"""PAdES signing (records.signing) against the loopback test PKI and the demo PKI."""

from __future__ import annotations

import asyncio
import inspect
import io
import os
import socket
import subprocess
from importlib.metadata import version

import pytest
from django.core.management import call_command
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers, timestamps
from pyhanko.sign.signers.pdf_signer import PdfSigner, PdfSigningSession, PdfTimeStamper
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from records import pki, signing
from records.verification import DEMO_WARNING, verify_pdf
from tests.conftest import missing_service, need_binary
from tests.records.conftest import SIGNED_LEVELS, tamper_one_byte


def pyhanko_validates(pdf: bytes, roots) -> bool:
    """pyHanko's own verdict (sync API, fresh context, online revocation soft-fail)."""
    sig = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0]
    vc = ValidationContext(trust_roots=roots, allow_fetching=True)
    return validate_pdf_signature(sig, signer_validation_context=vc).bottom_line


@pytest.mark.parametrize("level", SIGNED_LEVELS)
def test_levels_sign_and_validate(signed, level, signing_settings, test_pki) -> None:
    data = signed[level]
    reader = PdfFileReader(io.BytesIO(data))
    sig = reader.embedded_signatures[0]
    assert sig.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    assert sig.md_algorithm == "sha256"
    assert reader.input_version == (1, 7)  # no PDF 2.0 bump
    assert signing.level_of(reader) == level
    assert ("/DSS" in reader.root) == (level == "B-LTA")
    assert len(reader.embedded_timestamp_signatures) == (1 if level == "B-LTA" else 0)
    assert pyhanko_validates(data, [test_pki.cert("root")])

    report = verify_pdf(data)
    assert report.ok, report.summary_line()
    assert report.level == level and not report.demo_pki
    expected = {"integrity", "trust"} | ({"timestamp"} if level != "B-B" else set())
    expected |= {"ltv"} if level == "B-LTA" else set()
    assert {c.name for c in report.checks} == expected
    if level == "B-B":
        assert signing.timestamp_expiry(data) is None
    else:
        assert signing.timestamp_expiry(data) == test_pki.cert("tsa").not_valid_after


def test_signed_pdf_fields(unsigned_pdf, signing_settings, test_pki) -> None:
    result = signing.sign_pdf(unsigned_pdf)  # the level from settings: B-LTA
    assert result.level == "B-LTA" and result.demo_pki is False
    assert result.timestamp_expires_at == test_pki.cert("tsa").not_valid_after
    assert result.pdf.startswith(unsigned_pdf)  # an incremental update: the original intact


def test_b_lt(unsigned_pdf, signing_settings, test_pki) -> None:
    result = signing.sign_pdf(unsigned_pdf, level="B-LT")
    reader = PdfFileReader(io.BytesIO(result.pdf))
    assert "/DSS" in reader.root and not reader.embedded_timestamp_signatures
    assert verify_pdf(result.pdf).ok


def test_key_parsed_once_and_no_dry_run(unsigned_pdf, signing_settings, monkeypatch) -> None:
    """SimpleSigner parses the key for every signature (~60 ms each); ours once."""
    from cryptography.hazmat.primitives import serialization

    signing.clear_caches()
    parses: list[int] = []
    dry_runs: list[int] = []
    real_load = serialization.load_der_private_key
    real_estimate = PdfSigningSession.estimate_signature_container_size

    def counting_load(*args, **kwargs):
        parses.append(1)
        return real_load(*args, **kwargs)

    async def counting_estimate(self, *args, **kwargs):
        dry_runs.append(1)
        return await real_estimate(self, *args, **kwargs)

    monkeypatch.setattr(serialization, "load_der_private_key", counting_load)
    monkeypatch.setattr(PdfSigningSession, "estimate_signature_container_size", counting_estimate)
    for _ in range(3):
        signing.sign_pdf(unsigned_pdf, level="B-B")
    assert len(parses) == 1  # CachedKeySigner.__init__, never per signature
    assert len(dry_runs) == 1  # the first signature learns the reservation
    assert signing.get_signer() is signing.get_signer()


def test_pyhanko_internals_we_rely_on() -> None:
    """Fail loudly on a pyHanko upgrade that moves what records.signing overrides."""
    assert version("pyHanko").startswith("0.38.")
    params = list(inspect.signature(signers.SimpleSigner.sign_raw).parameters)
    assert params == ["self", "data", "digest_algorithm"]
    init = inspect.signature(signers.SimpleSigner.__init__).parameters
    assert {"signing_cert", "signing_key", "cert_registry"} <= set(init)
    assert callable(signers.SimpleSigner.get_signature_mechanism_for_digest)
    load = inspect.signature(signers.SimpleSigner.load_pkcs12_data).parameters
    assert {"pkcs12_bytes", "other_certs", "passphrase"} <= set(load)
    # the async path still goes through sign_raw (what CachedKeySigner overrides)
    assert "self.sign_raw(" in inspect.getsource(signers.SimpleSigner.async_sign_raw)
    tst = list(inspect.signature(timestamps.DummyTimeStamper._sign_tst_info).parameters)
    assert tst == ["self", "tst_info_data", "md_algorithm", "dt"]
    assert "self._sign_tst_info(" in inspect.getsource(timestamps.DummyTimeStamper)
    assert "bytes_reserved" in inspect.signature(PdfSigner.async_sign_pdf).parameters
    from pyhanko.sign.signers import pdf_byterange

    assert "Final ByteRange payload larger than expected" in inspect.getsource(pdf_byterange)
    chain = inspect.signature(PdfTimeStamper.async_update_archival_timestamp_chain).parameters
    assert {"reader", "validation_context", "in_place", "output"} <= set(chain)


def test_reservation_too_small_is_retried(unsigned_pdf, signing_settings) -> None:
    signing._reservations.clear()  # what other tests in this process signed with
    signing.sign_pdf(unsigned_pdf, level="B-B")
    (key,) = [k for k in signing._reservations if k[1] == "B-B"]
    signing._reservations[key] = 1000  # far too small for the CMS
    result = signing.sign_pdf(unsigned_pdf, level="B-B")
    assert verify_pdf(result.pdf).ok
    assert signing._reservations[key] > 1000  # learnt again


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("where", ["closed port", "404"])
def test_tsa_down_is_unavailable(unsigned_pdf, settings, signing_settings, test_pki, where):
    url = (
        f"http://127.0.0.1:{_closed_port()}/tsa"
        if where == "closed port"
        else f"{test_pki.url_prefix}/no-such-tsa"
    )
    settings.SIGNING = {**signing_settings, "TSA_URL": url}
    with pytest.raises(signing.SigningUnavailable):
        signing.sign_pdf(unsigned_pdf, level="B-T")


def test_revocation_server_down_is_unavailable(unsigned_pdf, settings, tmp_path, test_pki):
    """B-LTA needs OCSP/CRL; the signer's AIA points at the loopback server. A PKI whose
    server was never started answers nothing: that is transient, not a bad config."""
    from tests.records.conftest import pki_settings

    down = pki.LoopbackTestPKI(tmp_path / "down")  # not started
    try:
        for name, value in pki_settings(down, TSA_URL=test_pki.tsa_url).items():
            setattr(settings, name, value)
        with pytest.raises(signing.SigningUnavailable):
            signing.sign_pdf(unsigned_pdf, level="B-LTA")
    finally:
        down.stop()


def test_bad_key_configuration(unsigned_pdf, settings, signing_settings, tmp_path) -> None:
    settings.SIGNING = {**signing_settings, "PKCS12_PASSPHRASE": "wrong"}
    with pytest.raises(signing.SigningConfigError, match="PKCS#12"):
        signing.sign_pdf(unsigned_pdf, level="B-B")
    settings.SIGNING = {**signing_settings, "PKCS12_PATH": str(tmp_path / "missing.p12")}
    with pytest.raises(signing.SigningConfigError, match="init_pki"):
        signing.sign_pdf(unsigned_pdf, level="B-B")
    settings.SIGNING = {**signing_settings, "LEVEL": "B-X"}
    with pytest.raises(signing.SigningConfigError):
        signing.sign_pdf(unsigned_pdf)


def test_sync_api_refuses_inside_a_running_loop(unsigned_pdf, signing_settings) -> None:
    async def inside() -> signing.SignedPdf:
        with pytest.raises(RuntimeError, match="asign_pdf"):
            signing.sign_pdf(unsigned_pdf, level="B-B")
        return await signing.asign_pdf(unsigned_pdf, level="B-B")

    assert asyncio.run(inside()).level == "B-B"


def test_one_changed_byte_is_invalid(signed, signing_settings, test_pki) -> None:
    bad = tamper_one_byte(signed["B-LTA"])
    assert sum(a != b for a, b in zip(bad, signed["B-LTA"], strict=True)) == 1
    sig = PdfFileReader(io.BytesIO(bad)).embedded_signatures[0]
    vc = ValidationContext(trust_roots=[test_pki.cert("root")])
    status = validate_pdf_signature(sig, signer_validation_context=vc)
    assert not status.intact and not status.bottom_line
    report = verify_pdf(bad)
    assert not report.ok and not report.check("integrity").ok
    assert report.check("ltv") is not None and not report.check("ltv").ok


def test_init_pki_then_sign_with_the_defaults_offline(
    unsigned_pdf, settings, tmp_path, monkeypatch
) -> None:
    """The out-of-the-box path: demo CA, in-process TSA, embedded CRL — no network."""
    import aiohttp

    settings.PKI_DIR = tmp_path / "pki"
    settings.SIGNING = {
        **settings.SIGNING,
        "LEVEL": "B-LTA",
        "PKCS12_PATH": str(settings.PKI_DIR / "signer.p12"),
        "PKCS12_PASSPHRASE": "",
        "PKCS11_MODULE": "",
        "TSA_URL": "",
        "TRUST_ROOTS": [],
    }
    out = io.StringIO()
    call_command("init_pki", stdout=out)
    assert "DEMO PKI — NOT TRUSTED" in out.getvalue()
    for name in (pki.SIGNER_P12, pki.TSA_KEY):
        assert (settings.PKI_DIR / name).stat().st_mode & 0o777 == 0o600
    assert not list(settings.PKI_DIR.glob("root.key*"))  # the CA key is not kept
    root = (settings.PKI_DIR / pki.ROOT_CERT).read_bytes()
    out = io.StringIO()
    call_command("init_pki", stdout=out)  # idempotent
    assert "already" in out.getvalue()
    assert (settings.PKI_DIR / pki.ROOT_CERT).read_bytes() == root

    async def no_network(*args, **kwargs):
        raise AssertionError("the demo PKI must not touch the network")

    monkeypatch.setattr(aiohttp.ClientSession, "_request", no_network)
    result = signing.sign_pdf(unsigned_pdf)
    assert result.level == "B-LTA" and result.demo_pki
    report = verify_pdf(result.pdf)
    assert report.ok and report.demo_pki, report.summary_line()
    assert report.check("integrity").ok and report.check("ltv").ok
    assert DEMO_WARNING in report.check("trust").detail
    assert "DEMO" in report.summary_line()

    call_command("init_pki", "--force", verbosity=0)
    assert (settings.PKI_DIR / pki.ROOT_CERT).read_bytes() != root
    assert not verify_pdf(result.pdf).check("trust").ok  # old demo signatures: new root


def test_pkcs11_with_softhsm(
    unsigned_pdf, settings, signing_settings, test_pki, tmp_path, monkeypatch
):
    """The PKCS#11 path with SoftHSM (Debian softhsm2, installed by .ci/run) and
    python-pkcs11 (pyHanko[pkcs11])."""
    import pkcs11

    module = "/usr/lib/softhsm/libsofthsm2.so"
    util = need_binary("softhsm2-util")
    if not os.path.exists(module):
        missing_service(f"SoftHSM's PKCS#11 module {module} (Debian softhsm2)")
    conf = tmp_path / "softhsm2.conf"
    (tmp_path / "tokens").mkdir()
    conf.write_text(f"directories.tokendir = {tmp_path / 'tokens'}\nobjectstore.backend = file\n")
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))  # read when the module is loaded
    label = f"records-{tmp_path.name}"[:32]
    run = [util, "--pin", "1234"]
    subprocess.run(
        [*run, "--init-token", "--free", "--label", label, "--so-pin", "5678"],
        check=True,
        env=env,
        capture_output=True,
    )
    subprocess.run(
        [
            *run,
            "--import",
            str(test_pki.dir / "signer.key.pem"),
            "--token",
            label,
            "--label",
            "signer",
            "--id",
            "01",
        ],
        check=True,
        env=env,
        capture_output=True,
    )
    from pkcs11 import Attribute, CertificateType, ObjectClass

    token = pkcs11.lib(module).get_token(token_label=label)
    with token.open(rw=True, user_pin="1234") as session:
        for cert_label, cert_id in (("signer", b"\x01"), ("interm", b"\x02")):
            cert = test_pki.cert(cert_label)
            session.create_object(
                {
                    Attribute.CLASS: ObjectClass.CERTIFICATE,
                    Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                    Attribute.TOKEN: True,
                    Attribute.LABEL: cert_label,
                    Attribute.ID: cert_id,
                    Attribute.VALUE: cert.dump(),
                    Attribute.SUBJECT: cert.subject.dump(),
                }
            )
    p11 = {
        "PKCS11_MODULE": module,
        "PKCS11_TOKEN_LABEL": label,
        "PKCS11_KEY_LABEL": "signer",
        "PKCS11_PIN": "1234",
    }
    settings.SIGNING = {**signing_settings, **p11}
    result = signing.sign_pdf(unsigned_pdf, level="B-LTA")
    assert verify_pdf(result.pdf).ok
    assert signing.get_signer() is signing.get_signer()  # one session per process
    settings.SIGNING = {**signing_settings, **p11, "PKCS11_KEY_LABEL": "nobody"}
    with pytest.raises(signing.SigningConfigError, match="PKCS#11"):
        signing.sign_pdf(unsigned_pdf, level="B-B")

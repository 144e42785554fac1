"""PAdES signatures of records (B-B, B-T, B-LT, B-LTA) and archival-timestamp renewal.

The one module that signs with pyHanko (0.38 is pinned: its API moved in 0.35 and 0.37).
Configuration is `settings.SIGNING` (docs/signing.md); the demo PKI of `manage.py init_pki`
is used when nothing else is configured, and everything it signs says so (`demo_pki`).

The async functions do the work (pyHanko's network I/O is aiohttp); the sync ones call
`asyncio.run` and refuse to run inside an event loop: from async code, await `asign_pdf`.

What makes it fast (measured in docs/signing.md and bench/signing.py):
- the signing key is parsed once per process (`SimpleSigner` parses it again for every
  signature, and `cryptography` checks an RSA key in full on each load: ~60 ms);
- the /Contents reservation is learnt from the first signature of each level, so later
  ones skip pyHanko's dry-run signature (retried with an estimate if ever too small);
- one `HTTPTimeStamper` per TSA URL, reused (it caches the token used for sizing).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import logging
import re
import threading
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from asn1crypto import cms, crl, x509
from django.conf import settings
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.general import SigningError, get_pyca_cryptography_hash
from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko_certvalidator import ValidationContext

from . import pki

log = logging.getLogger(__name__)

LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")
FIELD_NAME = "Signature1"
TSA_TIMEOUT_SECONDS = 15

T = TypeVar("T")


class RecordSigningError(Exception):
    pass


class SigningUnavailable(RecordSigningError):
    """A service the signature needs (TSA, OCSP, CRL) is unreachable or erring: retry later."""


class SigningConfigError(RecordSigningError):
    """The configuration is wrong (no key, bad passphrase, no TSA, untrusted signer)."""


class RenewalError(RecordSigningError):
    """The archival timestamp chain cannot be extended (already broken, or no LT data)."""


@dataclass(frozen=True)
class SignedPdf:
    pdf: bytes
    level: str
    demo_pki: bool
    # When the certificate of the newest timestamp's TSA expires: renew before then.
    timestamp_expires_at: dt.datetime | None


# --- the signing key ------------------------------------------------------------------


class CachedKeySigner(signers.SimpleSigner):
    """A `SimpleSigner` that parses its private key once, not once per signature."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from cryptography.hazmat.primitives import serialization

        self._pyca_key = serialization.load_der_private_key(self.signing_key.dump(), password=None)

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        from cryptography.hazmat.primitives.asymmetric.ec import ECDSA, EllipticCurvePrivateKey
        from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
        from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
        try:
            algo = mechanism.signature_algo
        except ValueError:
            algo = mechanism["algorithm"].native
        key = self._pyca_key
        if algo == "rsassa_pkcs1v15" and isinstance(key, RSAPrivateKey):
            return key.sign(data, PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm))
        if algo == "ecdsa" and isinstance(key, EllipticCurvePrivateKey):
            return key.sign(data, ECDSA(get_pyca_cryptography_hash(digest_algorithm)))
        return super().sign_raw(data, digest_algorithm)  # PSS, EdDSA…: pyHanko's own way

    @classmethod
    def from_pkcs12(cls, data: bytes, passphrase: bytes | None) -> CachedKeySigner:
        # load_pkcs12_data raises on a bad file or passphrase (load_pkcs12 returns None).
        loaded = signers.SimpleSigner.load_pkcs12_data(data, other_certs=[], passphrase=passphrase)
        return cls(
            signing_cert=loaded.signing_cert,
            signing_key=loaded.signing_key,
            cert_registry=loaded.cert_registry,
        )


class _CachedKeyDummyTimeStamper(timestamps.DummyTimeStamper):
    """The demo PKI's in-process TSA, with its key parsed once (as a real TSA keeps it)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from cryptography.hazmat.primitives import serialization

        self._pyca_key = serialization.load_der_private_key(self.tsa_key.dump(), password=None)

    def _sign_tst_info(
        self, tst_info_data: bytes, md_algorithm: str, dt: dt.datetime
    ) -> tuple[bytes, cms.CMSAttributes]:
        from asn1crypto import core
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
        from pyhanko.sign import general

        md = hashes.Hash(get_pyca_cryptography_hash(md_algorithm))
        md.update(tst_info_data)
        signed_attrs = cms.CMSAttributes(
            [
                general.simple_cms_attribute("content_type", "tst_info"),
                general.simple_cms_attribute(
                    "signing_time", cms.Time({"utc_time": core.UTCTime(dt)})
                ),
                general.simple_cms_attribute(
                    "signing_certificate", general.as_signing_certificate(self.tsa_cert)
                ),
                general.simple_cms_attribute("message_digest", md.finalize()),
            ]
        )
        signature = self._pyca_key.sign(
            signed_attrs.dump(), PKCS1v15(), get_pyca_cryptography_hash(md_algorithm)
        )
        return signature, signed_attrs


_lock = threading.Lock()
_signers: dict[tuple[Any, ...], signers.Signer] = {}
_timestampers: dict[tuple[Any, ...], timestamps.TimeStamper] = {}
_certs: dict[tuple[Any, ...], Any] = {}
# hex characters to reserve for /Contents, learnt per (signer, level, TSA)
_reservations: dict[tuple[Any, ...], int] = {}


def _file_key(path: str | Path) -> tuple[str, int, int]:
    st = Path(path).stat()
    return (str(path), st.st_mtime_ns, st.st_size)


def clear_caches() -> None:
    """Forget every loaded key, timestamper and certificate (tests; key rotation)."""
    with _lock:
        _signers.clear()
        _timestampers.clear()
        _certs.clear()
        _reservations.clear()


def _conf() -> dict[str, Any]:
    return settings.SIGNING


def _pki_dir() -> Path:
    return Path(settings.PKI_DIR)


def get_signer() -> signers.Signer:
    """The organisation's signer, loaded once per process (reloaded when the file changes)."""
    conf = _conf()
    if conf.get("PKCS11_MODULE"):
        return _pkcs11_signer(conf)
    path = conf.get("PKCS12_PATH") or str(_pki_dir() / pki.SIGNER_P12)
    passphrase = (conf.get("PKCS12_PASSPHRASE") or "").encode() or None
    try:
        key = ("p12", *_file_key(path), hashlib.sha256(passphrase or b"").hexdigest())
    except OSError as exc:
        raise SigningConfigError(
            f"署名鍵（PKCS#12）が読めません (cannot read the signing key {path}: {exc}); "
            "run `manage.py init_pki` for a demo key or set SIGNING_PKCS12_PATH"
        ) from exc
    with _lock:
        signer = _signers.get(key)
        if signer is None:
            try:
                signer = CachedKeySigner.from_pkcs12(Path(path).read_bytes(), passphrase)
            except (OSError, ValueError) as exc:
                raise SigningConfigError(
                    f"署名鍵を読み込めません (cannot load the PKCS#12 file {path}: wrong "
                    f"passphrase or not a PKCS#12 file: {exc})"
                ) from exc
            _signers.clear()  # an old key (rotated file) is not kept around
            _signers[key] = signer
        return signer


def _pkcs11_signer(conf: dict[str, Any]) -> signers.Signer:
    module = conf["PKCS11_MODULE"]
    token_label = conf.get("PKCS11_TOKEN_LABEL") or None
    key_label = conf.get("PKCS11_KEY_LABEL") or None
    pin = conf.get("PKCS11_PIN") or None
    try:
        key = ("p11", *_file_key(module), token_label, key_label)
    except OSError as exc:
        raise SigningConfigError(f"PKCS#11 モジュールがありません ({module}: {exc})") from exc
    with _lock:
        signer = _signers.get(key)
        if signer is not None:
            return signer
        try:
            from pyhanko.config.pkcs11 import TokenCriteria
            from pyhanko.sign import pkcs11 as p11
        except ImportError as exc:
            raise SigningConfigError(
                "PKCS#11 needs python-pkcs11: install pyHanko[pkcs11] (docs/signing.md)"
            ) from exc
        try:
            session = p11.open_pkcs11_session(
                module, token_criteria=TokenCriteria(label=token_label), user_pin=pin
            )
            signer = p11.PKCS11Signer(
                session, key_label=key_label, cert_label=key_label, other_certs_to_pull=None
            )
            signer.signing_cert  # noqa: B018 - loads the certificate now: fail here, not later
        except Exception as exc:  # PKCS11Error, NoSuchKey, PinIncorrect … from python-pkcs11
            raise SigningConfigError(
                f"PKCS#11 トークンの鍵を使えません (cannot use the key {key_label!r} on token "
                f"{token_label!r} via {module}: {type(exc).__name__}: {exc})"
            ) from exc
        _signers.clear()
        _signers[key] = signer
        return signer


def _load_certs(paths: Iterable[str | Path]) -> list[x509.Certificate]:
    from pyhanko.keys import load_certs_from_pemder

    paths = [str(p) for p in paths]
    try:
        key = ("certs", *(_file_key(p) for p in paths))
    except OSError as exc:
        raise SigningConfigError(f"証明書ファイルが読めません (cannot read {exc})") from exc
    with _lock:
        found = _certs.get(key)
        if found is None:
            try:
                found = _certs[key] = list(load_certs_from_pemder(paths))
            except (OSError, ValueError) as exc:
                raise SigningConfigError(
                    f"証明書ファイルが不正です (bad certificate: {exc})"
                ) from exc
        return found


def trust_roots() -> list[x509.Certificate]:
    """SIGNING["TRUST_ROOTS"], else the demo root of PKI_DIR (if there is one)."""
    configured = _conf().get("TRUST_ROOTS") or []
    if configured:
        return _load_certs(configured)
    demo_root = _pki_dir() / pki.ROOT_CERT
    return _load_certs([demo_root]) if demo_root.exists() else []


def _demo_crls() -> list[crl.CertificateList]:
    path = _pki_dir() / pki.ROOT_CRL
    try:
        key = ("crl", *_file_key(path))
    except OSError:
        return []
    with _lock:
        found = _certs.get(key)
        if found is None:
            found = _certs[key] = [crl.CertificateList.load(path.read_bytes())]
        return found


def get_timestamper(*, demo: bool) -> timestamps.TimeStamper:
    """SIGNING["TSA_URL"]; empty: the demo PKI's in-process TSA (demo signer only)."""
    url = _conf().get("TSA_URL") or ""
    if url:
        key: tuple[Any, ...] = ("http", url)
        with _lock:
            ts = _timestampers.get(key)
            if ts is None:
                # No session: each request opens a short-lived one, so the instance can be
                # shared across asyncio.run() calls and threads.
                ts = _timestampers[key] = timestamps.HTTPTimeStamper(
                    url, timeout=TSA_TIMEOUT_SECONDS
                )
            return ts
    if not demo:
        raise SigningConfigError(
            "タイムスタンプ局が設定されていません (SIGNING_TSA_URL is empty; the in-process "
            "TSA is only for the demo PKI)"
        )
    cert_path, key_path = _pki_dir() / pki.TSA_CERT, _pki_dir() / pki.TSA_KEY
    try:
        key = ("demo", *_file_key(cert_path), *_file_key(key_path))
    except OSError as exc:
        raise SigningConfigError(
            f"デモ用 TSA の鍵がありません (run `manage.py init_pki`: {exc})"
        ) from exc
    with _lock:
        ts = _timestampers.get(key)
        if ts is None:
            from pyhanko.keys import load_cert_from_pemder, load_private_key_from_pemder

            ts = _timestampers[key] = _CachedKeyDummyTimeStamper(
                tsa_cert=load_cert_from_pemder(str(cert_path)),
                tsa_key=load_private_key_from_pemder(str(key_path), passphrase=None),
            )
        return ts


def _is_demo(signer: signers.Signer) -> bool:
    cert = signer.signing_cert
    return cert is not None and pki.is_demo_certificate(cert)


def _validation_context(signer: signers.Signer, *, demo: bool) -> ValidationContext:
    """For B-LT/B-LTA: pyHanko validates the signer (and TSA) chain and embeds what it used.

    Hard-fail: a file is never called long-term without its revocation data. The demo PKI
    brings its own CRL and fetches nothing."""
    roots = trust_roots()
    if not roots:
        raise SigningConfigError(
            "信頼点が設定されていません (no trust roots: set SIGNING_TRUST_ROOTS)"
        )
    other = list(signer.cert_registry) if signer.cert_registry is not None else []
    if demo:
        return ValidationContext(
            trust_roots=roots,
            other_certs=other,
            crls=_demo_crls(),
            allow_fetching=False,
            revocation_mode="hard-fail",
        )
    return ValidationContext(
        trust_roots=roots, other_certs=other, allow_fetching=True, revocation_mode="hard-fail"
    )


# --- signing ---------------------------------------------------------------------------


def _metadata(level: str, vc: ValidationContext | None) -> signers.PdfSignatureMetadata:
    long_term = level in ("B-LT", "B-LTA")
    return signers.PdfSignatureMetadata(
        field_name=FIELD_NAME,
        md_algorithm="sha256",  # an automatic choice may pick SHA-384 and bump PDF to 2.0
        subfilter=fields.SigSeedSubFilter.PADES,
        embed_validation_info=long_term,
        use_pades_lta=level == "B-LTA",
        validation_context=vc if long_term else None,
        signer_key_usage={"non_repudiation"},
    )


_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]")


def _reserved_in(out: bytes, start: int) -> int | None:
    """The hex characters pyHanko reserved for the first signature written after `start`."""
    m = _BYTE_RANGE.search(out, start)
    return int(m.group(3)) - int(m.group(2)) - 2 if m else None


def _running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _run(coro: Coroutine[Any, Any, T], name: str) -> T:
    if _running_loop():
        coro.close()
        raise RuntimeError(f"{name}() inside a running event loop: await a{name}() instead")
    return asyncio.run(coro)


def _translate(exc: BaseException, what: str) -> RecordSigningError:
    """Transient (retry later) or configuration (a person must act)?"""
    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in chain:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    text = " / ".join(f"{type(e).__name__}: {e}" for e in chain)[:1000]
    import aiohttp
    from pyhanko_certvalidator import errors as cv_errors

    for e in chain:
        if isinstance(
            e,
            TimestampRequestError
            | aiohttp.ClientError
            | OSError
            | TimeoutError
            | cv_errors.CertificateFetchError
            | cv_errors.CRLFetchError
            | cv_errors.OCSPFetchError,
        ):
            return SigningUnavailable(f"{what}: TSA/OCSP/CRL に接続できません ({text})")
        if isinstance(e, cv_errors.InsufficientRevinfoError):
            return SigningUnavailable(f"{what}: 失効情報を取得できません ({text})")
        if isinstance(e, cv_errors.RevokedError | cv_errors.PathBuildingError):
            return SigningConfigError(f"{what}: 署名者の証明書が信頼できません ({text})")
    if "revocation" in text.lower() or "fetch" in text.lower():
        return SigningUnavailable(f"{what}: 失効情報を確認できません ({text})")
    return SigningConfigError(f"{what}: {text}")


async def asign_pdf(pdf: bytes, *, level: str | None = None) -> SignedPdf:
    """Sign `pdf` as the organisation (PAdES, SHA-256, ETSI.CAdES.detached).

    Raises SigningUnavailable (retry with backoff) or SigningConfigError (flag it)."""
    level = level or _conf().get("LEVEL") or "B-LTA"
    if level not in LEVELS:
        raise SigningConfigError(f"unknown PAdES level {level!r}: one of {', '.join(LEVELS)}")
    signer = get_signer()
    demo = _is_demo(signer)
    ts = get_timestamper(demo=demo) if level != "B-B" else None
    vc = _validation_context(signer, demo=demo) if level in ("B-LT", "B-LTA") else None
    pdf_signer = signers.PdfSigner(_metadata(level, vc), signer, timestamper=ts)
    rkey = (signer.signing_cert.sha256, level, getattr(ts, "url", type(ts).__name__))
    reserved = _reservations.get(rkey)
    try:
        try:
            out = await pdf_signer.async_sign_pdf(
                IncrementalPdfFileWriter(io.BytesIO(pdf)), bytes_reserved=reserved
            )
        except SigningError as exc:
            # 0.38: "Final ByteRange payload larger than expected: allocated N bytes, …"
            if reserved is None or "larger than expected" not in str(exc):
                raise
            log.info("signature reservation of %s too small; estimating again", reserved)
            reserved = None
            out = await pdf_signer.async_sign_pdf(
                IncrementalPdfFileWriter(io.BytesIO(pdf)), bytes_reserved=None
            )
    except RecordSigningError:
        raise
    except Exception as exc:
        raise _translate(exc, "署名できません (signing failed)") from exc
    finally:
        if vc is not None:
            await vc.aclose()  # the aiohttp session belongs to this loop
    data = out.getvalue()
    if reserved is None:
        learnt = _reserved_in(data, len(pdf))
        if learnt:
            _reservations[rkey] = learnt  # pyHanko's own estimate, margin included
    return SignedPdf(
        pdf=data, level=level, demo_pki=demo, timestamp_expires_at=timestamp_expiry(data)
    )


def sign_pdf(pdf: bytes, *, level: str | None = None) -> SignedPdf:
    """Sync `asign_pdf` for worker threads and commands (not inside an event loop)."""
    return _run(asign_pdf(pdf, level=level), "sign_pdf")


# --- reading timestamps back -----------------------------------------------------------


@dataclass(frozen=True)
class TimestampInfo:
    kind: str  # "signature" (in the CMS) or "document" (a /DocTimeStamp)
    at: dt.datetime
    tsa_cert: x509.Certificate

    @property
    def expires_at(self) -> dt.datetime:
        return self.tsa_cert.not_valid_after


def _tst_info(signed_data: cms.SignedData) -> tuple[dt.datetime, x509.Certificate]:
    from pyhanko.sign.validation.generic_cms import extract_certs_for_validation

    gen_time = signed_data["encap_content_info"]["content"].parsed["gen_time"].native
    return gen_time, extract_certs_for_validation(signed_data).signer_cert


def signature_timestamp(embedded_sig: Any) -> TimestampInfo | None:
    attrs = embedded_sig.signer_info["unsigned_attrs"]
    if attrs.native is None:
        return None
    for attr in attrs:
        if attr["type"].native == "signature_time_stamp_token":
            at, cert = _tst_info(attr["values"][0]["content"])
            return TimestampInfo("signature", at, cert)
    return None


def timestamps_of(reader: PdfFileReader) -> list[TimestampInfo]:
    """Every timestamp in the file, oldest first (signature timestamps, then the chain)."""
    found: list[TimestampInfo] = []
    for sig in reader.embedded_regular_signatures:
        info = signature_timestamp(sig)
        if info is not None:
            found.append(info)
    for sig in reader.embedded_timestamp_signatures:
        at, cert = _tst_info(sig.signed_data)
        found.append(TimestampInfo("document", at, cert))
    return found


def newest_timestamp(pdf: bytes) -> TimestampInfo | None:
    found = timestamps_of(PdfFileReader(io.BytesIO(pdf)))
    return found[-1] if found else None


def timestamp_expiry(pdf: bytes) -> dt.datetime | None:
    """When the certificate of the newest timestamp's TSA expires (None: no timestamp)."""
    newest = newest_timestamp(pdf)
    return newest.expires_at if newest else None


def level_of(reader: PdfFileReader) -> str:
    regular = reader.embedded_regular_signatures
    if not regular:
        return ""
    has_dss = "/DSS" in reader.root
    if reader.embedded_timestamp_signatures and has_dss:
        return "B-LTA"
    if has_dss:
        return "B-LT"
    return "B-T" if signature_timestamp(regular[-1]) is not None else "B-B"


# --- renewal ---------------------------------------------------------------------------


async def arenew_timestamp(pdf: bytes) -> SignedPdf:
    """Add the validation data of the newest timestamp and a new document timestamp.

    Refuses (RenewalError) when the newest timestamp's TSA certificate has expired or no
    longer validates: pyHanko 0.38 would extend such a chain without complaint, and the
    new timestamp would then protect nothing. Anything but B-LTA (B-B, B-T, B-LT) is refused
    too: a document timestamp cannot add the signer's revocation data after the fact, and
    a B-LT's revocation data was never timestamped (measured: a B-LT given its first
    document timestamp later does not pass AdES LTA validation)."""
    reader = PdfFileReader(io.BytesIO(pdf))
    regular = reader.embedded_regular_signatures
    if not regular:
        raise RenewalError("署名がありません (the file has no signature)")
    level = level_of(reader)
    if level != "B-LTA":
        # B-B/B-T carry no revocation data; a B-LT's was never timestamped, and a document
        # timestamp added later (after the OCSP answer went stale) does not validate.
        raise RenewalError(
            f"{level} は更新できません (only B-LTA files are renewed; this one is {level})"
        )
    newest = newest_timestamp(pdf)
    now = dt.datetime.now(dt.UTC)
    if newest is None or newest.expires_at <= now:
        expired = newest.expires_at.isoformat() if newest else "?"
        raise RenewalError(
            f"最新のタイムスタンプの証明書は期限切れです (the newest timestamp's TSA certificate "
            f"expired {expired}): the chain is broken and cannot be renewed"
        )
    demo = pki.is_demo_certificate(regular[0].signer_cert)
    ts = get_timestamper(demo=demo)
    roots = trust_roots()
    if not roots:
        raise SigningConfigError("信頼点が設定されていません (no trust roots)")
    if demo:
        vc = ValidationContext(
            trust_roots=roots, crls=_demo_crls(), allow_fetching=False, revocation_mode="hard-fail"
        )
    else:
        vc = ValidationContext(trust_roots=roots, allow_fetching=True, revocation_mode="hard-fail")
    try:
        from pyhanko.sign.validation import async_validate_pdf_timestamp

        doc_ts = reader.embedded_timestamp_signatures
        if doc_ts:
            status = await async_validate_pdf_timestamp(doc_ts[-1], validation_context=vc)
            if not (status.intact and status.valid and status.trusted):
                raise RenewalError(
                    "最新の文書タイムスタンプを検証できません (the newest document timestamp "
                    f"does not validate): {status.summary()}"
                )
        out = io.BytesIO()
        await PdfTimeStamper(ts).async_update_archival_timestamp_chain(
            PdfFileReader(io.BytesIO(pdf)), vc, in_place=False, output=out
        )
    except RecordSigningError:
        raise
    except Exception as exc:
        raise _translate(exc, "タイムスタンプを更新できません (renewal failed)") from exc
    finally:
        await vc.aclose()
    data = out.getvalue()
    return SignedPdf(
        pdf=data, level="B-LTA", demo_pki=demo, timestamp_expires_at=timestamp_expiry(data)
    )


def renew_timestamp(pdf: bytes) -> SignedPdf:
    return _run(arenew_timestamp(pdf), "renew_timestamp")

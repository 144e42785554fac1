"""Verifying a signed record from what the file itself carries (no network).

Checks, each with a detail in Japanese and English:
- sha256: the bytes are the ones the record stored (when the caller knows the digest);
- integrity: every signature and document timestamp is intact and covers its revision,
  and nothing but LTA updates (DSS, document timestamps) was added after signing;
- trust: the signer's certificate chains to a trust root (SIGNING["TRUST_ROOTS"], else
  the demo root) at the time of signing;
- timestamp (B-T and up): every timestamp intact, the newest one trusted now;
- ltv (B-LT, B-LTA): ETSI EN 319 102-1 long-term validation (pyHanko's AdES LTA path)
  from the embedded revocation data and document timestamps only, fetching nothing.

`at` is the validation time handed to pyHanko. pyHanko still reads the process clock in
places (its past-signature validation starts from `datetime.now()`), so a faithful answer
for another date needs the clock there too: the tests move it with time-machine.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko_certvalidator import ValidationContext

from . import pki
from .signing import (
    SigningConfigError,
    _run,
    level_of,
    signature_timestamp,
    timestamps_of,
    trust_roots,
)

log = logging.getLogger(__name__)

DEMO_WARNING = "デモ用認証局 — 信頼されていません (demo PKI — not trusted)"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class VerificationReport:
    ok: bool
    checks: list[Check]
    demo_pki: bool
    level: str
    signed_at: dt.datetime | None
    verified_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def check(self, name: str) -> Check | None:
        return next((c for c in self.checks if c.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "level": self.level,
            "demo_pki": self.demo_pki,
            "signed_at": self.signed_at.isoformat() if self.signed_at else None,
            "verified_at": self.verified_at.isoformat(),
            "checks": [asdict(c) for c in self.checks],
        }

    def summary_line(self) -> str:
        marks = " ".join(f"{c.name}:{'ok' if c.ok else 'NG'}" for c in self.checks)
        parts = ["OK  " if self.ok else "FAIL", self.level or "-", marks]
        if self.demo_pki:
            parts.append("[DEMO PKI — NOT TRUSTED]")
        failed = [c for c in self.checks if not c.ok]
        if failed:
            parts.append("— " + "; ".join(f"{c.name}: {c.detail}" for c in failed))
        return " ".join(parts)


def _report(
    checks: list[Check], *, demo: bool = False, level: str = "", signed_at: dt.datetime | None
) -> VerificationReport:
    return VerificationReport(
        ok=bool(checks) and all(c.ok for c in checks),
        checks=checks,
        demo_pki=demo,
        level=level,
        signed_at=signed_at,
    )


def _embedded_vc(
    reader: PdfFileReader, roots: list, moment: dt.datetime | None, *, revinfo: bool = True
):
    """A validation context with the DSS contents (certificates only: `revinfo=False`),
    fetching nothing; missing revocation data is tolerated (soft-fail): "ltv" is strict."""
    from pyhanko.sign.validation.dss import DocumentSecurityStore, NoDSSFoundError

    kwargs: dict[str, Any] = {
        "trust_roots": roots,
        "allow_fetching": False,
        "revocation_mode": "soft-fail",
        "moment": moment,
    }
    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except NoDSSFoundError:
        return ValidationContext(**kwargs)
    if revinfo:
        return dss.as_validation_context(kwargs)
    return ValidationContext(other_certs=list(dss.load_certs()), **kwargs)


def _ades_spec(roots: list, reader: PdfFileReader, when: dt.datetime):
    from pyhanko.sign.validation.policy_decl import (
        CertificateFetchingRule,
        LocalKnowledge,
        PdfSignatureValidationSpec,
        RevinfoOnlineFetchingRule,
        RevocationInfoGatheringSpec,
        SignatureValidationSpec,
    )
    from pyhanko_certvalidator import policy_decl as pd
    from pyhanko_certvalidator.context import CertValidationPolicySpec
    from pyhanko_certvalidator.registry import SimpleTrustManager

    # Offline there is no current revocation data for the newest document timestamp's
    # TSA certificate (the next renewal embeds it), so its status now is asserted, as
    # pyHanko's own simulate_future_ades_lta_validation does. Everything else, the
    # signer's chain and older timestamps, needs embedded revocation data.
    assertions = []
    doc_ts = reader.embedded_timestamp_signatures
    if doc_ts:
        assertions.append(pd.NonRevokedStatusAssertion(doc_ts[-1].signer_cert.sha256, at=when))
    trust = SimpleTrustManager.build(roots)
    return PdfSignatureValidationSpec(
        SignatureValidationSpec(
            CertValidationPolicySpec(
                trust_manager=trust,
                revinfo_policy=pd.CertRevTrustPolicy(
                    revocation_checking_policy=pd.REQUIRE_REVINFO,
                    freshness_req_type=pd.FreshnessReqType.MAX_DIFF_REVOCATION_VALIDATION,
                ),
            ),
            revinfo_gathering_policy=RevocationInfoGatheringSpec(
                online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY,
                certificate_fetching_rule=CertificateFetchingRule.NEVER_FETCH,
            ),
            local_knowledge=LocalKnowledge(nonrevoked_assertions=assertions),
        )
    )


def _fmt(t: dt.datetime | None) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ") if t else "?"


async def averify_pdf(
    pdf: bytes, *, expected_sha256: str | None = None, at: dt.datetime | None = None
) -> VerificationReport:
    from pyhanko.sign.diff_analysis import ModificationLevel
    from pyhanko.sign.validation import async_validate_pdf_signature, async_validate_pdf_timestamp
    from pyhanko.sign.validation.ades import ades_lta_validation
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator.ltv.types import ValidationTimingInfo

    checks: list[Check] = []
    if expected_sha256 is not None:
        actual = hashlib.sha256(pdf).hexdigest()
        same = actual == expected_sha256
        checks.append(
            Check(
                "sha256",
                same,
                "ファイルは登録時のものと同一 (file matches the stored SHA-256)"
                if same
                else f"ファイルが登録時と異なる (SHA-256 mismatch: stored {expected_sha256[:16]}…, "
                f"file {actual[:16]}…)",
            )
        )
    try:
        reader = PdfFileReader(io.BytesIO(pdf))
        regular = reader.embedded_regular_signatures
        doc_ts = reader.embedded_timestamp_signatures
    except Exception as exc:
        checks.append(Check("integrity", False, f"PDF を読めません (cannot read the PDF: {exc})"))
        return _report(checks, signed_at=None)
    if not regular:
        checks.append(Check("integrity", False, "署名がありません (the file has no signature)"))
        return _report(checks, signed_at=None)

    sig = regular[0]
    level = level_of(reader)
    demo = pki.is_demo_certificate(sig.signer_cert)
    sig_ts = signature_timestamp(sig)
    signed_at = sig_ts.at if sig_ts else sig.self_reported_timestamp
    when = at or dt.datetime.now(dt.UTC)
    try:
        roots = trust_roots()
        roots_problem = "信頼点が設定されていません (no trust roots configured)"
    except SigningConfigError as exc:
        roots, roots_problem = [], str(exc)

    # integrity + trust at the time of signing (pyHanko's quick validation)
    problems: list[str] = []
    status = None
    try:
        vc = _embedded_vc(reader, roots, signed_at if sig_ts else when)
        try:
            status = await async_validate_pdf_signature(sig, signer_validation_context=vc)
            for extra in regular[1:]:
                other = await async_validate_pdf_signature(extra, signer_validation_context=vc)
                if not (other.intact and other.valid):
                    problems.append(f"{extra.field_name}: {other.summary()}")
        finally:
            await vc.aclose()
    except Exception as exc:
        log.info("signature validation raised", exc_info=True)
        problems.append(f"{type(exc).__name__}: {exc}")
    if status is not None:
        if not (status.intact and status.valid):
            problems.append("署名値が一致しません (signature does not match the content)")
        if status.coverage is None or status.coverage < SignatureCoverageLevel.ENTIRE_REVISION:
            problems.append(f"署名の範囲が不完全 (coverage {status.coverage})")
        if status.modification_level is not None and (
            status.modification_level > ModificationLevel.LTA_UPDATES or not status.docmdp_ok
        ):
            problems.append(
                f"署名後に変更あり (modified after signing: {status.modification_level})"
            )
    ts_problems: list[str] = []
    newest_ts_ok: bool | None = None
    if doc_ts:
        # Each document timestamp is checked for integrity; the newest one also for its
        # chain and validity period at `when` (its revocation data only comes with the
        # next renewal, so none is asked for here).
        vc = _embedded_vc(reader, roots, when, revinfo=False)
        try:
            for i, ts_sig in enumerate(doc_ts):
                ts_status = await async_validate_pdf_timestamp(ts_sig, validation_context=vc)
                if not (ts_status.intact and ts_status.valid):
                    problems.append(
                        f"文書タイムスタンプ {i + 1} が壊れています (doc timestamp broken)"
                    )
                if i == len(doc_ts) - 1:
                    newest_ts_ok = ts_status.trusted
                    if not ts_status.trusted:
                        ts_problems.append(ts_status.summary())
        except Exception as exc:
            problems.append(f"{type(exc).__name__}: {exc}")
        finally:
            await vc.aclose()
    checks.append(
        Check(
            "integrity",
            not problems,
            "改ざんなし：署名と全タイムスタンプが完全 (intact: every signature and timestamp "
            "matches; only LTA updates after signing)"
            if not problems
            else "改ざんの疑い (integrity failure): " + "; ".join(problems),
        )
    )

    # trust
    cert = sig.signer_cert
    subject = cert.subject.human_friendly
    if not roots:
        checks.append(Check("trust", False, roots_problem))
    else:
        trusted = bool(status is not None and status.trusted)
        detail = (
            f"署名者 {subject} は信頼点に連なる (signer chains to a trust root at "
            f"{_fmt(signed_at if sig_ts else when)})"
            if trusted
            else f"署名者 {subject} を信頼できません (signer not trusted: "
            f"{status.summary() if status is not None else 'not validated'})"
        )
        if demo:
            detail = f"{DEMO_WARNING} — {detail}"
        checks.append(Check("trust", trusted, detail))

    # timestamps
    if level != "B-B":
        stamps = timestamps_of(reader)
        newest = stamps[-1] if stamps else None
        if newest_ts_ok is None:  # no document timestamp: the signature timestamp is newest
            tv = status.timestamp_validity if status is not None else None
            newest_ts_ok = bool(tv and tv.intact and tv.valid and tv.trusted)
            if not newest_ts_ok:
                ts_problems.append(tv.summary() if tv else "署名タイムスタンプなし (none)")
            if newest is not None and newest.expires_at <= when:
                newest_ts_ok = False
                ts_problems.append(f"TSA certificate expired {_fmt(newest.expires_at)}")
        checks.append(
            Check(
                "timestamp",
                bool(newest_ts_ok),
                f"タイムスタンプ {len(stamps)} 件、最新 {_fmt(newest.at if newest else None)}、"
                f"TSA 証明書期限 {_fmt(newest.expires_at if newest else None)} "
                f"({len(stamps)} timestamp(s); newest {_fmt(newest.at if newest else None)}, "
                f"its TSA certificate expires {_fmt(newest.expires_at if newest else None)})"
                + (
                    ""
                    if newest_ts_ok
                    else " — 信頼できません (not trusted): " + "; ".join(ts_problems)
                ),
            )
        )

    # long-term validation from embedded data only
    if level == "B-LTA" and roots:
        timing = ValidationTimingInfo(
            validation_time=when, best_signature_time=when, point_in_time_validation=at is not None
        )
        try:
            spec = _ades_spec(roots, reader, when)
            result = await ades_lta_validation(sig, spec, timing_info=timing)
            passed = result.ades_subindic.status.name == "PASSED"
            if passed:
                signed_at = result.best_signature_time or signed_at
                detail = (
                    f"長期検証に成功 (AdES LTA passed at {_fmt(when)}; signature existed at "
                    f"{_fmt(result.best_signature_time)}"
                    + (
                        f", evidence from {_fmt(result.oldest_evidence_record_timestamp)})"
                        if result.oldest_evidence_record_timestamp
                        else ")"
                    )
                )
            else:
                detail = (
                    f"長期検証に失敗 (AdES LTA: {result.ades_subindic}"
                    + (f": {result.failure_msg}" if result.failure_msg else "")
                    + ")"
                )
        except Exception as exc:
            log.info("AdES validation raised", exc_info=True)
            passed, detail = (
                False,
                f"長期検証できません (AdES LTA raised {type(exc).__name__}: {exc})",
            )
        checks.append(Check("ltv", passed, detail))

    return _report(checks, demo=demo, level=level, signed_at=signed_at)


def verify_pdf(
    pdf: bytes, *, expected_sha256: str | None = None, at: dt.datetime | None = None
) -> VerificationReport:
    """Sync `averify_pdf` (not inside an event loop)."""
    return _run(averify_pdf(pdf, expected_sha256=expected_sha256, at=at), "verify_pdf")

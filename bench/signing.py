"""PAdES signing and validation of records, against bare pyHanko in the same run.

What is measured, per document (medians, milliseconds):
- render: `records.rendering.render_record` of a synthetic 起案文書 (2+ pages, Japanese,
  embedded IPAex subset, an approval record with stamps); no floor;
- b_b / b_t / b_lta: `records.signing.sign_pdf(pdf, level=…)`. The floor is bare
  pyHanko on the same PDF with the same key in the same run: plain `signers.sign_pdf`
  with one `SimpleSigner` loaded once, the same `PdfSignatureMetadata` (PAdES, SHA-256,
  the same LT/LTA flags and a fresh validation context per signature on both sides) and
  the same `HTTPTimeStamper` instance. The ratio is what our wrapper costs (or saves:
  it keeps the parsed key and skips pyHanko's sizing dry run);
- verify_b_b / verify_b_t / verify_b_lta: `records.verification.verify_pdf`. The floor
  is pyHanko's own validation of the same file: `validate_pdf_signature` (B-B, B-T) or
  `ades_lta_validation` with the same offline policy (B-LTA). Ours does more (every
  timestamp, trust at signing time, the report), so expect a ratio above 1.

The PKI is `records.pki.LoopbackTestPKI`: certomancer's CA, OCSP responder, CRLs and TSA
served over HTTP on 127.0.0.1 in this process, keys made now, nothing else contacted.
Goals (the issue): b_lta within 1.2× of bare pyHanko, b_b ≤ 30 ms.
Runs interleave ours and the floor, alternating the order. `--quick`: 5 runs each.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LEVELS = ("B-B", "B-T", "B-LTA")
GOALS = {"b_b_ms": "<= 30 ms", "b_lta_ms": "ratio <= 1.2"}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 runs each, a smoke test")
    parser.add_argument("--runs", type=int, default=0, help="timed runs (default 30, quick 5)")
    args = parser.parse_args()
    args.runs = args.runs or (5 if args.quick else 30)
    return args


def measure(fns: dict[str, Callable[[], Any]], runs: int, warmup: int = 2) -> dict[str, float]:
    """Interleaved medians in ms (the order alternates so neither side gets warmer caches)."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for i in range(runs):
        for name in names if i % 2 == 0 else reversed(names):
            started = time.perf_counter_ns()
            fns[name]()
            times[name].append((time.perf_counter_ns() - started) / 1e6)
    return {name: statistics.median(samples) for name, samples in times.items()}


def synthetic_payload():
    from records.payload import ApprovalRow, RenderPayload

    now = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)
    body = "\n".join(
        [
            "標記について、下記のとおり実施してよろしいか伺います。",
            "",
            "１　目的　電子決裁の原本性を長期にわたり確保する。",
            "２　方式　PAdES-B-LTA（長期署名）による組織署名を付与する。",
            "３　期間　令和８年１２月１日から令和９年３月３１日まで",
        ]
        * 12
    )
    steps = [("回議", "係長", "鈴木"), ("回議", "課長補佐", "高橋"), ("決裁", "総務課長", "山田")]
    approvals = [
        ApprovalRow(
            stage=stage,
            post=f"総務課{post}",
            name=f"{family} 太郎",
            family_name=family,
            action="承認" if stage == "回議" else "決裁",
            mode="",
            at=now + dt.timedelta(hours=i),
        )
        for i, (stage, post, family) in enumerate(steps)
    ]
    return RenderPayload(
        kind_label="起案文書",
        number="総第１２３号",
        title="令和８年度 文書管理システム導入について",
        drafter="総務課 主事 佐々木 大輔",
        department="総務課",
        dates=[("起案日", now.date()), ("決裁日", now.date()), ("施行日", None)],
        classification="総務・文書管理",
        retention="30年",
        confidentiality="公開",
        body=body,
        approvals=approvals,
        history_json=b"[]",
    )


def main() -> int:
    args = parse_args()
    work = tempfile.TemporaryDirectory(prefix="bench-signing-")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["VAR_DIR"] = work.name  # never the developer's var/
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # pyHanko logs every fetch at INFO
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.test import override_settings
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign import signers, timestamps
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.ades import ades_lta_validation
    from pyhanko_certvalidator import ValidationContext

    from records import signing, verification
    from records.pki import LoopbackTestPKI
    from records.rendering import render_record

    started = time.perf_counter()
    pki = LoopbackTestPKI(Path(work.name) / "pki").start()
    rows: list[dict[str, Any]] = []
    try:
        conf = pki.signing_settings()
        with override_settings(SIGNING=conf, PKI_DIR=Path(work.name) / "no-demo-pki"):
            payload = synthetic_payload()
            rendered = render_record(payload)
            pdf = rendered.pdf
            pages = len(PdfFileReader(io.BytesIO(pdf)).root["/Pages"]["/Kids"])
            render_ms = measure({"render": lambda: render_record(payload)}, args.runs)["render"]
            rows.append({"metric": "render_ms", "value": render_ms, "floor": None})

            roots = [pki.cert("root")]
            bare_signer = signers.SimpleSigner.load_pkcs12_data(
                pki.p12_path.read_bytes(), other_certs=[], passphrase=pki.passphrase.encode()
            )
            bare_ts = timestamps.HTTPTimeStamper(pki.tsa_url, timeout=15)  # one, reused
            other = list(bare_signer.cert_registry)

            def bare_sign(level: str) -> bytes:
                vc = None
                if level == "B-LTA":
                    vc = ValidationContext(
                        trust_roots=roots,
                        other_certs=other,
                        allow_fetching=True,
                        revocation_mode="hard-fail",
                    )
                meta = signing._metadata(level, vc)  # the very same metadata as ours
                out = signers.sign_pdf(
                    IncrementalPdfFileWriter(io.BytesIO(pdf)),
                    meta,
                    signer=bare_signer,
                    timestamper=None if level == "B-B" else bare_ts,
                )
                return out.getvalue()

            signed: dict[str, bytes] = {}
            for level in LEVELS:
                signed[level] = signing.sign_pdf(pdf, level=level).pdf
                assert verification.verify_pdf(signed[level]).ok, level
                assert verification.verify_pdf(bare_sign(level)).ok, level
                got = measure(
                    {
                        "ours": lambda level=level: signing.sign_pdf(pdf, level=level),
                        "bare": lambda level=level: bare_sign(level),
                    },
                    args.runs,
                )
                metric = f"{level.lower().replace('-', '_')}_ms"
                rows.append({"metric": metric, "value": got["ours"], "floor": got["bare"]})

            def bare_validate(level: str) -> None:
                sig = PdfFileReader(io.BytesIO(signed[level])).embedded_signatures[0]
                if level == "B-LTA":
                    reader = sig.reader
                    spec = verification._ades_spec(roots, reader, dt.datetime.now(dt.UTC))
                    result = asyncio.run(ades_lta_validation(sig, spec))
                    assert result.ades_subindic.status.name == "PASSED"
                    return
                vc = ValidationContext(trust_roots=roots, allow_fetching=False)
                assert validate_pdf_signature(sig, signer_validation_context=vc).bottom_line

            for level in LEVELS:
                got = measure(
                    {
                        "ours": lambda level=level: verification.verify_pdf(signed[level]),
                        "bare": lambda level=level: bare_validate(level),
                    },
                    args.runs,
                )
                metric = f"verify_{level.lower().replace('-', '_')}_ms"
                rows.append({"metric": metric, "value": got["ours"], "floor": got["bare"]})
    finally:
        pki.stop()
        work.cleanup()

    print(
        f"\nsigning: {args.runs} runs each after 2 warm-up, document of {pages} pages "
        f"({len(pdf):,} bytes, archival-grade {rendered.archival_grade}), "
        f"loopback TSA/OCSP/CRL; {time.perf_counter() - started:.1f} s in all"
    )
    print(f"  {'metric':18} {'ours ms':>9} {'bare ms':>9} {'ratio':>6}  goal")
    for row in rows:
        floor = row["floor"]
        ratio = row["value"] / floor if floor else None
        print(
            f"  {row['metric']:18} {row['value']:9.1f} "
            f"{floor if floor is not None else float('nan'):9.1f} "
            f"{ratio if ratio is not None else float('nan'):6.2f}  {GOALS.get(row['metric'], '')}"
        )
    for row in rows:
        floor = row["floor"]
        out = {
            "bench": "signing",
            "metric": row["metric"],
            "value": round(row["value"], 2),
            "floor": round(floor, 2) if floor is not None else None,
            "ratio": round(row["value"] / floor, 2) if floor else None,
            "unit": "ms",
            "runs": args.runs,
        }
        if row["metric"] in GOALS:
            out["goal"] = GOALS[row["metric"]]
        print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

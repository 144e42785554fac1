"""Certificate authorities made on this machine: the demo PKI and the loopback test PKI.

Both are described with certomancer (a runtime dependency): one description format, keys
generated here at run time (RSA-2048 with `cryptography`), nothing committed.

- `create_demo_pki` (used by `manage.py init_pki`): a root CA, the organisation's signer
  and a time-stamping key for a machine with no real PKI (a demo, `make run`). Every
  certificate says "DEMO — NOT TRUSTED" in its organisation name, which is how signing and
  verification recognise it. The root key is thrown away once the certificates and a
  CRL valid for 30 years are made, so signing B-LTA needs no network and no CA key.
- `LoopbackTestPKI` (tests and `bench/signing.py` only): root, intermediate, OCSP
  responder, signer and two TSAs, served over real HTTP on 127.0.0.1 by certomancer's
  `AsyncIllusionist`, so pyHanko's own network code paths (HTTP timestamps, OCSP and CRL
  fetching) run for real without leaving the machine.

The signer certificates have keyUsage digitalSignature + nonRepudiation and the extended
key usage emailProtection: poppler's pdfsig (NSS) checks signers as e-mail signers and
rejects a certificate whose only EKU is documentSigning (docs/signing.md).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asn1crypto import pem, x509

DEMO_MARKER = "DEMO — NOT TRUSTED"
DEMO_ORGANIZATION = f"デモ市 ({DEMO_MARKER})"
DEMO_URL_PREFIX = "http://demo-pki.invalid"  # never contacted: .invalid cannot resolve

# Files of the demo PKI under settings.PKI_DIR.
ROOT_CERT = "root.pem"
ROOT_CRL = "root.crl"
SIGNER_CERT = "signer.pem"
SIGNER_P12 = "signer.p12"
TSA_CERT = "tsa.pem"
TSA_KEY = "tsa.key.pem"
README = "README.txt"
DEMO_FILES = (ROOT_CERT, ROOT_CRL, SIGNER_CERT, SIGNER_P12, TSA_CERT, TSA_KEY, README)


def is_demo_certificate(cert: x509.Certificate) -> bool:
    """True for certificates made by `create_demo_pki` (the marker in O=…)."""
    org = cert.subject.native.get("organization_name", "")
    if isinstance(org, list):
        org = " ".join(org)
    return DEMO_MARKER in org


# --- certomancer descriptions ---------------------------------------------------------


def _ku(*usages: str) -> dict[str, Any]:
    return {
        "id": "key_usage",
        "critical": True,
        "smart-value": {"schema": "key-usage", "params": list(usages)},
    }


def _eku(*purposes: str, critical: bool = False) -> dict[str, Any]:
    return {"id": "extended_key_usage", "critical": critical, "value": list(purposes)}


def _crl_dp(repo: str) -> dict[str, Any]:
    return {
        "id": "crl_distribution_points",
        "smart-value": {"schema": "crl-dist-url", "params": {"crl-repo-names": [repo]}},
    }


def _ocsp_aia(responder: str) -> dict[str, Any]:
    return {
        "id": "authority_information_access",
        "smart-value": {"schema": "aia-urls", "params": {"ocsp-responder-names": [responder]}},
    }


def _ca(ca: bool = True, path_len: int | None = None) -> dict[str, Any]:
    value: dict[str, Any] = {"ca": ca}
    if path_len is not None:
        value["path_len_constraint"] = path_len
    return {"id": "basic_constraints", "critical": True, "value": value}


def _validity(start: dt.datetime, end: dt.datetime) -> dict[str, str]:
    fmt = "%Y-%m-%dT%H:%M:%S+0000"
    return {"valid-from": start.strftime(fmt), "valid-to": end.strftime(fmt)}


def _years(n: float) -> dt.timedelta:
    return dt.timedelta(days=round(365.25 * n))


SIGNER_EXTENSIONS = [_ku("digital_signature", "non_repudiation"), _eku("email_protection")]
TSA_EXTENSIONS = [_ku("digital_signature"), _eku("time_stamping", critical=True)]
CA_EXTENSIONS = [_ku("digital_signature", "key_cert_sign", "crl_sign")]


def demo_config(now: dt.datetime) -> dict[str, Any]:
    """Root → signer, root → TSA; one CRL of the root, valid for 30 years."""
    start = (now - dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return {
        "external-url-prefix": DEMO_URL_PREFIX,
        "keysets": {"demo": {"keys": {k: {"path": f"{k}.key.pem"} for k in DEMO_KEYS}}},
        "pki-architectures": {
            "demo": {
                "keyset": "demo",
                "entity-defaults": {"country-name": "JP", "organization-name": DEMO_ORGANIZATION},
                "entities": {
                    "root": {"common-name": "デモ用ルート認証局"},
                    "signer": {"organizational-unit-name": "総務課", "common-name": "デモ市長"},
                    "tsa": {"common-name": "デモ用タイムスタンプ局"},
                },
                "certs": {
                    "root": {
                        "subject": "root",
                        "subject-key": "root",
                        "issuer": "root",
                        "authority-key": "root",
                        "validity": _validity(start, start + _years(31)),
                        "extensions": [_ca(), *CA_EXTENSIONS],
                    },
                    "signer": {
                        "issuer": "root",
                        "validity": _validity(start, start + _years(10)),
                        "extensions": [*SIGNER_EXTENSIONS, _crl_dp("root")],
                    },
                    "tsa": {
                        "issuer": "root",
                        "validity": _validity(start, start + _years(10)),
                        "extensions": [*TSA_EXTENSIONS, _crl_dp("root")],
                    },
                },
                "services": {
                    "crl-repo": {
                        # one CRL, this_update = the root's start, next_update 30 years on
                        "root": {
                            "for-issuer": "root",
                            "signing-key": "root",
                            "simulated-update-schedule": f"P{_years(30).days}D",
                        }
                    },
                },
            }
        },
    }


DEMO_KEYS = ("root", "signer", "tsa")
TEST_KEYS = ("root", "interm", "interm-ocsp", "signer", "tsa", "tsa2")


def loopback_test_config(url_prefix: str, now: dt.datetime) -> dict[str, Any]:
    """The loopback test PKI: dates relative to `now`, so the suite works in any year.

    TSA 1's certificate lasts 5 years (renewal must happen before then); TSA 2 lasts 35
    years (the "next" TSA that renewals use)."""
    start = (now - dt.timedelta(days=30)).replace(hour=0, minute=0, second=0, microsecond=0)
    return {
        "external-url-prefix": url_prefix,
        "keysets": {"test": {"keys": {k: {"path": f"{k}.key.pem"} for k in TEST_KEYS}}},
        "pki-architectures": {
            "test": {
                "keyset": "test",
                "entity-defaults": {"country-name": "JP", "organization-name": "Test PKI"},
                "entities": {
                    "root": {"common-name": "Test Root CA"},
                    "interm": {"common-name": "Test Intermediate CA"},
                    "interm-ocsp": {"common-name": "Test OCSP Responder"},
                    "signer": {
                        "organization-name": "テスト市",
                        "organizational-unit-name": "総務課",
                        "common-name": "テスト市長",
                    },
                    "tsa": {"common-name": "Test TSA 1"},
                    "tsa2": {"common-name": "Test TSA 2"},
                },
                "certs": {
                    "root": {
                        "subject": "root",
                        "subject-key": "root",
                        "issuer": "root",
                        "authority-key": "root",
                        "validity": _validity(start, start + _years(60)),
                        "extensions": [_ca(), *CA_EXTENSIONS],
                    },
                    "interm": {
                        "issuer": "root",
                        "validity": _validity(start, start + _years(50)),
                        "extensions": [_ca(path_len=0), *CA_EXTENSIONS, _crl_dp("root")],
                    },
                    "interm-ocsp": {
                        "issuer": "interm",
                        "validity": _validity(start, start + _years(50)),
                        "extensions": [
                            _ku("digital_signature"),
                            _eku("ocsp_signing", critical=True),
                            {"id": "ocsp_no_check"},
                        ],
                    },
                    "signer": {
                        "issuer": "interm",
                        "validity": _validity(start, start + _years(3)),
                        "extensions": [*SIGNER_EXTENSIONS, _crl_dp("interm"), _ocsp_aia("interm")],
                    },
                    "tsa": {
                        "issuer": "root",
                        "validity": _validity(start, start + _years(5)),
                        "extensions": [*TSA_EXTENSIONS, _crl_dp("root")],
                    },
                    "tsa2": {
                        "template": "tsa",
                        "subject": "tsa2",
                        "subject-key": "tsa2",
                        "validity": _validity(start, start + _years(35)),
                    },
                },
                "services": {
                    "ocsp": {
                        "interm": {
                            "for-issuer": "interm",
                            "responder-cert": "interm-ocsp",
                            "signing-key": "interm-ocsp",
                        }
                    },
                    "crl-repo": {
                        "root": {
                            "for-issuer": "root",
                            "signing-key": "root",
                            "simulated-update-schedule": "P90D",
                        },
                        "interm": {
                            "for-issuer": "interm",
                            "signing-key": "interm",
                            "simulated-update-schedule": "P30D",
                        },
                    },
                    "time-stamping": {
                        "tsa": {"signing-key": "tsa", "signing-cert": "tsa"},
                        "tsa2": {"signing-key": "tsa2", "signing-cert": "tsa2"},
                    },
                },
            }
        },
    }


def _generate_keys(key_dir: Path, labels: tuple[str, ...]) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    for label in labels:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        path = key_dir / f"{label}.key.pem"
        _write_private(
            path,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )


def _write_private(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only, from the first byte on."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)  # an existing file keeps its mode through O_TRUNC


def _cert_pem(cert: x509.Certificate) -> bytes:
    return pem.armor("CERTIFICATE", cert.dump())


def _build_arch(config: dict[str, Any], key_dir: Path, arch: str):
    from certomancer.registry import ArchLabel, CertomancerConfig

    return CertomancerConfig(config, key_search_dir=str(key_dir)).get_pki_arch(ArchLabel(arch))


# --- the demo PKI ---------------------------------------------------------------------


@dataclass(frozen=True)
class DemoPkiResult:
    created: bool
    directory: Path
    files: tuple[Path, ...]
    signer_subject: str = ""
    valid_until: dt.datetime | None = None


def demo_pki_present(pki_dir: Path) -> bool:
    return all((pki_dir / name).exists() for name in DEMO_FILES)


def create_demo_pki(
    pki_dir: Path, *, passphrase: str = "", force: bool = False, now: dt.datetime | None = None
) -> DemoPkiResult:
    """Make the demo PKI in `pki_dir` unless it is there already (or `force`).

    Keys are 0600; the PKCS#12 is encrypted with `passphrase` when it is not empty.
    """
    from certomancer.registry import CertLabel, ServiceLabel

    pki_dir = Path(pki_dir)
    files = tuple(pki_dir / name for name in DEMO_FILES)
    if not force and demo_pki_present(pki_dir):
        return DemoPkiResult(created=False, directory=pki_dir, files=files)
    pki_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(pki_dir, 0o700)
    now = now or dt.datetime.now(dt.UTC)
    with tempfile.TemporaryDirectory(prefix="demo-pki-") as tmp:
        key_dir = Path(tmp)
        _generate_keys(key_dir, DEMO_KEYS)
        arch = _build_arch(demo_config(now), key_dir, "demo")
        root = arch.get_cert(CertLabel("root"))
        signer = arch.get_cert(CertLabel("signer"))
        tsa = arch.get_cert(CertLabel("tsa"))
        crl = arch.service_registry.get_crl(ServiceLabel("root"), at_time=now)
        p12 = arch.package_pkcs12(CertLabel("signer"), password=passphrase.encode() or None)
        (pki_dir / ROOT_CERT).write_bytes(_cert_pem(root))
        (pki_dir / SIGNER_CERT).write_bytes(_cert_pem(signer))
        (pki_dir / TSA_CERT).write_bytes(_cert_pem(tsa))
        (pki_dir / ROOT_CRL).write_bytes(crl.dump())
        _write_private(pki_dir / SIGNER_P12, p12)
        _write_private(pki_dir / TSA_KEY, (key_dir / "tsa.key.pem").read_bytes())
        # the root key (and the signer's PEM key) go with the temporary directory
    (pki_dir / README).write_text(
        "DEMO PKI — NOT TRUSTED. Made by `manage.py init_pki` for demonstrations only.\n"
        "Signatures made with these keys prove nothing: anyone can make the same.\n"
        "Production: set SIGNING_PKCS12_PATH (or SIGNING_PKCS11_MODULE), SIGNING_TSA_URL and\n"
        "SIGNING_TRUST_ROOTS; see docs/signing.md.\n",
        encoding="utf-8",
    )
    return DemoPkiResult(
        created=True,
        directory=pki_dir,
        files=files,
        signer_subject=signer.subject.human_friendly,
        valid_until=signer.not_valid_after,
    )


# --- the loopback test PKI (tests and benchmarks only) ---------------------------------


def speed_up_certomancer_signing() -> None:
    """Test/bench only: make certomancer keep its parsed RSA keys.

    certomancer parses the RSA key again (with `cryptography`'s full consistency check,
    tens of ms) for every timestamp token, OCSP response and CRL it signs; a real TSA
    keeps its key loaded. Affects certomancer's crypto backend in this process only."""
    from certomancer import crypto_utils
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15

    base = crypto_utils.CRYPTO_BACKEND
    if getattr(base, "_keeps_keys", False):
        return
    cache: dict[bytes, Any] = {}

    class _KeepsKeys(type(base)):  # type: ignore[misc]
        _keeps_keys = True

        def generic_sign(self, private_key, tbs_bytes, sd_algo):
            if sd_algo.signature_algo != "rsassa_pkcs1v15":
                return super().generic_sign(private_key, tbs_bytes, sd_algo)
            der = private_key.dump()
            key = cache.get(der)
            if key is None:
                key = cache[der] = serialization.load_der_private_key(der, password=None)
            hash_algo = getattr(hashes, sd_algo.hash_algo.upper())()
            return key.sign(tbs_bytes, PKCS1v15(), hash_algo)

    crypto_utils.CRYPTO_BACKEND = _KeepsKeys()


class LoopbackTestPKI:
    """Tests and benchmarks only: a certomancer PKI served on 127.0.0.1:<free port>.

    Usage: `pki = LoopbackTestPKI(workdir).start()` … `pki.stop()` (or `with`). Files in
    `workdir`: `<label>.pem` certificates, `signer.p12` (passphrase `passphrase`).
    The server answers with the process clock, so time-machine moves it too; `set_clock`
    pins it instead.
    """

    __test__ = False  # not a pytest class

    def __init__(self, workdir: str | os.PathLike[str], *, passphrase: str = "test") -> None:  # noqa: S107 - test PKI
        from certomancer.integrations.aiohttp_illusionist import AsyncIllusionist

        speed_up_certomancer_signing()
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.passphrase = passphrase
        # Bind first: the certificates carry the URLs, so they need the port; keeping the
        # socket avoids a race between finding a free port and binding it again.
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self.url_prefix = f"http://127.0.0.1:{self.port}"
        _generate_keys(self.dir, TEST_KEYS)
        self.arch = _build_arch(
            loopback_test_config(self.url_prefix, dt.datetime.now(dt.UTC)), self.dir, "test"
        )

        class _WholeSeconds(AsyncIllusionist):
            # NSS rejects OCSP responses whose times carry microseconds.
            @property
            def at_time(self) -> dt.datetime:
                return (self.fixed_time or dt.datetime.now(dt.UTC)).replace(microsecond=0)

        self.illusionist = _WholeSeconds(self.arch)
        for label in TEST_KEYS:
            (self.dir / f"{label}.pem").write_bytes(_cert_pem(self.cert(label)))
        _write_private(self.p12_path, self.signer_p12())
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def cert(self, label: str) -> x509.Certificate:
        from certomancer.registry import CertLabel

        return self.arch.get_cert(CertLabel(label))

    @property
    def root_pem(self) -> Path:
        return self.dir / "root.pem"

    @property
    def p12_path(self) -> Path:
        return self.dir / "signer.p12"

    def tsa_url_for(self, label: str) -> str:
        from certomancer.registry import ServiceLabel

        return self.arch.service_registry.get_tsa_info(ServiceLabel(label)).url

    @property
    def tsa_url(self) -> str:
        return self.tsa_url_for("tsa")

    @property
    def tsa2_url(self) -> str:
        return self.tsa_url_for("tsa2")

    def signer_p12(self) -> bytes:
        from certomancer.registry import CertLabel

        return self.arch.package_pkcs12(CertLabel("signer"), password=self.passphrase.encode())

    def signing_settings(self, **overrides: Any) -> dict[str, Any]:
        """A `settings.SIGNING` dict for this PKI."""
        return {
            "LEVEL": "B-LTA",
            "PKCS12_PATH": str(self.p12_path),
            "PKCS12_PASSPHRASE": self.passphrase,
            "PKCS11_MODULE": "",
            "PKCS11_TOKEN_LABEL": "",
            "PKCS11_KEY_LABEL": "",
            "PKCS11_PIN": "",
            "TSA_URL": self.tsa_url,
            "TRUST_ROOTS": [str(self.root_pem)],
            "RENEWAL_HORIZON_DAYS": 365,
            **overrides,
        }

    def set_clock(self, at: dt.datetime | None) -> None:
        """Answer OCSP/CRL/TSA requests as at `at` (None: the process clock)."""
        self.illusionist.fixed_time = at

    def start(self) -> LoopbackTestPKI:
        import aiohttp.web

        ready = threading.Event()
        app = self.illusionist.build_app()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                runner = aiohttp.web.AppRunner(app, access_log=None)
                loop.run_until_complete(runner.setup())
                loop.run_until_complete(aiohttp.web.SockSite(runner, self._sock).start())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            self._loop = loop
            ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="test-pki-illusionist", daemon=True)
        self._thread.start()
        if not ready.wait(10) or failure:
            raise RuntimeError(f"the test PKI server did not start: {failure}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = None
        self._sock.close()

    def __enter__(self) -> LoopbackTestPKI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

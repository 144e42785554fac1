"""BagIt 1.0 packages (RFC 8493) for 移管: the payload under `data/`, a sha256 manifest,
`bag-info.txt` and a tag manifest — what Archivematica and the national archives'
receivers accept as a self-describing transfer.

A bag is written into a temporary sibling directory and renamed into place, so an
interrupted run never leaves a half package where a complete one is expected.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

BAGIT_TXT = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
MANIFEST = "manifest-sha256.txt"
TAG_MANIFEST = "tagmanifest-sha256.txt"
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class PayloadFile:
    """One payload file: its path under `data/` and either bytes or a readable source."""

    path: str
    content: bytes | None = None
    source: BinaryIO | None = None


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _encode_path(path: str) -> str:
    """RFC 8493 §2.1.3: CR, LF and % in a manifest path are percent-encoded."""
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _decode_path(path: str) -> str:
    return (
        path.replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%0d", "\r")
        .replace("%0a", "\n")
        .replace("%25", "%")
    )


def _safe_relpath(path: str) -> str:
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise ValueError(f"unsafe payload path: {path!r}")
    return "/".join(parts)


def _info_lines(info: Iterable[tuple[str, str]]) -> str:
    lines = []
    for label, value in info:
        # One line per value: a newline inside a value would start a new label.
        lines.append(f"{label}: {' '.join(str(value).split())}")
    return "\n".join(lines) + "\n"


def bag_write(
    target: Path,
    *,
    payload: Iterable[PayloadFile],
    info: Iterable[tuple[str, str]],
    bagging_date: dt.date,
) -> Path:
    """Write a complete bag at `target` (which must not exist yet) and return it."""
    target = Path(target)
    if target.exists():
        raise FileExistsError(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex}"
    try:
        data = tmp / "data"
        data.mkdir(parents=True)
        manifest: list[tuple[str, str]] = []
        octets = 0
        for item in payload:
            rel = f"data/{_safe_relpath(item.path)}"
            dest = tmp / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            with dest.open("xb") as out:
                if item.content is not None:
                    out.write(item.content)
                elif item.source is not None:
                    shutil.copyfileobj(item.source, out, CHUNK)
                else:
                    raise ValueError(f"no content for {item.path}")
            octets += dest.stat().st_size
            manifest.append((_sha256_of(dest), rel))
        (tmp / "bagit.txt").write_text(BAGIT_TXT, encoding="utf-8")
        (tmp / MANIFEST).write_text(
            "".join(f"{h}  {_encode_path(p)}\n" for h, p in sorted(manifest, key=lambda m: m[1])),
            encoding="utf-8",
        )
        all_info = [
            *info,
            ("Bagging-Date", bagging_date.isoformat()),
            ("Payload-Oxum", f"{octets}.{len(manifest)}"),
        ]
        (tmp / "bag-info.txt").write_text(_info_lines(all_info), encoding="utf-8")
        tags = ["bagit.txt", "bag-info.txt", MANIFEST]
        (tmp / TAG_MANIFEST).write_text(
            "".join(f"{_sha256_of(tmp / t)}  {t}\n" for t in tags), encoding="utf-8"
        )
        _fsync_tree(tmp)
        os.rename(tmp, target)  # atomic on one filesystem: all or nothing
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _fsync_tree(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())


def _read_manifest(path: Path, problems: list[str]) -> dict[str, str]:
    entries: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2:
            problems.append(f"{path.name}:{n}: malformed line")
            continue
        digest, rel = parts[0].lower(), _decode_path(parts[1].strip())
        if rel in entries:
            problems.append(f"{path.name}:{n}: {rel} listed twice")
        entries[rel] = digest
    return entries


def bag_info(path: Path) -> dict[str, str]:
    info: dict[str, str] = {}
    text = (Path(path) / "bag-info.txt").read_text(encoding="utf-8")
    for line in text.splitlines():
        if ":" in line and not line[:1].isspace():
            label, value = line.split(":", 1)
            info[label.strip()] = value.strip()
    return info


def bag_validate(path: Path | str) -> list[str]:
    """The problems of the bag at `path`; an empty list means valid.

    Checks: the BagIt declaration; every manifest line's sha256 against the file; no
    payload file left out of the manifest; Payload-Oxum (octets.files); the tag manifest.
    """
    root = Path(path)
    problems: list[str] = []
    if not (root / "bagit.txt").is_file():
        return ["bagit.txt is missing"]
    declaration = (root / "bagit.txt").read_text(encoding="utf-8")
    if "BagIt-Version:" not in declaration:
        problems.append("bagit.txt has no BagIt-Version")
    if not (root / MANIFEST).is_file():
        return [*problems, f"{MANIFEST} is missing"]
    if not (root / "data").is_dir():
        return [*problems, "data/ is missing"]
    manifest = _read_manifest(root / MANIFEST, problems)
    present = {p.relative_to(root).as_posix() for p in (root / "data").rglob("*") if p.is_file()}
    for rel, digest in sorted(manifest.items()):
        file = root / rel
        if not rel.startswith("data/") or ".." in rel.split("/"):
            problems.append(f"{rel}: outside the payload")
        elif not file.is_file():
            problems.append(f"{rel}: listed in the manifest but missing")
        elif _sha256_of(file) != digest:
            problems.append(f"{rel}: sha256 does not match the manifest")
    for rel in sorted(present - set(manifest)):
        problems.append(f"{rel}: payload file not in the manifest")
    try:
        oxum = bag_info(root).get("Payload-Oxum", "")
    except OSError:
        oxum = ""
        problems.append("bag-info.txt is missing")
    if oxum:
        octets = sum((root / rel).stat().st_size for rel in present)
        if oxum != f"{octets}.{len(present)}":
            problems.append(f"Payload-Oxum {oxum} does not match {octets}.{len(present)}")
    else:
        problems.append("Payload-Oxum is missing")
    if (root / TAG_MANIFEST).is_file():
        for rel, digest in _read_manifest(root / TAG_MANIFEST, problems).items():
            tag = root / rel
            if not tag.is_file():
                problems.append(f"{rel}: listed in the tag manifest but missing")
            elif _sha256_of(tag) != digest:
                problems.append(f"{rel}: sha256 does not match the tag manifest")
    return problems

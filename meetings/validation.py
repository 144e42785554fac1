"""Checking an uploaded material before anything is saved.

PDFs are opened in a separate process (`meetings.pdfcheck`) under CPU and memory limits,
so a hostile file cannot take a server worker down; images are checked with Pillow's
decompression-bomb guard. Each refusal is a `MaterialRefused` with a Japanese message
(English after it) naming what is wrong.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from PIL import Image, UnidentifiedImageError

from workflow.errors import InvalidRequest

PDF_MAGIC = b"%PDF-"
IMAGE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg"}


class MaterialRefused(InvalidRequest):
    """The upload is not a usable material; nothing was saved."""


@dataclass(frozen=True)
class Checked:
    content_type: str
    page_count: int
    sha256: str
    size: int


def _check_pdf(path: str) -> int:
    timeout = settings.MEETINGS_CHECK_CPU_SECONDS * 2 + 5
    try:
        done = subprocess.run(  # noqa: S603 - our own module, a path we made
            [
                sys.executable,
                "-m",
                "meetings.pdfcheck",
                path,
                str(settings.MEETINGS_CHECK_CPU_SECONDS),
                str(settings.MEETINGS_CHECK_MEMORY_MB),
            ],
            capture_output=True,
            timeout=timeout,
            check=False,
            cwd=str(settings.BASE_DIR),
            env={**os.environ, "PYTHONPATH": str(settings.BASE_DIR)},
        )
    except subprocess.TimeoutExpired as exc:
        raise MaterialRefused(
            "PDFの確認に時間がかかりすぎました。壊れているか、処理できない形式です。",
            "Checking the PDF took too long; it is broken or cannot be processed.",
        ) from exc
    try:
        result = json.loads(done.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        result = {"error": "crashed"}
    error = result.get("error")
    if error == "encrypted":
        raise MaterialRefused(
            "暗号化（パスワード保護）されたPDFは登録できません。保護を解除してから登録してください。",
            "Encrypted (password-protected) PDFs cannot be used; remove the protection first.",
        )
    if error == "no_pages":
        raise MaterialRefused("ページのないPDFです。", "The PDF has no pages.")
    if error == "page_size":
        raise MaterialRefused("ページの大きさが扱える範囲を超えています。", "A page is too large.")
    if error is not None:
        raise MaterialRefused(
            "PDFとして読めません。ファイルが壊れている可能性があります。",
            "The file cannot be read as a PDF; it may be broken.",
        )
    pages = int(result["pages"])
    if pages > settings.MEETINGS_MAX_PAGES:
        raise MaterialRefused(
            f"ページ数が多すぎます（{pages:,}ページ、"
            f"上限 {settings.MEETINGS_MAX_PAGES:,}ページ）。",
            f"Too many pages ({pages:,}; at most {settings.MEETINGS_MAX_PAGES:,}).",
        )
    return pages


def _check_image(path: str) -> str:
    try:
        with Image.open(path) as image:
            kind = image.format
            image.verify()
        with Image.open(path) as image:
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise MaterialRefused(
            "画像として読めません。ファイルが壊れている可能性があります。",
            "The file cannot be read as an image; it may be broken.",
        ) from exc
    except Image.DecompressionBombError as exc:
        raise MaterialRefused("画像が大きすぎます。", "The image is too large.") from exc
    if kind not in IMAGE_TYPES:
        raise MaterialRefused(
            "PDF、PNG、JPEG のファイルを登録してください。", "Upload a PDF, PNG or JPEG file."
        )
    return IMAGE_TYPES[kind]


def check_upload(upload: UploadedFile) -> Checked:
    """Refuse an upload that is empty, too large, not a PDF or image, encrypted, broken or
    too long; return what it is otherwise. The upload is left rewound."""
    size = upload.size or 0
    if size == 0:
        raise MaterialRefused("空のファイルです（0バイト）。", "The file is empty (0 bytes).")
    if size > settings.MEETINGS_MAX_UPLOAD_BYTES:
        mb = settings.MEETINGS_MAX_UPLOAD_BYTES // (1024 * 1024)
        raise MaterialRefused(
            f"ファイルが大きすぎます（{mb} MB まで）。", f"The file is too large ({mb} MB at most)."
        )
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(prefix="material-", suffix=".bin") as temp:
        head = b""
        for chunk in upload.chunks():
            if not head:
                head = chunk[:8]
            digest.update(chunk)
            temp.write(chunk)
        temp.flush()
        upload.seek(0)
        if head.startswith(PDF_MAGIC):
            pages = _check_pdf(temp.name)
            content_type = "application/pdf"
        elif head.startswith((b"\x89PNG", b"\xff\xd8\xff")):
            content_type = _check_image(temp.name)
            pages = 1
        else:
            raise MaterialRefused(
                "PDF、PNG、JPEG 以外のファイルは登録できません（拡張子ではなく中身で判定します）。",
                "Only PDF, PNG and JPEG files can be used (judged by content, not by name).",
            )
    return Checked(content_type, pages, digest.hexdigest(), size)

"""Page images for tablets: rendered once when a material is published, never at a page turn.

Each page is rasterised with pypdfium2 at the tablet width (`MEETINGS_PAGE_WIDTH`) and at
2× for zoom, and encoded as JPEG (≈ 10–40 ms a page; WebP costs 5–20× more to encode, see
../shared/domain/meetings.md). The 1× bitmap's SHA-256 is the page's content hash, which
decides whether private notes carry over to a new version.

Confidential materials get no shared image: each participant gets their own, with their
name, 所属, the meeting and the time burned in (a tiled diagonal watermark plus a footer
line) in a CJK font. The watermark layer is drawn once per viewer and page size and
composited onto each page.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image, ImageDraw, ImageFont

from common.dates import wareki


class WatermarkFontMissing(RuntimeError):
    def __init__(self, path: str) -> None:
        super().__init__(
            f"透かし用の日本語フォントがありません: {path}（fonts-ipaexfont を入れるか "
            f"MEETINGS_WATERMARK_FONT_PATH を設定してください） "
            f"(No CJK font for watermarks at {path}.)"
        )


@dataclass
class RenderedPage:
    number: int
    width: int
    height: int
    content_hash: str
    image_1x: Image.Image
    image_2x: Image.Image


@dataclass
class Timing:
    """Milliseconds spent, for the benchmark and the organiser's progress line."""

    render: list[float] = field(default_factory=list)
    encode: list[float] = field(default_factory=list)
    watermark: list[float] = field(default_factory=list)


def iter_pages(
    source: bytes, content_type: str, *, width: int | None = None, timing: Timing | None = None
) -> Iterator[RenderedPage]:
    """Rasterise every page at 1× and 2× the tablet width."""
    width = width or settings.MEETINGS_PAGE_WIDTH
    if content_type != "application/pdf":
        with Image.open(io.BytesIO(source)) as img:
            image = img.convert("RGB")
        one = _fit(image, width)
        two = _fit(image, width * 2)
        yield RenderedPage(1, one.width, one.height, _hash(one), one, two)
        return
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(source)
    try:
        for index in range(len(pdf)):
            started = time.perf_counter()
            page = pdf[index]
            page_width, _page_height = page.get_size()
            scale = width / page_width
            one = page.render(scale=scale).to_pil().convert("RGB")
            two = page.render(scale=scale * 2).to_pil().convert("RGB")
            page.close()
            if timing is not None:
                timing.render.append((time.perf_counter() - started) * 1000)
            yield RenderedPage(index + 1, one.width, one.height, _hash(one), one, two)
    finally:
        pdf.close()


def _fit(image: Image.Image, width: int) -> Image.Image:
    if image.width == width:
        return image.copy()
    height = max(1, round(image.height * width / image.width))
    return image.resize((width, height), Image.Resampling.LANCZOS)


def _hash(image: Image.Image) -> str:
    return hashlib.sha256(image.tobytes()).hexdigest()


def encode_jpeg(image: Image.Image, timing: Timing | None = None) -> bytes:
    started = time.perf_counter()
    out = io.BytesIO()
    image.save(out, "JPEG", quality=settings.MEETINGS_JPEG_QUALITY, optimize=False)
    if timing is not None:
        timing.encode.append((time.perf_counter() - started) * 1000)
    return out.getvalue()


def store(name: str, data: bytes) -> str:
    if default_storage.exists(name):
        default_storage.delete(name)
    return default_storage.save(name, ContentFile(data))


# --- watermarks ---------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    try:
        return ImageFont.truetype(path, size)
    except OSError as exc:
        raise WatermarkFontMissing(path) from exc


def watermark_font_available() -> bool:
    try:
        _font(settings.MEETINGS_WATERMARK_FONT_PATH, 12)
    except WatermarkFontMissing:
        return False
    return True


@dataclass(frozen=True)
class Viewer:
    name: str
    department: str
    meeting: str
    at: dt.datetime

    def lines(self) -> tuple[str, str]:
        when = f"{wareki(self.at.date())} {self.at:%H:%M}"
        return (f"{self.name}　{self.department}", f"{self.meeting}　{when}　閲覧用")


@lru_cache(maxsize=64)
def _overlay(viewer: Viewer, size: tuple[int, int]) -> Image.Image:
    """The watermark layer for one viewer and page size (RGBA, drawn once, reused)."""
    width, height = size
    path = settings.MEETINGS_WATERMARK_FONT_PATH
    big = _font(path, max(14, width // 40))
    small = _font(path, max(10, width // 70))
    first, second = viewer.lines()
    # A tile with both lines, rotated 30°, repeated over the page.
    tile_w = int(big.getlength(first) + width // 12)
    tile = Image.new("RGBA", (tile_w, big.size * 2 + small.size * 2), (0, 0, 0, 0))
    draw = ImageDraw.Draw(tile)
    draw.text((0, 0), first, font=big, fill=(200, 0, 0, 46))
    draw.text((0, big.size + big.size // 2), second, font=small, fill=(200, 0, 0, 46))
    tile = tile.rotate(30, expand=True, resample=Image.Resampling.BICUBIC)
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    step_x, step_y = tile.width, max(tile.height * 3 // 4, 1)
    for row, y in enumerate(range(-step_y, height + step_y, step_y)):
        offset = (row % 2) * step_x // 2
        for x in range(-step_x + offset, width + step_x, step_x):
            layer.alpha_composite(tile, (max(x, 0), max(y, 0)), (max(-x, 0), max(-y, 0)))
    # A plain footer line, readable on a photo of the screen.
    footer = f"{first}　{second}"
    band = small.size + small.size // 2
    draw = ImageDraw.Draw(layer)
    draw.rectangle((0, height - band, width, height), fill=(255, 255, 255, 200))
    draw.text(
        (width // 80, height - band + small.size // 4), footer, font=small, fill=(160, 0, 0, 255)
    )
    return layer


def watermark(image: Image.Image, viewer: Viewer, timing: Timing | None = None) -> Image.Image:
    started = time.perf_counter()
    layer = _overlay(viewer, image.size)
    out = image.convert("RGBA")
    out.alpha_composite(layer)
    result = out.convert("RGB")
    if timing is not None:
        timing.watermark.append((time.perf_counter() - started) * 1000)
    return result


Progress = Callable[[int], None]

"""Demo data for paperless meetings: a published 庁議 tomorrow, a published 課内会議 of 財政課
the day after, and last week's 課内会議, closed, with minutes waiting to be filed.

The materials are PDFs drawn here with reportlab (Japanese in IPAex Gothic when the font
is installed, else reportlab's built-in CID font). Everything goes through the real
services; the page images are rendered synchronously, by calling the render task's
`.call` before the meeting is published (publishing then finds nothing left to queue),
so the demo works without a task worker. Confidential material (with per-viewer
watermarks) is only added when the watermark font is present.

Who: the 庁議 is organised by 企画政策課長, chaired by the mayor, attended by the deputy
mayor and every 部長 (the `bucho` login among them), and 財政課長 (`kacho`) presents the
budget. 財政課's meetings are organised by `kacho`, with the whole section (`shokuin`).
Idempotent: nothing is added once the demo meetings exist.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from dataclasses import dataclass

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from common.dates import today
from org.models import Department, Staff
from org.selectors import assignments_on
from records.models import Classification

from . import services
from .models import Meeting
from .rendering import watermark_font_available
from .tasks import render_version

CHOGI_TITLE = "庁議（定例）"
KANAI_TITLE = "財政課 課内会議"
PAST_TITLE = "財政課 課内会議（前週）"
PLANNING = "210"  # 企画政策課 (fixtures/demo/org.json)
FINANCE = "220"  # 財政課
CHOGI_CLASSIFICATION = "03-01-002"  # 実施計画・行政評価 (fixtures/demo/schedule.json)
FINANCE_CLASSIFICATION = "04-01-003"  # 予算の執行・流用
FONT_NAME = "DemoGothic"


@dataclass
class DemoResult:
    meetings_created: int = 0
    pages_rendered: int = 0
    confidential: bool = False


# --- PDFs ----------------------------------------------------------------------------------


def _font() -> str:
    from reportlab.pdfbase import pdfmetrics

    if FONT_NAME in pdfmetrics.getRegisteredFontNames():
        return FONT_NAME
    path = settings.MEETINGS_WATERMARK_FONT_PATH
    if os.path.exists(path):
        from reportlab.pdfbase.ttfonts import TTFont

        pdfmetrics.registerFont(TTFont(FONT_NAME, path))
        return FONT_NAME
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if "HeiseiKakuGo-W5" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont("HeiseiKakuGo-W5"))
    return "HeiseiKakuGo-W5"


def demo_pdf(title: str, pages: list[list[str]], *, chart: list[int] | None = None) -> bytes:
    """An A4 landscape deck: the title on every page, then its lines; a bar chart of
    `chart` (億円) on the last page."""
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.pdfgen import canvas

    font = _font()
    buf = io.BytesIO()
    width, height = landscape(A4)
    c = canvas.Canvas(buf, pagesize=(width, height), invariant=1)
    c.setTitle(title)
    for number, lines in enumerate(pages, 1):
        c.setFillColorRGB(0.12, 0.29, 0.49)
        c.rect(0, height - 70, width, 70, stroke=0, fill=1)
        c.setFillColorRGB(1, 1, 1)
        c.setFont(font, 22)
        c.drawString(40, height - 45, title)
        c.setFillColorRGB(0, 0, 0)
        c.setFont(font, 16)
        y = height - 120
        for line in lines:
            c.drawString(60, y, line)
            y -= 30
        if chart and number == len(pages):
            top = max(chart)
            for i, value in enumerate(chart):
                bar = 180 * value / top
                c.setFillColorRGB(0.2, 0.45, 0.7)
                c.rect(80 + i * 110, 70, 60, bar, stroke=0, fill=1)
                c.setFillColorRGB(0, 0, 0)
                c.setFont(font, 12)
                c.drawString(80 + i * 110, 55, f"令和{5 + i}年度")
                c.drawString(85 + i * 110, 75 + bar, f"{value}億円")
        c.setFont(font, 10)
        c.drawString(width - 90, 20, f"{number} / {len(pages)}")
        c.showPage()
    c.save()
    return buf.getvalue()


def _upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/pdf")


# --- people --------------------------------------------------------------------------------


def _holders(post_codes: list[str], department: str | None = None) -> list[Staff]:
    rows = assignments_on(today()).filter(post__code__in=post_codes, staff__is_active=True)
    if department is not None:
        rows = rows.filter(department__code=department)
    return [a.staff for a in rows.select_related("staff").order_by("post__rank", "staff_id")]


def _one(post: str, department: str) -> Staff | None:
    found = _holders([post], department)
    return found[0] if found else None


def _classification(code: str) -> Classification | None:
    from records.files import classification_leaves_in_force

    return classification_leaves_in_force().filter(code=code).first()


# --- meetings ------------------------------------------------------------------------------


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def _render(meeting: Meeting) -> int:
    pages = 0
    for material in meeting.materials.select_related("current_version"):
        version = material.current_version
        if version is not None and version.render_status != "done":
            pages += render_version.call(version.pk)
    return pages


def _chogi(result: DemoResult) -> None:
    organiser = _one("kacho", PLANNING)
    mayor = _holders(["shicho"])
    presenter = _one("kacho", FINANCE)
    if organiser is None or presenter is None:
        return
    day = today() + dt.timedelta(days=1)
    meeting = services.meeting_create(
        actor=organiser,
        title=CHOGI_TITLE,
        kind=Meeting.Kind.CHOGI,
        starts_at=_at(day, 10),
        ends_at=_at(day, 11, 30),
        place="本庁舎4階 庁議室",
        chair=mayor[0] if mayor else None,
        allow_download=True,
        classification=_classification(CHOGI_CLASSIFICATION),
    )
    services.participants_add(
        meeting=meeting, actor=organiser, staff=_holders(["fukushicho", "bucho"])
    )
    budget = services.agenda_item_add(
        meeting=meeting, actor=organiser, title="令和9年度予算編成方針について", presenter=presenter
    )
    plan = services.agenda_item_add(
        meeting=meeting, actor=organiser, title="第6次総合計画 実施計画の進捗"
    )
    services.material_add(
        meeting=meeting,
        actor=organiser,
        title="次第",
        upload=_upload(
            "shidai.pdf",
            demo_pdf(
                "庁議 次第",
                [
                    [
                        f"日時　{day:%Y年%m月%d日} 10時00分〜11時30分",
                        "場所　本庁舎4階 庁議室",
                        "",
                        "1　令和9年度予算編成方針について（財政課）",
                        "2　第6次総合計画 実施計画の進捗（企画政策課）",
                        "3　その他",
                    ]
                ],
            ),
        ),
    )
    services.material_add(
        meeting=meeting,
        actor=presenter,
        title="令和9年度予算編成方針（案）",
        agenda_item=budget,
        upload=_upload(
            "yosan-hoshin.pdf",
            demo_pdf(
                "令和9年度 予算編成方針（案）",
                [
                    [
                        "1　基本的な考え方",
                        "・歳入の見込み: 市税は前年度並み、地方交付税は減少の見込み",
                        "・経常経費は前年度当初予算額の 97% を上限とする",
                        "・事業の見直し（スクラップ・アンド・ビルド）を徹底する",
                    ],
                    [
                        "2　重点施策",
                        "・子育て支援の充実（保育定員の拡大）",
                        "・公共施設の長寿命化と再配置",
                        "・行政手続のオンライン化（DX推進）",
                    ],
                    ["3　一般会計の推移（当初予算）"],
                ],
                chart=[412, 425, 431, 438],
            ),
        ),
    )
    services.material_add(
        meeting=meeting,
        actor=organiser,
        title="実施計画 進捗状況一覧",
        agenda_item=plan,
        upload=_upload(
            "jisshi-keikaku.pdf",
            demo_pdf(
                "第6次総合計画 実施計画 進捗状況",
                [
                    [
                        "施策1　子育て世代の定住促進　… 順調",
                        "施策2　地域公共交通の確保　… 遅れ（バス路線の再編協議中）",
                        "施策3　防災・減災の推進　… 順調",
                        "施策4　行政のデジタル化　… 順調",
                    ]
                ],
            ),
        ),
    )
    if watermark_font_available():
        # One confidential page, shown to each participant with their name burned in.
        services.material_add(
            meeting=meeting,
            actor=organiser,
            title="【秘】幹部職員の人事異動方針",
            confidential=True,
            upload=_upload(
                "jinji.pdf",
                demo_pdf(
                    "【秘】令和9年4月 幹部職員の人事異動方針",
                    [["（会議終了後は閲覧できなくなります）", "・部長級の異動は最小限とする"]],
                ),
            ),
        )
        result.confidential = True
    result.pages_rendered += _render(meeting)
    services.meeting_publish(meeting=meeting, actor=organiser)
    result.meetings_created += 1


def _finance_meetings(result: DemoResult) -> None:
    organiser = _one("kacho", FINANCE)
    if organiser is None:
        return
    section = Department.objects.filter(code=FINANCE).first()
    deputy = _one("hosa", FINANCE)
    classification = _classification(FINANCE_CLASSIFICATION)
    day = today() + dt.timedelta(days=2)
    meeting = services.meeting_create(
        actor=organiser,
        title=KANAI_TITLE,
        kind=Meeting.Kind.KANAI,
        starts_at=_at(day, 15),
        ends_at=_at(day, 16),
        place="財政課 打合せスペース",
        chair=organiser,
        allow_download=True,
        classification=classification,
    )
    if section is not None:
        services.participants_add(meeting=meeting, actor=organiser, departments=[section])
    item = services.agenda_item_add(
        meeting=meeting, actor=organiser, title="予算要求ヒアリングの日程", presenter=deputy
    )
    services.material_add(
        meeting=meeting,
        actor=organiser,
        title="ヒアリング日程表",
        agenda_item=item,
        upload=_upload(
            "hearing.pdf",
            demo_pdf(
                "予算要求ヒアリング 日程（案）",
                [
                    [
                        "10月14日（火）総務部・企画部",
                        "10月15日（水）市民部・福祉部",
                        "10月16日（木）建設部・経済部",
                        "10月17日（金）上下水道局・教育委員会",
                    ],
                    ["担当割り", "・歳入: 課長補佐", "・歳出: 主査・主事で部局ごとに分担"],
                ],
            ),
        ),
    )
    result.pages_rendered += _render(meeting)
    services.meeting_publish(meeting=meeting, actor=organiser)
    result.meetings_created += 1

    # Last week's meeting: held, closed, minutes written and waiting to be filed.
    last = today() - dt.timedelta(days=7)
    past = services.meeting_create(
        actor=organiser,
        title=PAST_TITLE,
        kind=Meeting.Kind.KANAI,
        starts_at=_at(last, 15),
        ends_at=_at(last, 16),
        place="財政課 打合せスペース",
        chair=organiser,
        classification=classification,
    )
    if section is not None:
        services.participants_add(meeting=past, actor=organiser, departments=[section])
    services.agenda_item_add(meeting=past, actor=organiser, title="上半期の執行状況")
    services.meeting_publish(meeting=past, actor=organiser)
    services.meeting_start(meeting=past, actor=organiser)
    services.minutes_save(
        meeting=past,
        actor=organiser,
        text=(
            "1　上半期の執行状況\n"
            "　各係から執行率の報告があった。執行率の低い事業は所管課に状況を照会する。\n"
            "2　その他\n"
            "　次回は予算要求ヒアリングの日程を確認する。"
        ),
    )
    services.meeting_close(meeting=past, actor=organiser)
    result.meetings_created += 1


def load() -> DemoResult:
    """The demo meetings, once (after the organisation and the records schedule)."""
    result = DemoResult()
    if Meeting.objects.filter(organiser__is_demo=True).exists():
        return result
    _chogi(result)
    _finance_meetings(result)
    return result

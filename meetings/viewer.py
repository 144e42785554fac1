"""The tablet viewer: one full-screen page, live over /ws/meetings/<id>/.

The page itself carries no meeting data beyond its title: the socket's snapshot brings the
state (meetings/consumers.py), and the images come from `meetings:page_image`, which
re-checks access on every request. Script and style are static files (the CSP allows no
inline script); the Japanese strings the script shows are passed as JSON data.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .models import Meeting
from .services import can_attend, can_present


def viewer_strings() -> dict[str, str]:
    return {
        "follow": _("発表者に追従中"),
        "free": _("自由に閲覧中"),
        "forced": _("強制同期中（発表者の画面に固定）"),
        "presenting": _("発表者として操作中"),
        "forcedBlocked": _("強制同期中のため、ページは発表者が送ります。"),
        "pageOf": _("{page} / {pages} ページ"),
        "noPage": _("– / – ページ"),
        "imageAlt": _("{title} {page}ページ"),
        "nothingShown": _("発表者はまだ資料を表示していません。「資料」から選んで閲覧できます。"),
        "revokedGone": _("この資料は回収されました。"),
        "notRendered": _("（準備中）"),
        "draft": _("会議はまだ公開されていません。"),
        "closed": _("会議は終了しました。"),
        "imageFailed": _("ページの画像を読み込めませんでした。"),
        "reconnecting": _("再接続中…（接続が戻ると発表者の画面に合わせます）"),
        "signedOut": _("ログインが切れました。ページを再読み込みしてログインし直してください。"),
        "forbidden": _("この会議を表示する権限がありません。"),
        "saving": _("保存中…"),
        "saved": _("保存しました"),
        "readOnly": _("古い版のメモです（読み取り専用）。"),
        "revokeConfirm": _(
            "資料「{title}」を回収します。全員の画面からすぐに消え、元に戻せません。"
            "よろしいですか？"
        ),
        "pushDone": _("「{title}」を全員に表示しました。"),
        "online": _("接続中"),
        "offline": _("未接続"),
        "presenceCount": _("{online} / {total} 人"),
        "chooseMaterial": _("資料を選んでください"),
    }


@require_GET
@never_cache
@login_required
def meeting_viewer(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = get_object_or_404(Meeting, pk=pk)
    if not can_attend(request.user, meeting):
        raise Http404
    return render(
        request,
        "meetings/viewer.html",
        {
            "meeting": meeting,
            "can_present": can_present(request.user, meeting),
            "socket_path": f"/ws/meetings/{meeting.pk}/",
            "strings": viewer_strings(),
        },
    )

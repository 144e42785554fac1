"""The English UI: the catalogue in locale/en is complete, compiled, and used.

Japanese is the source language (the msgids); English comes from
locale/en/LC_MESSAGES/django.po and the committed django.mo next to it. After adding
strings, run makemessages and compilemessages (see the commands in
`test_every_message_has_an_english_translation`).
"""

from __future__ import annotations

import datetime as dt
import gettext
import re
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings

from approvals.services import document_create, document_submit
from tests.city import build_city
from tests.org.factories import StaffFactory

pytestmark = pytest.mark.django_db

TOKYO = ZoneInfo("Asia/Tokyo")
PO = Path(settings.BASE_DIR) / "locale" / "en" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")

# What each page must (and must not) say in each language.
LOGIN = {
    "en": (['lang="en"', "Log in", "User name", "Password"], ["ログイン", "パスワード"]),
    "ja": (['lang="ja"', "ログイン", "ユーザー名", "パスワード"], ["Log in", "Password"]),
}
HOME = {
    "en": (
        ['lang="en"', "Home", "Inbox", "My drafted documents", "New draft", "Log out"],
        ["ホーム", "受信箱", "新規起案", "ログアウト"],
    ),
    "ja": (
        ['lang="ja"', "ホーム", "受信箱", "自分の起案文書", "新規起案", "ログアウト"],
        ["My drafted documents", "Log out"],
    ),
}
INBOX = {
    "en": (
        ['lang="en"', "Inbox", "Pending", "Nothing is waiting for you.", "Unread notifications"],
        ["受信箱", "処理待ち", "未読のお知らせ"],
    ),
    "ja": (
        ['lang="ja"', "受信箱", "処理待ち", "処理待ちの案件はありません。", "未読のお知らせ"],
        ["Nothing is waiting for you.", "Unread notifications"],
    ),
}


def assert_says(body: str, expected: tuple[list[str], list[str]]) -> None:
    present, absent = expected
    for text in present:
        assert text in body, text
    for text in absent:
        assert text not in body, text


def set_language(client, language: str) -> None:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language


# --- pages -----------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "ja"])
def test_login_page_follows_the_browser_language(client, language: str) -> None:
    response = client.get("/login/", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    assert_says(response.content.decode(), LOGIN[language])


def test_login_page_is_japanese_without_a_preference(client) -> None:
    assert_says(client.get("/login/").content.decode(), LOGIN["ja"])


def test_login_error_is_english_only(client) -> None:
    response = client.post(
        "/login/", {"username": "nobody", "password": "wrong"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    body = response.content.decode()
    assert "The user name or password is incorrect." in body
    assert "正しくありません" not in body


@pytest.mark.parametrize("language", ["en", "ja"])
def test_home_and_inbox_follow_the_language_cookie(client, language: str) -> None:
    client.force_login(StaffFactory())
    set_language(client, language)
    home = client.get("/")
    assert home.status_code == 200
    assert_says(home.content.decode(), HOME[language])
    inbox = client.get("/inbox/")
    assert inbox.status_code == 200
    assert_says(inbox.content.decode(), INBOX[language])


def test_the_footer_switch_sets_english(client) -> None:
    client.force_login(StaffFactory())
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    assert_says(client.get("/").content.decode(), HOME["en"])
    client.post("/i18n/setlang/", {"language": "ja", "next": "/"})
    assert_says(client.get("/").content.decode(), HOME["ja"])


def test_inbox_item_in_english_uses_the_glossary_names(client) -> None:
    """Choice labels (stage kinds, the verb on the button) are translated too."""
    with time_machine.travel(dt.datetime(2026, 11, 26, 9, 0, tzinfo=TOKYO), tick=False):
        city = build_city()
    with time_machine.travel(dt.datetime(2026, 11, 26, 10, 0, tzinfo=TOKYO), tick=True):
        document = document_create(
            actor=city.drafter, title="コピー用紙の購入について", category=city.buppin
        )
        document_submit(document=document, actor=city.drafter)
        client.force_login(city.kakaricho)
        set_language(client, "en")
        body = client.get("/inbox/").content.decode()
    assert "コピー用紙の購入について" in body  # data stays as entered
    for text in ["1 item", "Circulation", "Drafter", "Approval", "Bulk approve selected"]:
        assert text in body, text
    for text in ["回議", "起案者", "一括承認"]:
        assert text not in body, text


# --- the catalogue ---------------------------------------------------------------------


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)


ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "r": "\r"}


def unquote(text: str) -> str:
    text = text.strip()
    assert text.startswith('"') and text.endswith('"'), text
    return re.sub(r"\\(.)", lambda m: ESCAPES.get(m.group(1), m.group(0)), text[1:-1])


def parse_po(path: Path) -> list[Entry]:
    """A small .po reader for what makemessages writes: entries separated by blank
    lines; obsolete entries (all lines commented out with #~) are skipped."""
    entries: list[Entry] = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        lines = block.strip("\n").splitlines()
        if not any(line.startswith("msgid ") for line in lines):
            continue
        entry = Entry()
        target: tuple[str, int] | None = None
        for line in lines:
            if line.startswith("#"):
                if line.startswith("#,"):
                    entry.flags |= {flag.strip() for flag in line[2:].split(",")}
                continue
            keyword = re.match(r'(msgctxt|msgid_plural|msgid|msgstr)(?:\[(\d+)\])? (".*")$', line)
            if keyword:
                name, index, value = keyword.groups()
                target = (name, int(index or 0))
            else:
                assert line.startswith('"') and target is not None, f"{path}: {line!r}"
                value = line
            kind, index = target
            if kind == "msgstr":
                entry.msgstr[index] = entry.msgstr.get(index, "") + unquote(value)
            else:
                setattr(entry, kind, (getattr(entry, kind) or "") + unquote(value))
        entries.append(entry)
    return entries


PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]|%[sdif]|\{\w*\}")


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def test_every_message_has_an_english_translation() -> None:
    """New strings must not stay Japanese in the English UI. Compares the .po only:

    .venv/bin/python manage.py makemessages -l en --ignore=.venv --ignore=var \\
        --ignore=tests --ignore=bench --no-obsolete
    (translate the new msgstr entries, remove any "fuzzy" flags)
    .venv/bin/python manage.py compilemessages -l en --ignore=.venv
    """
    entries = parse_po(PO)
    header = [e for e in entries if e.msgid == ""]
    assert len(header) == 1 and "fuzzy" not in header[0].flags
    assert "Plural-Forms: nplurals=2; plural=(n != 1);" in header[0].msgstr[0]
    messages = [e for e in entries if e.msgid != ""]
    assert len(messages) > 300  # the parser really read the file
    problems = []
    for e in messages:
        where = repr(e.msgid)
        if "fuzzy" in e.flags:
            problems.append(f"{where}: fuzzy")
        forms = 2 if e.msgid_plural is not None else 1
        if sorted(e.msgstr) != list(range(forms)) or not all(e.msgstr.values()):
            problems.append(f"{where}: untranslated")
            continue
        source = placeholders(e.msgid_plural if e.msgid_plural is not None else e.msgid)
        for text in e.msgstr.values():
            got = placeholders(text)
            if got != source and not (e.msgid_plural is not None and set(got) <= set(source)):
                problems.append(f"{where}: placeholders {got} != {source}")
        if re.search(r"[\u3040-\u30ff]", "".join(e.msgstr.values())):
            problems.append(f"{where}: kana left in the English text")
    assert not problems, "\n".join(problems)


def test_the_committed_mo_matches_the_po() -> None:
    """The .mo is committed for machines without gettext: it must not lag the .po."""
    with MO.open("rb") as handle:
        catalogue = gettext.GNUTranslations(handle)
    stale = []
    for e in parse_po(PO):
        if e.msgid == "" or "fuzzy" in e.flags:
            continue
        key = e.msgid if e.msgctxt is None else f"{e.msgctxt}\x04{e.msgid}"
        if e.msgid_plural is None:
            ok = catalogue.gettext(key) == e.msgstr.get(0)
        else:
            ok = catalogue.ngettext(key, e.msgid_plural, 1) == e.msgstr.get(0) and (
                catalogue.ngettext(key, e.msgid_plural, 2) == e.msgstr.get(1)
            )
        if not ok:
            stale.append(e.msgid)
    assert not stale, f"run compilemessages -l en --ignore=.venv; stale: {stale[:5]}"

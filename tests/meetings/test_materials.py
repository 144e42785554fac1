"""Materials: upload checks, rendering, versions and notes, access to page images."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from pypdf import PdfReader, PdfWriter

from meetings import services
from meetings.models import Material, MaterialVersion, Note, Page, ViewerPage
from meetings.tasks import render_version
from meetings.validation import MaterialRefused
from tests.meetings.conftest import drain, make_pdf, upload
from workflow.errors import NotAllowed

pytestmark = pytest.mark.django_db


def staff(city, name):
    return {"drafter": city.drafter, "outsider": city.outsider, "kakaricho": city.kakaricho}[name]


def fetch(client, url: str):
    """GET an image and close the streaming response; returns (status, response, body)."""
    response = client.get(url)
    body = drain(response) if response.status_code == 200 else b""
    return response.status_code, response, body


def encrypted_pdf() -> bytes:
    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(make_pdf(1))))
    writer.encrypt("secret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (make_pdf(2)[:400] + b"garbage" * 50, "broken.pdf", "PDFとして読めません"),
        (encrypted_pdf(), "locked.pdf", "暗号化"),
        (b"", "empty.pdf", "空のファイル"),
        (b"PK\x03\x04 this is a zip, not a pdf" * 10, "renamed.pdf", "PDF、PNG、JPEG 以外"),
        (make_pdf(4), "long.pdf", "ページ数が多すぎます（4ページ、上限 3ページ）"),
    ],
    ids=["corrupt", "encrypted", "zero-bytes", "not-a-pdf", "too-many-pages"],
)
def test_bad_uploads_are_refused_and_nothing_is_saved(
    settings, city, meeting, media, data, name, message
) -> None:
    settings.MEETINGS_MAX_PAGES = 3
    with pytest.raises(MaterialRefused) as err:
        services.material_add(
            meeting=meeting, actor=city.kacho, title="資料", upload=upload(data, name)
        )
    assert message in err.value.message
    assert not Material.objects.exists() and not MaterialVersion.objects.exists()
    assert not any(p.is_file() for p in media.rglob("*")) if media.exists() else True


def test_only_the_organiser_side_adds_materials(city, meeting) -> None:
    with pytest.raises(NotAllowed):
        services.material_add(
            meeting=meeting, actor=city.drafter, title="資料", upload=upload(make_pdf(1))
        )


def publish_and_render(city, meeting, material_count: int = 1, confidential: bool = False):
    materials = [
        services.material_add(
            meeting=meeting,
            actor=city.kacho,
            title=f"資料{i}",
            upload=upload(make_pdf(3)),
            confidential=confidential,
        )
        for i in range(material_count)
    ]
    services.meeting_publish(meeting=meeting, actor=city.kacho)
    for m in materials:
        render_version.call(m.current_version_id)
        m.refresh_from_db()
    return materials


def test_publish_renders_every_page_at_two_sizes(city, meeting, client) -> None:
    (material,) = publish_and_render(city, meeting)
    version = material.current_version
    assert version.render_status == "done" and version.render_done == version.render_total == 3
    page = Page.objects.get(version=version, number=1)
    assert page.width == 1024 and page.image and page.image_2x
    client.force_login(staff(city, "drafter"))
    url = reverse("meetings:page_image", args=[meeting.pk, version.pk, 1])
    status, response, _body = fetch(client, url)
    assert status == 200 and response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "private, no-cache"
    _status, _response, big = fetch(client, url + "?z=2")
    assert big[:3] == b"\xff\xd8\xff"


def test_page_images_are_refused_to_outsiders_and_after_revoke(city, meeting, client) -> None:
    (material,) = publish_and_render(city, meeting)
    url = reverse("meetings:page_image", args=[meeting.pk, material.current_version_id, 1])
    client.force_login(staff(city, "outsider"))
    assert fetch(client, url)[0] == 404
    client.force_login(staff(city, "drafter"))
    assert fetch(client, url)[0] == 200
    services.material_revoke(material=material, actor=city.kacho)
    assert fetch(client, url)[0] == 404
    services.participant_remove(meeting=meeting, actor=city.kacho, staff=city.drafter)


def test_confidential_pages_are_per_viewer_and_never_cached(city, meeting, client) -> None:
    (material,) = publish_and_render(city, meeting, confidential=True)
    version = material.current_version
    page = Page.objects.get(version=version, number=1)
    assert page.image == ""  # no shared image of a confidential page
    viewers = set(ViewerPage.objects.filter(page=page).values_list("viewer_id", flat=True))
    assert viewers == {city.kacho.pk, city.drafter.pk, city.kakaricho.pk}
    client.force_login(staff(city, "drafter"))
    url = reverse("meetings:page_image", args=[meeting.pk, version.pk, 1])
    status, response, mine = fetch(client, url)
    assert status == 200
    assert response["Cache-Control"] == "private, no-store"
    client.force_login(staff(city, "kakaricho"))
    theirs = fetch(client, url)[2]
    assert mine != theirs  # each carries its viewer's name


def test_removed_participant_loses_images_at_once(city, meeting, client) -> None:
    (material,) = publish_and_render(city, meeting, confidential=True)
    url = reverse("meetings:page_image", args=[meeting.pk, material.current_version_id, 1])
    client.force_login(staff(city, "drafter"))
    assert fetch(client, url)[0] == 200
    services.participant_remove(meeting=meeting, actor=city.kacho, staff=city.drafter)
    assert fetch(client, url)[0] == 404
    assert not ViewerPage.objects.filter(viewer=city.drafter).exists()


def test_notes_carry_to_unchanged_pages_of_a_new_version(city, meeting) -> None:
    (material,) = publish_and_render(city, meeting)
    v1 = material.current_version
    for n in (1, 2, 3):
        services.note_save(staff=city.drafter, version=v1, page_number=n, text=f"メモ {n}")
    v2 = services.material_replace(
        material=material, actor=city.kacho, upload=upload(make_pdf(3, changed={2}))
    )
    material.refresh_from_db()
    assert material.current_version == v1  # until the new version is rendered
    render_version.call(v2.pk)
    material.refresh_from_db()
    assert material.current_version == v2
    carried = dict(Note.objects.filter(version=v2).values_list("page_number", "text"))
    assert carried == {1: "メモ 1", 3: "メモ 3"}
    kept = Note.objects.get(version=v1, page_number=2)
    assert kept.read_only
    with pytest.raises(services.MeetingError):
        services.note_save(staff=city.drafter, version=v1, page_number=2, text="変更")


def test_notes_are_private_to_participants(city, meeting) -> None:
    (material,) = publish_and_render(city, meeting)
    with pytest.raises(NotAllowed):
        services.note_save(
            staff=city.outsider, version=material.current_version, page_number=1, text="x"
        )


def test_a_superuser_not_invited_sees_nothing(city, meeting, client) -> None:
    from org.models import Staff

    (material,) = publish_and_render(city, meeting)
    admin = Staff.objects.get(username="city-admin")
    assert admin.is_superuser
    assert not services.can_attend(admin, meeting)
    client.force_login(admin)
    url = reverse("meetings:page_image", args=[meeting.pk, material.current_version_id, 1])
    assert fetch(client, url)[0] == 404


def test_chair_can_be_changed_and_classification_set_after_close(city, meeting) -> None:
    services.meeting_update(meeting=meeting, actor=city.kacho, chair=city.kakaricho)
    assert services.can_present(city.kakaricho, meeting)
    services.meeting_publish(meeting=meeting, actor=city.kacho)
    services.meeting_close(meeting=meeting, actor=city.kacho)
    with pytest.raises(services.MeetingError):
        services.meeting_update(meeting=meeting, actor=city.kacho, title="変更")
    services.meeting_update(meeting=meeting, actor=city.kacho, classification=None)

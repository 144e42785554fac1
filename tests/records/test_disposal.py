"""廃棄・移管: expired files are listed, may be extended, go through the sections' consent
and the 文書主管課長's decision, and are executed in the background — tombstones and
deleted content for 廃棄, a valid BagIt package of verifiable PDFs for 移管 — resumably."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.storage import default_storage
from django.urls import clear_url_caches, include, path
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_verify
from records import disposal
from records import files as file_services
from records.bagit import bag_info, bag_validate
from records.models import (
    Classification,
    ClassificationSchedule,
    DisposalBatch,
    DisposalItem,
    DisposalRegisterEntry,
    Hold,
    Record,
    RecordFile,
)
from records.verification import verify_pdf
from tests.city import City, build_city
from tests.records.test_record_lifecycle import decide, run_worker
from workflow.errors import InvalidRequest, NotAllowed
from workflow.models import Route, Step
from workflow.services import step_approve

pytestmark = pytest.mark.django_db(transaction=True)

JST = ZoneInfo("Asia/Tokyo")
DAY = dt.datetime(2026, 11, 26, 10, 0, tzinfo=JST)


def _urlpatterns() -> list:
    """records/urls.py with the disposal pages, as the project includes them."""
    from config import urls as project
    from records import urls as records_urls

    records = (
        [*records_urls.urlpatterns, path("disposal/", include("records.disposal_urls"))],
        "records",
    )
    rest = [p for p in project.urlpatterns if getattr(p, "namespace", None) != "records"]
    return [path("records/", include(records)), *rest]


urlpatterns: list = []


@pytest.fixture(autouse=True)
def disposal_urls(settings):
    """Until records/urls.py includes records.disposal_urls, mount it for these tests."""
    from django.urls import NoReverseMatch, reverse

    try:
        reverse("records:disposal", args=[1])
    except NoReverseMatch:
        urlpatterns[:] = _urlpatterns()
        settings.ROOT_URLCONF = __name__
        clear_url_caches()
    yield
    clear_url_caches()


@pytest.fixture
def demo_signing(settings, tmp_path):
    """`init_pki`'s demo CA, B-B (as in test_record_lifecycle)."""
    from django.core.management import call_command

    settings.PKI_DIR = tmp_path / "pki"
    settings.SIGNING = {
        **settings.SIGNING,
        "LEVEL": "B-B",
        "PKCS12_PATH": str(settings.PKI_DIR / "signer.p12"),
        "TSA_URL": "",
        "TRUST_ROOTS": [],
    }
    call_command("init_pki", verbosity=0)
    return settings.SIGNING


@pytest.fixture
def var_dir(settings, tmp_path) -> Path:
    settings.VAR_DIR = tmp_path / "var"
    settings.VAR_DIR.mkdir()
    return settings.VAR_DIR


def _schedule(city: City) -> tuple[Classification, Classification]:
    schedule = ClassificationSchedule.objects.create(
        version=1,
        effective_from=dt.date(2020, 4, 1),
        created_by=city.records_officer,
        created_at=timezone.now(),
    )

    def node(code, name, level, parent=None, **kw):
        return Classification.objects.create(
            schedule=schedule, code=code, name=name, level=level, parent=parent, **kw
        )

    major = node("01", "総務", 1)
    middle = node("01-01", "庶務", 2, major)
    destroy = node("01-01-01", "後援・共催", 3, middle, retention="5", disposition="destroy")
    transfer = node("01-01-02", "例規の制定", 3, middle, retention="5", disposition="transfer")
    return destroy, transfer


def _file(city: City, department, classification, name: str, records) -> RecordFile:
    """A file of FY2020 completed on 2021-03-31 with 5年: 起算日 2021-04-01, 満了日 2026-03-31."""
    file = file_services.file_create(
        department=department,
        classification=classification,
        fiscal_year=2020,
        actor=city.records_officer,
        name=name,
    )
    for record in records:
        file_services.record_file_assign(record=record, file=file, actor=city.records_officer)
    return file_services.file_complete(
        file=file, completed_on=dt.date(2021, 3, 31), actor=city.records_officer
    )


def _approve_all(route: Route) -> list[str]:
    acted = []
    while (step := Step.objects.filter(route=route, status="pending").first()) is not None:
        step_approve(step=step, actor=step.assignee)
        acted.append(step.assignee.username)
    return acted


@pytest.fixture
def world(demo_signing, media, var_dir):
    with time_machine.travel(DAY, tick=True):
        city = build_city()
        docs = [
            decide(city, "後援名義の使用について（A）"),
            decide(city, "共催事業の実施について（B）"),
            decide(city, "財務規則の一部改正について", drafter=city.zaisei_kacho),
        ]
        run_worker()
        records = [Record.objects.get(source_id=d.pk) for d in docs]
        assert all(r.status == Record.Status.SIGNED for r in records)
        destroy, transfer = _schedule(city)
        a = _file(city, city.soumu_ka, destroy, "後援・共催（令和2年度）", records[:2])
        b = _file(city, city.zaisei_ka, transfer, "財務規則（令和2年度）", records[2:])
        yield city, a, b, [Record.objects.get(pk=r.pk) for r in records]


def test_expired_files_are_candidates_and_an_extension_takes_one_out(world) -> None:
    city, a, b, _records = world
    with time_machine.travel(DAY, tick=True):
        assert disposal.file_start_date(a) == dt.date(2021, 4, 1)
        assert disposal.file_end_date(a) == dt.date(2026, 3, 31)
        assert {f.pk for f in disposal.disposal_candidates()} == {a.pk, b.pk}
        # Not yet due the day before the period ends.
        assert not disposal.disposal_candidates(dt.date(2026, 3, 31)).exists()
        with pytest.raises(NotAllowed):
            disposal.file_extend(file=b, actor=city.kacho, reason="他課の課長")
        with pytest.raises(InvalidRequest):
            disposal.file_extend(file=b, actor=city.zaisei_kacho, reason=" ")
        disposal.file_extend(file=b, actor=city.zaisei_kacho, reason="改正経過の照会が続くため")
        b.refresh_from_db()
        assert b.extension_years == 1
        assert disposal.file_end_date(b) == dt.date(2027, 3, 31)
        assert [f.pk for f in disposal.disposal_candidates()] == [a.pk]
        event = AuditEvent.objects.get(action="records.file.extended")
        assert event.data["old"]["extension_years"] == 0
        assert event.data["new"]["extension_years"] == 1
        with pytest.raises(InvalidRequest):
            disposal.disposal_batch_create(fiscal_year=2026, files=[b], actor=city.records_officer)


def test_a_file_under_an_open_hold_cannot_be_put_in_a_batch(world) -> None:
    city, a, b, _records = world
    with time_machine.travel(DAY, tick=True):
        hold = file_services.hold_register(
            kind=Hold.Kind.DISCLOSURE,
            reference="情公第12号",
            reason="情報公開請求",
            started_on=dt.date(2026, 10, 1),
            actor=city.records_officer,
            files=[a],
        )
        assert [f.pk for f in disposal.disposal_candidates()] == [b.pk]
        with pytest.raises(InvalidRequest, match="延長事由"):
            disposal.disposal_batch_create(
                fiscal_year=2026, files=[a, b], actor=city.records_officer
            )
        assert not DisposalBatch.objects.exists()
        # 施行令第9条: kept one year counted from the day after the decision (民法第140条).
        file_services.hold_decide(
            hold=hold, decided_on=dt.date(2026, 11, 1), actor=city.records_officer
        )
        assert a.pk not in {f.pk for f in disposal.disposal_candidates(dt.date(2027, 11, 1))}
        due = {f.pk for f in disposal.disposal_candidates(dt.date(2027, 11, 2))}
        assert due == {a.pk, b.pk}
        with pytest.raises(NotAllowed):
            disposal.disposal_batch_create(fiscal_year=2026, files=[b], actor=city.kacho)


def test_batch_is_consented_decided_and_executed_with_a_resumed_interruption(
    world, client, monkeypatch
) -> None:
    city, a, b, records = world
    destroyed = records[:2]
    names = {r.pk: {r.pdf.name, *(v.file.name for v in r.versions.all())} for r in records}
    assert all(default_storage.exists(n) for ns in names.values() for n in ns)
    with time_machine.travel(DAY, tick=True):
        batch = disposal.disposal_batch_create(
            fiscal_year=2026, files=[a, b], actor=city.records_officer
        )
        assert dict(batch.items.values_list("file_id", "action")) == {
            a.pk: "destroy",
            b.pk: "transfer",
        }
        assert not disposal.disposal_candidates().exists()  # both are in the round now
        route = disposal.disposal_batch_submit(batch=batch, actor=city.records_officer)
        batch.refresh_from_db()
        assert batch.status == DisposalBatch.Status.IN_REVIEW
        steps = list(route.steps.select_related("stage").order_by("stage__position", "position"))
        assert [(s.stage.kind, s.department_id) for s in steps] == [
            ("consultation", city.soumu_ka.pk),
            ("consultation", city.zaisei_ka.pk),
            ("decision", city.soumu_ka.pk),  # the records officer's 課: 文書主管課
        ]

        # Pages: the consulted 課長 sees the batch; a stranger sees nothing.
        client.force_login(city.zaisei_kacho)
        assert client.get(batch.get_absolute_url()).status_code == 200
        client.force_login(city.outsider)
        assert client.get(batch.get_absolute_url()).status_code == 404
        assert client.get("/records/disposal/").status_code == 404

        # A worker that dies after the first item.
        real = disposal._execute_item
        calls = {"n": 0}

        def crash_after_one(item_id: int, approved_by: str) -> bool:
            if calls["n"] >= 1:
                raise RuntimeError("worker killed")
            calls["n"] += 1
            return real(item_id, approved_by)

        monkeypatch.setattr(disposal, "_execute_item", crash_after_one)
        assert sorted(_approve_all(route)) == ["kacho", "kacho", "zaisei"]
        batch.refresh_from_db()
        assert batch.status == DisposalBatch.Status.APPROVED and batch.approved_at
        run_worker()
        batch.refresh_from_db()
        assert batch.status == DisposalBatch.Status.EXECUTING
        assert DisposalItem.objects.filter(batch=batch, done_at__isnull=False).count() == 1
        assert DisposalRegisterEntry.objects.count() == 2
        monkeypatch.setattr(disposal, "_execute_item", real)

    # The retry (scheduled with backoff) finishes the batch.
    with time_machine.travel(DAY + dt.timedelta(minutes=10), tick=True):
        run_worker()
        batch.refresh_from_db()
        assert batch.status == DisposalBatch.Status.EXECUTED and batch.executed_at
        disposal.disposal_execute(batch=batch)  # once more: nothing changes

    # 廃棄: tombstones with the hashes and approvers; content gone; rows kept.
    entries = list(DisposalRegisterEntry.objects.order_by("record_id"))
    assert [e.record_id for e in entries] == [r.pk for r in destroyed]
    for entry, record in zip(entries, destroyed, strict=True):
        assert entry.sha256 == record.sha256 and len(entry.sha256) == 64
        assert entry.title == record.title and entry.number == record.number
        assert entry.start_date == dt.date(2021, 4, 1) and entry.end_date == dt.date(2026, 3, 31)
        assert entry.classification == "01 総務 > 01-01 庶務 > 01-01-01 後援・共催"
        assert "課長 二郎" in entry.approved_by and "財政 五郎" in entry.approved_by
        assert entry.approved_by.index("決裁") > entry.approved_by.index("承諾")
        kept = Record.objects.get(pk=record.pk)
        assert kept.pdf.name == "" and kept.sha256 == record.sha256
        assert not any(default_storage.exists(n) for n in names[record.pk])
        # The source's own content went too; its row stays as the tombstone.
        source = kept.source
        assert source.body == "（保存期間満了により廃棄）"
        assert not source.attachments.exclude(file="").exists()
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.status == RecordFile.Status.DESTROYED
    assert b.status == RecordFile.Status.TRANSFERRED

    # 移管: a valid bag whose PDFs verify; the records are kept.
    package = Path(batch.package_path)
    assert package == Path(disposal.transfer_dir(batch)) and package.is_dir()
    assert bag_validate(package) == []
    assert not list(package.parent.glob(".*tmp*"))  # no half package left behind
    info = bag_info(package)
    assert info["Payload-Oxum"].endswith(".3")  # one PDF, its JSON, metadata.csv
    assert "移管" in info["External-Description"] and info["Source-Organization"]
    transferred = records[2]
    assert all(default_storage.exists(n) for n in names[transferred.pk])
    pdf = package / "data" / str(b.pk) / f"{transferred.number}.pdf"
    meta = json.loads(pdf.with_suffix(".json").read_text(encoding="utf-8"))
    assert meta["sha256"] == transferred.sha256 and meta["file"]["disposition"] == "移管"
    report = verify_pdf(pdf.read_bytes(), expected_sha256=transferred.sha256)
    assert report.ok, report.summary_line()
    csv_bytes = (package / "data" / "metadata.csv").read_bytes()
    assert csv_bytes.startswith(b"\xef\xbb\xbf") and transferred.sha256.encode() in csv_bytes

    # One tombstone per record even after the interruption; an audit trail throughout.
    assert AuditEvent.objects.filter(action="records.file.destroyed").count() == 1
    assert AuditEvent.objects.filter(action="records.disposal.executed").count() == 1
    assert list(audit_verify()) == []

    # The batch page lists the 廃棄簿 rows for an officer.
    client.force_login(city.records_officer)
    page = client.get(batch.get_absolute_url()).content.decode()
    assert destroyed[0].sha256 in page and "執行済" in page


def test_bag_validate_finds_tampering_and_stray_files(world, tmp_path) -> None:
    city, _a, b, _records = world
    with time_machine.travel(DAY, tick=True):
        batch = disposal.disposal_batch_create(
            fiscal_year=2026, files=[b], actor=city.records_officer
        )
        package = disposal.transfer_package_ensure(batch=batch)
        assert bag_validate(package) == []
        # A complete package is reused, not rebuilt.
        mtime = (package / "bagit.txt").stat().st_mtime_ns
        assert disposal.transfer_package_ensure(batch=batch) == package
        assert (package / "bagit.txt").stat().st_mtime_ns == mtime
    copy = tmp_path / "copy"
    shutil.copytree(package, copy)
    pdf = next((copy / "data").rglob("*.pdf"))
    data = bytearray(pdf.read_bytes())
    data[100] ^= 1
    pdf.write_bytes(bytes(data))
    (copy / "data" / "stray.txt").write_text("x", encoding="utf-8")
    problems = bag_validate(copy)
    assert any("sha256 does not match" in p for p in problems)
    assert any("stray.txt" in p and "not in the manifest" in p for p in problems)
    assert any("Payload-Oxum" in p for p in problems)


def test_candidate_pages_follow_the_roles(world, client) -> None:
    city, a, b, _records = world
    with time_machine.travel(DAY, tick=True):
        client.force_login(city.outsider)
        assert client.get("/records/disposal/").status_code == 404
        assert (
            client.post(f"/records/disposal/files/{a.pk}/extend/", {"reason": "x"}).status_code
            == 404
        )
        assert client.post("/records/disposal/batches/new/", {"files": [a.pk]}).status_code == 404
        # A 課長 sees the own section's candidates and extends with a reason.
        client.force_login(city.zaisei_kacho)
        page = client.get("/records/disposal/").content.decode()
        assert f"/files/{b.pk}/extend/" in page and f"/files/{a.pk}/extend/" not in page
        client.post(f"/records/disposal/files/{b.pk}/extend/", {"reason": "照会対応"})
        b.refresh_from_db()
        assert b.extension_years == 1
        # The officer sees every candidate and makes a batch from the selection.
        client.force_login(city.records_officer)
        page = client.get("/records/disposal/").content.decode()
        assert f"/files/{a.pk}/extend/" in page and f"/files/{b.pk}/extend/" not in page
        response = client.post(
            "/records/disposal/batches/new/", {"files": [a.pk], "fiscal_year": "2026"}
        )
        batch = DisposalBatch.objects.get()
        assert response.status_code == 302 and response["Location"] == batch.get_absolute_url()
        response = client.post(f"/records/disposal/{batch.pk}/submit/")
        batch.refresh_from_db()
        assert batch.status == DisposalBatch.Status.IN_REVIEW
        # The consulted 課長 finds it in the inbox, linking to the batch page.
        client.force_login(city.kacho)
        inbox = client.get("/inbox/").content.decode()
        assert batch.get_absolute_url() in inbox
        assert client.get(batch.get_absolute_url()).status_code == 200

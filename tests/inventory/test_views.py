"""Who may open and change what, the priority decision on the workflow engine, flow
files (BPMN checked safely), the import page, and the audit of every change."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from inventory import exchange
from inventory.models import (
    BusinessProcess,
    PaperDecisionCount,
    PriorityDecision,
    PriorityWeights,
    Procedure,
    ProcedureVolume,
    ProcessFlow,
)
from inventory.services import InventoryError, bpmn_check, decision_propose
from org.models import Staff
from tests.city import _person
from workflow.models import Step

pytestmark = pytest.mark.django_db


def objects(dx_city):
    now = timezone.now()
    procedure = Procedure.objects.create(
        procedure_id="V-1",
        name="転入届",
        staff_minutes=15,
        resident_minutes=60,
        department=dx_city.city.soumu_ka,
        created_at=now,
        updated_at=now,
    )
    ProcedureVolume.objects.create(
        procedure=procedure, fiscal_year=2024, total=3000, online=300, offline=2700
    )
    process = BusinessProcess.objects.create(
        number="P-1", name="住民異動事務", created_at=now, updated_at=now
    )
    flow = ProcessFlow.objects.create(
        process=process,
        kind="current",
        file="inventory/flows/ab/abc",
        original_name="f.pdf",
        size=1,
        sha256="ab",
        uploaded_by=dx_city.dx,
        uploaded_at=now,
    )
    decision = decision_propose(
        actor=dx_city.dx, procedure=procedure, rank=3, reason="件数が多い", score_snapshot={}
    )
    return procedure, process, flow, decision


def personas(dx_city) -> dict[str, Staff | None]:
    city = dx_city.city
    hr = _person("hr-person", "人事", "係", city.soumu_ka, city.posts["shuji"], "hr")
    return {
        "anonymous": None,
        "staff": city.outsider,
        "manager": city.kacho,
        "records_officer": city.records_officer,
        "hr": hr,
        "dx_office": dx_city.dx,
        "dx_head": city.kikaku_kacho,
        "superuser": Staff.objects.get(username="city-admin"),
    }


EDITORS = {"dx_office", "superuser"}


def test_each_role_against_each_page(dx_city) -> None:
    procedure, process, _flow, decision = objects(dx_city)
    read = [
        "/inventory/",
        "/inventory/procedures/",
        f"/inventory/procedures/{procedure.pk}/",
        "/inventory/ranking/",
        f"/inventory/decisions/{decision.pk}/",
        "/inventory/processes/",
        f"/inventory/processes/{process.pk}/",
        "/inventory/measured/",
        "/inventory/weights/",
        "/inventory/paper-decisions/",
        "/inventory/exports/",
        "/inventory/exports/national.xlsx",
        "/inventory/exports/national.csv",
        "/inventory/exports/publication.xlsx",
        "/inventory/exports/publication.csv",
        "/inventory/exports/catalogue.json",
        "/inventory/exports/catalogue.csv",
    ]
    write_pages = [
        "/inventory/procedures/new/",
        f"/inventory/procedures/{procedure.pk}/edit/",
        "/inventory/processes/new/",
        f"/inventory/processes/{process.pk}/edit/",
        "/inventory/import/",
    ]
    posts = [
        f"/inventory/procedures/{procedure.pk}/volumes/",
        f"/inventory/procedures/{procedure.pk}/decide/",
        f"/inventory/processes/{process.pk}/flows/",
        "/inventory/weights/",
        "/inventory/paper-decisions/",
        "/inventory/import/",
        "/inventory/procedures/new/",
        f"/inventory/processes/{process.pk}/edit/",
    ]
    wrong = []
    for persona, user in personas(dx_city).items():
        client = Client()
        if user is not None:
            client.force_login(user)
        for url in read + write_pages:
            response = client.get(url)
            if user is None:
                expected = 302
            elif url in write_pages and persona not in EDITORS:
                expected = 403
            else:
                expected = 200
            if response.status_code != expected:
                wrong.append(f"{persona} GET {url}: {response.status_code} != {expected}")
            if user is None and "/login/" not in response.get("Location", ""):
                wrong.append(f"{persona} GET {url}: not sent to the login page")
        for url in posts:
            response = client.post(url, {})
            if user is None:
                ok = response.status_code == 302 and "/login/" in response["Location"]
            elif persona in EDITORS:
                ok = response.status_code in (200, 302)  # a form error, never a 500
            else:
                ok = response.status_code == 403
            if not ok:
                wrong.append(f"{persona} POST {url}: {response.status_code}")
    assert not wrong, "\n".join(wrong)
    # Nothing was changed by the refused or empty posts.
    assert PriorityWeights.objects.count() == 1 and not PaperDecisionCount.objects.exists()
    assert PriorityDecision.objects.count() == 1


def test_a_priority_decision_goes_to_the_dx_head(dx_city, client) -> None:
    city = dx_city.city
    procedure, _process, _flow, _decision = objects(dx_city)
    decision = PriorityDecision.objects.get()
    step = Step.objects.get(route__subject_id=decision.pk, status="pending")
    assert step.assignee == city.kikaku_kacho  # the head of the DX department
    # A second proposal for the same procedure waits until this one is decided.
    with pytest.raises(InventoryError):
        decision_propose(
            actor=dx_city.dx, procedure=procedure, rank=1, reason="x", score_snapshot={}
        )
    # Someone else cannot decide it; the head can, from the decision's page.
    client.force_login(city.kacho)
    client.post(f"/inbox/steps/{step.pk}/approve/", {"next": decision.get_absolute_url()})
    decision.refresh_from_db()
    assert decision.status == "in_review"
    client.force_login(city.kikaku_kacho)
    inbox = client.get("/inbox/").content.decode()
    assert "DX優先順位の決定: 転入届" in inbox and decision.get_absolute_url() in inbox
    page = client.get(decision.get_absolute_url()).content.decode()
    assert f"/inbox/steps/{step.pk}/approve/" in page
    response = client.post(
        f"/inbox/steps/{step.pk}/approve/", {"next": decision.get_absolute_url()}
    )
    assert response.status_code == 302
    decision.refresh_from_db()
    assert decision.status == "decided" and decision.decided_by == city.kikaku_kacho
    # The human rank shows beside the computed one, apart from it.
    body = client.get("/inventory/ranking/").content.decode()
    row = body[body.index('data-procedure="V-1"') :]
    assert '<td class="num">3</td>' in row[: row.index("</tr>")]
    actions = set(
        AuditEvent.objects.filter(action__startswith="inventory.decision").values_list(
            "action", flat=True
        )
    )
    assert actions == {"inventory.decision.proposed", "inventory.decision.decided"}


def test_return_reject_and_withdraw(dx_city, client) -> None:
    city = dx_city.city
    _procedure, _process, _flow, decision = objects(dx_city)
    step = Step.objects.get(route__subject_id=decision.pk, status="pending")
    client.force_login(city.kikaku_kacho)
    response = client.post(
        f"/inventory/decisions/{decision.pk}/steps/{step.pk}/reject/", {"comment": ""}
    )
    assert response.status_code == 302
    decision.refresh_from_db()
    assert decision.status == "in_review"  # a reason is required
    client.post(
        f"/inventory/decisions/{decision.pk}/steps/{step.pk}/return/", {"comment": "根拠を追記"}
    )
    decision.refresh_from_db()
    assert decision.status == "returned"
    client.force_login(dx_city.dx)
    client.post(f"/inventory/decisions/{decision.pk}/withdraw/", {"comment": "出し直し"})
    decision.refresh_from_db()
    assert decision.status == "withdrawn"


BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d1">
  <bpmn:process id="p1"><bpmn:startEvent id="s"/><bpmn:userTask id="t1" name="受付"/>
  <bpmn:exclusiveGateway id="g"/><bpmn:serviceTask id="t2"/><bpmn:endEvent id="e"/></bpmn:process>
</bpmn:definitions>""".encode()
LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&lol2;</bpmn:definitions>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&x;</bpmn:definitions>"""


def test_bpmn_is_checked_safely() -> None:
    assert bpmn_check(BPMN).as_dict() == {"processes": 1, "tasks": 2, "events": 2, "gateways": 1}
    for bad, text in [
        (LAUGHS, "DOCTYPE"),
        (XXE, "DOCTYPE"),
        (b"<html><body/></html>", "BPMN 2.0"),
        (b"<bpmn:definitions", "XML として読めません"),
    ]:
        with pytest.raises(InventoryError) as info:
            bpmn_check(bad)
        assert text in info.value.ja


def test_flow_upload_page(dx_city, client, settings, tmp_path) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    now = timezone.now()
    process = BusinessProcess.objects.create(
        number="P-9", name="業務", created_at=now, updated_at=now
    )
    client.force_login(dx_city.dx)
    url = f"/inventory/processes/{process.pk}/flows/"
    client.post(url, {"kind": "current", "file": SimpleUploadedFile("asis.bpmn", BPMN)})
    response = client.post(
        url, {"kind": "revised", "file": SimpleUploadedFile("bad.bpmn", LAUGHS)}, follow=True
    )
    assert "DOCTYPE" in response.content.decode()
    client.post(url, {"kind": "revised", "file": SimpleUploadedFile("tobe.pdf", b"%PDF-1.7 ...")})
    flows = list(process.flows.order_by("pk"))
    assert [(f.original_name, f.is_bpmn) for f in flows] == [
        ("asis.bpmn", True),
        ("tobe.pdf", False),
    ]
    assert flows[0].bpmn_summary["tasks"] == 2
    download = client.get(f"/inventory/processes/{process.pk}/flows/{flows[0].pk}/")
    assert download.status_code == 200 and b"".join(download.streaming_content) == BPMN
    assert AuditEvent.objects.filter(action="inventory.flow.added").count() == 2


def test_import_page_reports_problems_and_imports_nothing(dx_city, client) -> None:
    client.force_login(dx_city.dx)
    bad = "\ufeff手続ID,手続名,オンライン化の実施状況\r\nA-1,転入届,1 実施済\r\nA-2,転出届,9\r\n"
    response = client.post(
        "/inventory/import/", {"file": SimpleUploadedFile("p.csv", bad.encode())}
    )
    body = response.content.decode()
    assert "行 3 列「オンライン化の実施状況」" in body and "何も取り込んでいません" in body
    assert not Procedure.objects.exists()
    good = bad.replace(",9\r\n", ",2 未実施\r\n")
    response = client.post(
        "/inventory/import/", {"file": SimpleUploadedFile("p.csv", good.encode())}, follow=True
    )
    assert "新規 2 件" in response.content.decode()
    assert Procedure.objects.get(procedure_id="A-2").online_status == "2"
    response = client.post("/inventory/import/", {"file": SimpleUploadedFile("p.txt", b"x")})
    assert "対応していない形式" in response.content.decode()
    response = client.post(
        "/inventory/import/", {"file": SimpleUploadedFile("p.xlsx", b"not a zip")}
    )
    assert response.status_code == 200 and "Excel ファイルを開けません" in response.content.decode()


def test_every_change_is_audited(dx_city, client) -> None:
    city = dx_city.city
    client.force_login(dx_city.dx)
    before = AuditEvent.objects.count()
    client.post(
        "/inventory/procedures/new/",
        {
            "procedure_id": "N-1",
            "name": "新しい手続",
            "procedure_type": "1",
            "online_status": "2",
            "seal": "required",
            "seal_basis": "",
            "staff_minutes": "10",
            "resident_minutes": "20",
            "channel_counter": "on",
        },
    )
    assert not Procedure.objects.filter(procedure_id="N-1").exists()  # seal needs its basis
    response = client.post(
        "/inventory/procedures/new/",
        {
            "procedure_id": "N-1",
            "name": "新しい手続",
            "procedure_type": "1",
            "online_status": "2",
            "seal": "required",
            "seal_basis": "custom",
            "staff_minutes": "10",
            "resident_minutes": "20",
            "channel_counter": "on",
        },
    )
    procedure = Procedure.objects.get(procedure_id="N-1")
    assert response.status_code == 302
    client.post(
        f"/inventory/procedures/{procedure.pk}/volumes/",
        {"fiscal_year": "2024", "total": "10", "online": "7", "offline": "2"},
    )
    assert not procedure.volumes.exists()  # 7 + 2 ≠ 10
    client.post(
        f"/inventory/procedures/{procedure.pk}/volumes/",
        {"fiscal_year": "2024", "total": "10", "online": "7", "offline": "3"},
    )
    edit = client.get(f"/inventory/procedures/{procedure.pk}/edit/")
    data = {k: v for k, v in edit.context["form"].initial.items() if v not in (None, False, [])}
    data.update({"name": "新しい手続（改）", "seal": "abolished", "seal_basis": ""})
    data = {k: (v.pk if hasattr(v, "pk") else v) for k, v in data.items()}
    client.post(f"/inventory/procedures/{procedure.pk}/edit/", data)
    procedure.refresh_from_db()
    assert procedure.name == "新しい手続（改）" and procedure.seal == "abolished"
    client.post(
        "/inventory/paper-decisions/",
        {"department": city.soumu_ka.pk, "fiscal_year": "2024", "count": "12"},
    )
    client.post(
        "/inventory/weights/",
        {
            "valid_from": "2030-04-01",
            "expected_online_share": "0.6",
            "staff_saving_share": "1",
            "resident_saving_share": "1",
            "base_difficulty": "1",
            "w_law_change": "3",
            "w_seal_certificate": "2",
            "w_paper_original": "2",
            "w_no_online_payment": "1",
            "w_in_person": "3",
            "w_no_system": "1",
            "national_multiplier": "1.5",
            "effect_threshold": "500",
            "difficulty_threshold": "4",
            "note": "見直し",
        },
    )
    client.post(
        "/inventory/processes/new/",
        {
            "number": "B-1",
            "name": "業務",
            "routine": "routine",
            "core": "core",
            "volume_q1": "1",
            "volume_q2": "2",
            "volume_q3": "3",
            "volume_q4": "4",
            "fte": "0.5",
            "system_cost": "0",
            "procedures": [procedure.pk],
        },
    )
    actions = list(
        AuditEvent.objects.filter(seq__gt=before).order_by("seq").values_list("action", flat=True)
    )
    assert actions == [
        "inventory.procedure.created",
        "inventory.volume.set",
        "inventory.procedure.updated",
        "inventory.paper_decisions.set",
        "inventory.weights.created",
        "inventory.process.created",
    ]
    updated = AuditEvent.objects.get(action="inventory.procedure.updated")
    assert (
        updated.data["old"]["name"] == "新しい手続" and updated.data["new"]["seal"] == "abolished"
    )
    assert BusinessProcess.objects.get(number="B-1").annual_volume == 10


def test_english_messages_and_group_names(dx_city) -> None:
    assert Group.objects.filter(name="dx_office").exists()
    with pytest.raises(InventoryError) as info:
        decision_propose(
            actor=dx_city.dx,
            procedure=Procedure.objects.create(
                procedure_id="E-1", name="x", created_at=timezone.now(), updated_at=timezone.now()
            ),
            rank=0,
            reason="x",
            score_snapshot={},
        )
    assert info.value.en == "The rank must be 1 or more."
    assert exchange.HEADERS[0] == "手続ID" and len(exchange.HEADERS) == 66
    assert io  # keep the import for readers of the file

"""Who may see and act on a 起案文書: every persona × every document state × every page,
API and WebSocket endpoint, against one table of expectations.

Visible: the drafter, and everyone on the route (their deputies too) once it is
submitted; nobody else — not other managers, not records officers or HR, not a
superuser who is not on the route. Invisible means 404 (the document's existence is
not revealed); signed-out means 302 to the login page (pages) or 401/403 (API).
"""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client
from rest_framework.test import APIClient

from approvals.models import Document
from approvals.services import document_create, document_submit
from config.asgi import application
from org.models import Staff
from tests.city import City, build_city
from tests.common.test_websocket import session_cookie_for
from workflow.models import Route, Step
from workflow.services import route_withdraw, step_approve, step_reject, step_return

pytestmark = pytest.mark.django_db

PERSONAS = [
    "drafter",
    "kakaricho",  # first approver on the route
    "hosa",  # second approver, and the decider's deputy
    "kacho",  # decider
    "bucho",  # the decider's superior, not on this route
    "zaisei_kacho",  # another section's manager
    "outsider",  # staff of another section
    "records_officer",  # same section, records role, not on the route
    "superuser",  # system administrator, not on the route
    "anonymous",
]
ON_ROUTE = {"drafter", "kakaricho", "hosa", "kacho"}
STATES = ["draft", "in_review", "returned", "withdrawn", "rejected", "decided", "confidential"]


def make_document(city: City, state: str) -> tuple[Document, Step | None]:
    """A document in `state`, and the step pending on it (if any)."""
    document = document_create(
        actor=city.drafter,
        title=f"権限確認 {state}",
        category=city.buppin,
        amount=50_000,
        confidentiality="confidential" if state == "confidential" else "normal",
    )
    if state == "draft":
        return document, None
    route = document_submit(document=document, actor=city.drafter)

    def pending() -> Step | None:
        return Step.objects.filter(route=route, status="pending").first()

    if state == "returned":
        step_return(step=pending(), actor=city.kakaricho, comment="修正を")
    elif state == "withdrawn":
        route_withdraw(route=route, actor=city.drafter)
    elif state == "rejected":
        step_reject(step=pending(), actor=city.kakaricho, comment="不要")
    elif state == "decided":
        while (step := pending()) is not None:
            step_approve(step=step, actor=step.assignee)
    return Document.objects.get(pk=document.pk), pending()


def people(city: City) -> dict[str, Staff | None]:
    found = {name: getattr(city, name) for name in PERSONAS if hasattr(city, name)}
    found["superuser"] = Staff.objects.get(username="city-admin")
    found["anonymous"] = None
    return found


def visible(persona: str, state: str) -> bool:
    if state == "draft":
        return persona == "drafter"
    return persona in ON_ROUTE


@pytest.mark.parametrize("state", STATES)
def test_permission_matrix(state: str) -> None:
    city = build_city()
    document, step = make_document(city, state)
    pk = document.pk
    wrong: list[str] = []

    def expect(persona: str, what: str, got: int, allowed: set[int]) -> None:
        if got not in allowed:
            wrong.append(f"{persona:16} {what:45} got {got}, expected one of {sorted(allowed)}")

    for persona, user in people(city).items():
        page, api = Client(), APIClient()
        if user is not None:
            page.force_login(user)
            api.force_authenticate(user)
        sees = visible(persona, state)
        if user is None:
            page_ok = page_no = {302}
            api_ok = api_no = {401, 403}
        else:
            page_ok, page_no = {200}, {404}
            api_ok, api_no = {200}, {404}
        expect(
            persona,
            "GET detail page",
            page.get(f"/approvals/documents/{pk}/").status_code,
            page_ok if sees else page_no,
        )
        # Edit and submit open for the drafter while editable; other viewers are sent
        # back to the detail page with a message.
        editable = persona == "drafter" and state in ("draft", "returned", "withdrawn")
        for url in (f"/approvals/documents/{pk}/edit/", f"/approvals/documents/{pk}/submit/"):
            got = page.get(url).status_code
            if not sees:
                expect(persona, f"GET {url}", got, page_no)
            elif user is not None:
                expect(persona, f"GET {url}", got, {200} if editable else {302})
        for url in (
            f"/api/v1/documents/{pk}/",
            f"/api/v1/documents/{pk}/route/",
            f"/api/v1/documents/{pk}/attachments/",
        ):
            expect(persona, f"GET {url}", api.get(url).status_code, api_ok if sees else api_no)
        listed = api.get("/api/v1/documents/?limit=200")
        if user is not None:
            ids = {row["id"] for row in listed.json()["results"]}
            if (pk in ids) != sees:
                wrong.append(f"{persona:16} document list shows it: {pk in ids}, expected {sees}")
        # Acting on the pending step: only its holder may; nobody else changes anything.
        if step is not None and user is not None and user.pk == step.assignee_id:
            continue
        if step is not None:
            got = api.post(f"/api/v1/steps/{step.pk}/approve/", {}, format="json").status_code
            expect(persona, "POST api approve", got, {401, 403} if user is None else {403})
            got = page.post(f"/inbox/steps/{step.pk}/approve/").status_code
            expect(persona, "POST page approve", got, {302})
            step.refresh_from_db()
            if step.status != "pending":
                wrong.append(f"{persona:16} changed the step by approving it")
    # The holder, finally, may act (when there is something pending).
    if step is not None:
        api = APIClient()
        api.force_authenticate(step.assignee)
        got = api.post(f"/api/v1/steps/{step.pk}/approve/", {}, format="json").status_code
        expect(step.assignee.username, "POST api approve (holder)", got, {200})
    assert not wrong, "\n".join(wrong)


@pytest.mark.django_db(transaction=True)
def test_inbox_socket_per_persona() -> None:
    """Anonymous is refused; everyone else hears only their own count."""
    city = build_city()
    make_document(city, "in_review")
    expected = {name: 0 for name in PERSONAS}
    expected["kakaricho"] = 1
    cookies = {
        name: session_cookie_for(user) for name, user in people(city).items() if user is not None
    }

    async def count(cookie: bytes | None) -> tuple[bool, int | None, int | None]:
        headers = [(b"origin", b"http://127.0.0.1")]
        if cookie:
            headers.append((b"cookie", cookie))
        comm = WebsocketCommunicator(application, "/ws/inbox/", headers=headers)
        connected, code = await comm.connect()
        if not connected:
            return False, code, None
        first = await comm.receive_output()
        if first["type"] == "websocket.close":  # accepted, then closed with the code
            return False, first.get("code"), None
        await comm.disconnect()
        return True, None, json.loads(first["text"])["count"]

    for persona in PERSONAS:
        connected, code, seen = async_to_sync(count)(cookies.get(persona))
        if persona == "anonymous":
            assert not connected and code == 4401
        else:
            assert connected and seen == expected[persona], persona
    assert Route.objects.count() == 1

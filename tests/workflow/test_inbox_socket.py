"""/ws/inbox/: a person hears about their own inbox only, and the sweep keeps itself queued."""

from __future__ import annotations

import datetime as dt

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.management import call_command
from django_tasks_db.models import DBTaskResult

from approvals.services import document_create, document_submit
from config.asgi import application
from tests.city import build_city
from tests.common.test_websocket import session_cookie_for
from workflow.models import Step
from workflow.services import step_approve
from workflow.tasks import reminders_sweep

pytestmark = pytest.mark.django_db(transaction=True)


def connect(user=None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://127.0.0.1")]
    if user is not None:
        headers.append((b"cookie", session_cookie_for(user)))
    return WebsocketCommunicator(application, "/ws/inbox/", headers=headers)


def test_inbox_socket_pushes_own_changes_only() -> None:
    city = build_city()
    kakaricho, outsider = connect(city.kakaricho), connect(city.outsider)

    def submit() -> Step:
        document = document_create(
            actor=city.drafter, title="備品", category=city.buppin, amount=1000
        )
        route = document_submit(document=document, actor=city.drafter)
        return Step.objects.get(route=route, status="pending")

    def approve(step: Step) -> None:
        step_approve(step=step, actor=city.kakaricho)

    async def scenario() -> dict:
        seen: dict = {}
        for comm in (kakaricho, outsider):
            connected, _ = await comm.connect()
            assert connected
        seen["hello_k"] = await kakaricho.receive_json_from()
        seen["hello_o"] = await outsider.receive_json_from()
        step = await sync_to_async(submit)()
        seen["pushed"] = await kakaricho.receive_json_from(timeout=5)
        seen["outsider_quiet"] = await outsider.receive_nothing(timeout=0.3)
        await sync_to_async(approve)(step)
        seen["after_approve"] = await kakaricho.receive_json_from(timeout=5)
        await kakaricho.send_json_to({"type": "hello"})
        seen["hello_again"] = await kakaricho.receive_json_from(timeout=5)
        await outsider.send_json_to({"type": "subscribe", "group": f"inbox.{city.kakaricho.pk}"})
        seen["refused"] = await outsider.receive_json_from(timeout=5)
        seen["outsider_still_quiet"] = await outsider.receive_nothing(timeout=0.3)
        await kakaricho.disconnect()
        await outsider.disconnect()
        return seen

    seen = async_to_sync(scenario)()
    assert seen["hello_k"] == {"type": "inbox.changed", "seq": 1, "count": 0}
    assert seen["hello_o"]["count"] == 0
    assert seen["pushed"] == {"type": "inbox.changed", "seq": 2, "count": 1}
    assert seen["outsider_quiet"]
    assert seen["after_approve"]["count"] == 0
    assert seen["hello_again"]["seq"] == 4
    assert seen["refused"]["type"] == "error"
    assert seen["outsider_still_quiet"]


def test_anonymous_inbox_socket_refused() -> None:
    async def attempt() -> tuple[bool, dict]:
        comm = connect()
        accepted, _ = await comm.connect()
        return accepted, await comm.receive_output()

    # Accepted and then closed at once with the code, nothing sent: the page reads 4401,
    # says "sign in again" and stops reconnecting (static/js/inbox.js).
    accepted, first = async_to_sync(attempt)()
    assert accepted and first == {"type": "websocket.close", "code": 4401}


def test_send_reminders_keeps_one_sweep_queued() -> None:
    call_command("send_reminders", "--schedule", verbosity=0)
    call_command("send_reminders", "--schedule", verbosity=0)
    queued = DBTaskResult.objects.filter(task_path=reminders_sweep.module_path, status="READY")
    assert queued.count() == 1
    assert queued.get().run_after > queued.get().enqueued_at + dt.timedelta(minutes=10)

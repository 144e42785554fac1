"""/ws/meetings/<id>/: the live session of a meeting on the tablets.

Who: authenticated (4401 otherwise) and a participant of the meeting whose access has not
ended (4403 otherwise), checked in `connect()` before the socket joins anything. The
socket is accepted first and then closed with the code, so a browser sees the code (a
socket refused during the handshake only ever shows 1006). The group is derived from the
meeting id in the URL (`live.group_name`); a client never names one.

The protocol (every state message carries the meeting's `seq`, see meetings/live.py and
../shared/domain/meetings.md "Resume"):

server → client
  snapshot   {seq, status, forced, material, version, page, materials, image_base, you}
             on every (re)connect, after joining the group; and on `resync`
  position   {seq, material, version, page, forced}      a page turn or force on/off
  materials  {seq, material, version, page, forced, materials}   added, pushed, revoked
  status     {seq, status}                                started, closed
  pong       {seq}          heartbeat answer; `seq` is the state's current one, so a
                            client that lost the last broadcast notices and resyncs
  presence   {people: [{staff, name, department, role, online}]}   presenters only
  notes      {version, notes: [{page, text, read_only}]}           your own, on request
  note_saved {version, page, saved}
  error      {code, message[, request]}   malformed, unknown type, oversized, refused,
                                          rate-limited: the connection stays up

client → server (fields checked against `SCHEMAS`)
  ping {seq?}  resync {seq?}  notes {version}  note {version, page, text}
  presenters only: goto {material, page}  push {material, version?}  revoke {material}
                   force {on}  presence {}

Broadcasts go to the meeting's group as {"type": "meeting.event", "message": {...},
"text": "<the message as JSON>"}; the one member of the group on each worker process is
that process's hub (meetings/hub.py), which hands the event to each of its sockets of
the meeting (`deliver`: queued, never awaited). Each socket's `pump` forwards the
text (older than what the socket has seen: dropped; a gap: a fresh snapshot instead).
{"type": "meeting.kick", "staff_id"} closes that person's sockets (4403); access is
also re-checked on every incoming message, so a missed kick lasts at most one
heartbeat. A page turn does not touch the database per viewer: only the presenter's
message writes the state, once (one access query, the material's row, one UPDATE).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from channels.consumer import get_handler_name
from django.conf import settings
from django.db import router, transaction
from django.db.models import QuerySet
from django.utils import timezone

from common.aio import start_eagerly
from common.consumers import CLOSE_FORBIDDEN, Field, JsonConsumer
from common.socketdb import Compiled, socket_db
from workflow.errors import WorkflowError

from . import live, services
from .hub import hub
from .models import LiveState, Material, MaterialVersion, Meeting, Note, Participant, Presence

log = logging.getLogger(__name__)


RATE_WINDOW_SECONDS = 10.0
# Tablets send a heartbeat every 20 s; a presence row not refreshed for this long is
# ignored (the tablet went to sleep or lost the network without closing).
PRESENCE_STALE_SECONDS = 50
# Presence changes are coalesced: a presenter's list is refreshed at most this often.
PRESENCE_DEBOUNCE_SECONDS = 0.5
NOTE_MAX = 5000

ID = Field(int, min=1)
SCHEMAS: dict[str, dict[str, Field]] = {
    "ping": {"seq": Field(int, required=False)},
    "resync": {"seq": Field(int, required=False)},
    "notes": {"version": ID},
    "note": {"version": ID, "page": ID, "text": Field(str, max_length=NOTE_MAX)},
    "goto": {"material": ID, "page": ID},
    "push": {"material": ID, "version": Field(int, required=False, min=1)},
    "revoke": {"material": ID},
    "force": {"on": Field(bool)},
    "presence": {},
}
# Messages whose handlers touch the database only through `socket_db` (which checks the
# connection after every call), so `dispatch` runs them without Channels' extra hop.
DIRECT = frozenset({"websocket.receive", "meeting.presence"})
# A socket that falls this far behind (a stalled tablet) gets one snapshot instead.
OUTBOX_MAX = 32
PRESENTER_ONLY = frozenset({"goto", "push", "revoke", "force", "presence"})
# Changes to the session, refused unless the meeting is published or in session.
NEEDS_OPEN = frozenset({"goto", "push", "force"})
OPEN = frozenset({Meeting.Status.PUBLISHED, Meeting.Status.IN_SESSION})

ATTEND = "attend"
PRESENT = "present"


class Refused(WorkflowError):
    """A live-session request refused (Japanese, then English)."""


class Stop:
    """What `guarded` returns when the request was refused (and answered already)."""


STOP = Stop()
# Outbox entries besides group events: send a fresh snapshot; close (the person was removed).
RESYNC, KICK = object(), object()
OK, GONE, NOT_PRESENTER = "ok", "gone", "not_presenter"
T = TypeVar("T")


def presenters_group(meeting_id: int) -> str:
    return f"{live.group_name(meeting_id)}-presenters"


# --- database work (each call runs in the sync thread) -------------------------------------


def access_of(staff_id: int, meeting_id: int) -> str | None:
    """PRESENT, ATTEND or None, read fresh (the socket lives long; access can end)."""
    access = services.access_of(staff_id, meeting_id)
    if access is None or not access.attend:
        return None
    return PRESENT if access.present else ATTEND


def checked_call(
    staff_id: int, meeting_id: int, kind: str, fn: Callable[..., T], args: tuple
) -> tuple[str, T | None]:
    """Access (and, for a change to the session, the meeting's status) in one query, then
    `fn`: a page turn costs that query, the material's row and one UPDATE."""
    access = services.access_of(staff_id, meeting_id)
    if access is None or not access.attend:
        return GONE, None
    if kind in PRESENTER_ONLY and not access.present:
        return NOT_PRESENTER, None
    if kind in NEEDS_OPEN and access.status not in OPEN:
        raise Refused(
            "公開前か終了した会議は操作できません。", "The meeting is not open for the session."
        )
    return OK, fn(*args)


def nothing() -> None:
    """For a request that needs only the access check."""


def _snapshot(meeting_id: int, staff_id: int, presenter: bool) -> dict[str, Any]:
    meeting = Meeting.objects.get(pk=meeting_id)
    snap = live.snapshot(meeting)
    snap["you"] = {"staff": staff_id, "presenter": presenter}
    return snap


def join(meeting_id: int, staff_id: int, channel_name: str, presenter: bool) -> dict[str, Any]:
    """Record the presence of this socket and read the snapshot (after the group join)."""
    now = timezone.now()
    cutoff = now - dt.timedelta(seconds=PRESENCE_STALE_SECONDS * 4)
    Presence.objects.filter(meeting_id=meeting_id, seen_at__lt=cutoff).delete()
    Presence.objects.update_or_create(
        channel_name=channel_name,
        defaults={
            "meeting_id": meeting_id,
            "staff_id": staff_id,
            "connected_at": now,
            "seen_at": now,
        },
    )
    return _snapshot(meeting_id, staff_id, presenter)


def leave(channel_name: str) -> None:
    Presence.objects.filter(channel_name=channel_name).delete()


def heartbeat(meeting_id: int, channel_name: str) -> int:
    Presence.objects.filter(channel_name=channel_name).update(seen_at=timezone.now())
    return (
        LiveState.objects.filter(meeting_id=meeting_id).values_list("seq", flat=True).first() or 0
    )


def presence_of(meeting_id: int) -> list[dict[str, Any]]:
    """Every participant, and whether one of their sockets is connected now."""
    cutoff = timezone.now() - dt.timedelta(seconds=PRESENCE_STALE_SECONDS)
    online = set(
        Presence.objects.filter(meeting_id=meeting_id, seen_at__gte=cutoff).values_list(
            "staff_id", flat=True
        )
    )
    order = {role: i for i, role in enumerate(Participant.Role.values)}
    people = Participant.objects.filter(meeting_id=meeting_id).select_related("staff")
    rows = [
        {
            "staff": p.staff_id,
            "name": p.staff.display_name,
            "department": p.department_name,
            "role": p.role,
            "online": p.staff_id in online,
        }
        for p in people
    ]
    rows.sort(key=lambda r: (not r["online"], order.get(r["role"], 9), r["staff"]))
    return rows


GONE_MATERIAL = ("その資料はありません（回収された可能性があります）。", "No such material.")
NOT_RENDERED = ("資料の画像がまだできていません。", "The pages are not rendered yet.")


def _showable(meeting_id: int, material_id: int, version_id: int | None) -> MaterialVersion:
    """The version of a material of this meeting that can be shown (locks the material)."""
    material = (
        Material.objects.select_for_update(of=("self",))
        .select_related("current_version")
        .filter(pk=material_id, meeting_id=meeting_id)
        .first()
    )
    if material is None or material.is_revoked:
        raise Refused(*GONE_MATERIAL)
    version = material.current_version
    if version_id is not None:
        version = MaterialVersion.objects.filter(pk=version_id, material=material).first()
    if version is None or version.render_status != MaterialVersion.RenderStatus.DONE:
        raise Refused(*NOT_RENDERED)
    return version


def _goto_target_query(material_id: int, meeting_id: int) -> QuerySet:
    return (
        Material.objects.select_for_update(of=("self",))
        .filter(pk=material_id, meeting_id=meeting_id)
        .values_list(
            "revoked_at",
            "current_version_id",
            "current_version__render_status",
            "current_version__page_count",
        )
    )


# A page turn's one read: the material (locked, so a revoke waits or is seen) and its
# current version. Compiled once; the stand-ins are no real ids.
_goto_target = Compiled(_goto_target_query, -7_302_000_001, -7_302_000_002)


def goto(meeting_id: int, material_id: int, page: int) -> LiveState:
    """Turn every following tablet to `page` of the material's current version."""
    with transaction.atomic():
        rows = _goto_target.run(router.db_for_write(Material), material_id, meeting_id)
        if not rows or rows[0][0] is not None:
            raise Refused(*GONE_MATERIAL)
        _revoked_at, version_id, render_status, page_count = rows[0]
        if version_id is None or render_status != MaterialVersion.RenderStatus.DONE:
            raise Refused(*NOT_RENDERED)
        if page > page_count:
            raise Refused("ページが範囲外です。", "No such page.")
        return live.state_change(
            meeting_id, material_id=material_id, version_id=version_id, page=page
        )


def push(meeting_id: int, material_id: int, version_id: int | None) -> None:
    """Show a (new) material or version to everyone from its first page, with the list."""
    with transaction.atomic():
        version = _showable(meeting_id, material_id, version_id)
        live.materials_changed(meeting_id, material_id=material_id, version_id=version.pk, page=1)


def force(meeting_id: int, on: bool) -> LiveState:
    return live.state_change(meeting_id, forced=on)


def revoke(meeting_id: int, staff_id: int, material_id: int) -> None:
    from org.models import Staff

    material = Material.objects.filter(pk=material_id, meeting_id=meeting_id).first()
    if material is None:
        raise Refused("その資料はありません。", "No such material.")
    services.material_revoke(material=material, actor=Staff.objects.get(pk=staff_id))


def _version_of(meeting_id: int, version_id: int) -> MaterialVersion:
    version = (
        MaterialVersion.objects.select_related("material__meeting")
        .filter(pk=version_id, material__meeting_id=meeting_id)
        .first()
    )
    if version is None:
        raise Refused("その資料の版はありません。", "No such version.")
    return version


def notes_of(meeting_id: int, staff_id: int, version_id: int) -> dict[str, Any]:
    version = _version_of(meeting_id, version_id)
    notes = Note.objects.filter(staff_id=staff_id, version=version).order_by("page_number")
    return {
        "type": "notes",
        "version": version.pk,
        "notes": [{"page": n.page_number, "text": n.text, "read_only": n.read_only} for n in notes],
    }


def note_save(meeting_id: int, staff_id: int, version_id: int, page: int, text: str) -> bool:
    from org.models import Staff

    version = _version_of(meeting_id, version_id)
    staff = Staff.objects.get(pk=staff_id)
    return services.note_save(staff=staff, version=version, page_number=page, text=text) is not None


# --- the consumer ----------------------------------------------------------------------------


class MeetingConsumer(JsonConsumer):
    handlers = frozenset(SCHEMAS)
    schemas = SCHEMAS

    meeting_id: int
    staff_id: int | None = None
    presenter: bool = False
    joined: bool = False
    in_hub: bool = False
    kicked: bool = False
    started: bool = False  # the first snapshot is out: the outbox may be written
    pumping: bool = False
    seq: int = 0
    current: str = ""
    limited_at: float = -1e9

    async def connect(self) -> None:
        self.meeting_id = int(self.scope["url_route"]["kwargs"]["pk"])
        self.group = live.group_name(self.meeting_id)
        self.recent: deque[float] = deque()
        self.rate = max(1, int(settings.MEETINGS_WS_RATE_PER_10S))
        self.presence_task: asyncio.Task[None] | None = None
        # What the meeting's hub hands this socket, written out in order by `pump`.
        self.outbox: deque[Any] = deque()
        self.pump_task: asyncio.Task[None] | None = None
        await super().connect()  # 4401 / 4403 before anything is joined

    async def authorize(self, user: Any) -> bool:
        access = await socket_db(access_of)(user.pk, self.meeting_id)
        if access is None:
            return False
        self.staff_id = user.pk
        self.presenter = access == PRESENT
        return True

    async def on_connected(self) -> None:
        # Join first, then read the state: a change committed in between arrives as a
        # broadcast with seq ≤ the snapshot's and is dropped; none is lost. What arrives
        # meanwhile waits in the outbox until the snapshot is out.
        self.in_hub = True
        await hub().join(self.meeting_id, self)
        if self.presenter:
            await self.channel_layer.group_add(presenters_group(self.meeting_id), self.channel_name)
        snapshot = await socket_db(join)(
            self.meeting_id, self.staff_id, self.channel_name, self.presenter
        )
        self.joined = True
        self.seq = snapshot["seq"]
        await self.send_json(snapshot)
        self.started = True
        if self.outbox:
            self.pump_task = start_eagerly(self.pump())
        await self.presence_changed()

    async def disconnect(self, code: int) -> None:
        for task in (self.presence_task, self.pump_task):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        if self.staff_id is None:
            return
        if self.in_hub:
            self.in_hub = False
            await hub().leave(self.meeting_id, self)
        if self.presenter:
            await self.channel_layer.group_discard(
                presenters_group(self.meeting_id), self.channel_name
            )
        if self.joined:
            self.joined = False
            await socket_db(leave)(self.channel_name)
            await self.presence_changed()

    # --- incoming ---------------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.staff_id is None:
            return
        now = time.monotonic()
        while self.recent and now - self.recent[0] > RATE_WINDOW_SECONDS:
            self.recent.popleft()
        if len(self.recent) >= self.rate:
            # Dropped; told at most once a second, so a flood is not answered in kind.
            if now - self.limited_at >= 1.0:
                self.limited_at = now
                await self.send_error(
                    "rate_limited", "送信が多すぎます。しばらく待ってから操作してください。"
                )
            return
        self.recent.append(now)
        self.current = ""
        try:
            await super().receive(text_data=text_data, bytes_data=bytes_data)
        except WorkflowError as exc:
            await self.send_refusal("refused", exc.message)
        except Exception:
            log.exception("meeting %s socket: a %r message failed", self.meeting_id, self.current)
            await self.send_refusal(
                "server_error", "サーバーで処理できませんでした。もう一度操作してください。"
            )

    async def send_refusal(self, code: str, message: str) -> None:
        """An error frame naming the request it answers."""
        await self.send_json(
            {"type": "error", "code": code, "message": message, "request": self.current}
        )

    async def guarded(self, kind: str, fn: Callable[..., T], *args: Any) -> T | Stop:
        """Re-check access and do the work in ONE trip to the database thread (each trip
        may open a database connection). Access gone: the socket closes, as a kick would;
        a presenter's request from someone else: an error frame. Either way: STOP."""
        self.current = kind
        outcome, result = await socket_db(checked_call)(
            self.staff_id, self.meeting_id, kind, fn, args
        )
        if outcome == GONE:
            await self.close(code=CLOSE_FORBIDDEN)
            return STOP
        if outcome == NOT_PRESENTER:
            await self.send_refusal("forbidden", "この操作は主催者・議長・説明者だけができます。")
            return STOP
        return result

    async def handle_ping(self, message: dict[str, Any]) -> None:
        seq = await self.guarded("ping", heartbeat, self.meeting_id, self.channel_name)
        if seq is not STOP:
            await self.send_json({"type": "pong", "seq": seq})

    async def handle_resync(self, message: dict[str, Any]) -> None:
        # Sent by `pump`, in order with the broadcasts: a snapshot must never
        # reach the tablet after a newer position (it would read as a reset).
        if await self.guarded("resync", nothing) is not STOP:
            self.enqueue(RESYNC)

    async def handle_goto(self, message: dict[str, Any]) -> None:
        state = await self.guarded(
            "goto", goto, self.meeting_id, message["material"], message["page"]
        )
        if state is not STOP:
            # Published by this worker at once (the row is committed): one publish, and
            # every worker fans it out to its own sockets.
            await self.broadcast(live.position_message(state))

    async def handle_force(self, message: dict[str, Any]) -> None:
        state = await self.guarded("force", force, self.meeting_id, message["on"])
        if state is not STOP:
            await self.broadcast(live.position_message(state))

    async def handle_push(self, message: dict[str, Any]) -> None:
        # materials_changed broadcasts after its commit.
        await self.guarded(
            "push", push, self.meeting_id, message["material"], message.get("version")
        )

    async def handle_revoke(self, message: dict[str, Any]) -> None:
        await self.guarded("revoke", revoke, self.meeting_id, self.staff_id, message["material"])

    async def handle_presence(self, message: dict[str, Any]) -> None:
        people = await self.guarded("presence", presence_of, self.meeting_id)
        if people is not STOP:
            await self.send_json({"type": "presence", "people": people})

    async def handle_notes(self, message: dict[str, Any]) -> None:
        notes = await self.guarded(
            "notes", notes_of, self.meeting_id, self.staff_id, message["version"]
        )
        if notes is not STOP:
            await self.send_json(notes)

    async def handle_note(self, message: dict[str, Any]) -> None:
        saved = await self.guarded(
            "note",
            note_save,
            self.meeting_id,
            self.staff_id,
            message["version"],
            message["page"],
            message["text"],
        )
        if saved is not STOP:
            await self.send_json(
                {
                    "type": "note_saved",
                    "version": message["version"],
                    "page": message["page"],
                    "saved": saved,
                }
            )

    # --- outgoing ---------------------------------------------------------------------------

    async def broadcast(self, message: dict[str, Any]) -> None:
        await self.channel_layer.group_send(self.group, live.event(message))

    async def send_snapshot(self, snapshot: dict[str, Any] | None = None) -> None:
        if snapshot is None:
            snapshot = await socket_db(_snapshot)(self.meeting_id, self.staff_id, self.presenter)
        self.seq = snapshot["seq"]
        await self.send_json(snapshot)

    async def send_presence(self) -> None:
        people = await socket_db(presence_of)(self.meeting_id)
        await self.send_json({"type": "presence", "people": people})

    async def presence_changed(self) -> None:
        await self.channel_layer.group_send(
            presenters_group(self.meeting_id), {"type": "meeting.presence"}
        )

    # --- from the channel layer ------------------------------------------------------------

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels (4.2+) hops to the database thread before EVERY handler to close stale
        connections: for a presence broadcast that meant one hop per socket, all queued on
        that one thread, and for a page turn a hop before the one that does the work.
        The handlers in DIRECT touch the database only through `socket_db`, which checks
        the connection after every call itself, so they run directly."""
        if message.get("type") in DIRECT:
            await getattr(self, get_handler_name(message))(message)
            return
        await super().dispatch(message)

    # --- from the meeting's hub (meetings/hub.py) ----------------------------------------

    def deliver(self, event: dict[str, Any]) -> None:
        """A group event for this socket, from the hub, which hands it to every socket of
        the meeting on this process in turn: queued, and written out at once unless the
        socket is still busy with earlier ones (then its pump task takes it)."""
        if self.kicked:
            return
        kind = event.get("type")
        if kind == "meeting.kick":
            if event.get("staff_id") != self.staff_id:
                return
            self.kicked = True
            self.outbox.clear()
            self.enqueue(KICK)
        elif kind == "meeting.event":
            if len(self.outbox) >= OUTBOX_MAX:
                # Stalled: one snapshot, read when the socket can take it, covers it all
                # (broadcasts go out after their commit, so the snapshot has this one).
                self.outbox.clear()
                self.enqueue(RESYNC)
            else:
                self.enqueue(event)

    def enqueue(self, item: Any) -> None:
        self.outbox.append(item)
        if self.started and not self.pumping:
            # Usually the send completes without waiting and no task is made at all.
            self.pump_task = start_eagerly(self.pump())

    async def pump(self) -> None:
        """Writes the outbox out in order: the only sender of state messages after the
        first snapshot, so the tablet sees seqs in order."""
        self.pumping = True
        try:
            while self.outbox:
                item = self.outbox.popleft()
                try:
                    if item is KICK:
                        await self.close(code=CLOSE_FORBIDDEN)
                        return
                    if item is RESYNC:
                        await self.send_snapshot()
                    else:
                        await self.forward(item)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("meeting %s: sending to a socket failed", self.meeting_id)
        finally:
            self.pumping = False

    async def forward(self, event: dict[str, Any]) -> None:
        message = event.get("message")
        if not isinstance(message, dict):
            return
        seq = message.get("seq")
        if isinstance(seq, int):
            if seq <= self.seq:
                return  # already in the snapshot this socket got
            if seq > self.seq + 1:
                # A broadcast went missing (delivery is at most once): send the state.
                await self.send_snapshot()
                return
            self.seq = seq
        text = event.get("text")
        if isinstance(text, str):
            await self.send(text_data=text)  # serialised once, by the publisher
        else:
            await self.send_json(message)

    async def meeting_presence(self, event: dict[str, Any]) -> None:
        if not self.presenter or self.presence_task is not None:
            return

        async def later() -> None:
            try:
                await asyncio.sleep(PRESENCE_DEBOUNCE_SECONDS)
                self.presence_task = None
                await self.send_presence()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("meeting %s: presence refresh failed", self.meeting_id)

        self.presence_task = asyncio.ensure_future(later())

"""The per-process hub (meetings/hub.py) and a socket's outbox (MeetingConsumer.deliver /
pump): one subscription per meeting per process, an event decoded once for all its
sockets, and a stalled tablet holding up nobody but itself. No database: the hub works
on the in-memory layer here, and the sockets are consumers with their sending replaced.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import pytest
from channels.layers import InMemoryChannelLayer

from meetings import hub as hub_module
from meetings import live
from meetings.consumers import KICK, OUTBOX_MAX, RESYNC, MeetingConsumer
from meetings.hub import Hub


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.events: list[dict[str, Any]] = []
        self.fail = fail

    def deliver(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        if self.fail:
            raise RuntimeError("a broken socket")


async def settle(condition, timeout: float = 2.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.005)


def test_one_subscription_per_meeting_and_every_socket_gets_each_event() -> None:
    async def scenario() -> None:
        layer = InMemoryChannelLayer()
        hub = Hub(layer)
        a, b, broken, other = Recorder(), Recorder(), Recorder(fail=True), Recorder()
        await asyncio.gather(hub.join(7, a), hub.join(7, b), hub.join(7, broken))
        await hub.join(8, other)
        group = live.group_name(7)
        assert len(layer.groups[group]) == 1  # the hub, not each socket
        assert set(hub.rooms) == {7, 8}

        event = live.event({"type": "position", "seq": 1, "page": 2})
        await layer.group_send(group, event)
        await settle(lambda: len(a.events) == len(b.events) == 1)
        assert a.events == b.events == broken.events == [event]
        assert a.events[0] is b.events[0]  # decoded once for the process
        assert other.events == []

        # A socket that raises does not stop the next event reaching the others.
        await layer.group_send(group, live.event({"type": "position", "seq": 2}))
        await settle(lambda: len(b.events) == 2)

        await hub.leave(7, a)
        await hub.leave(7, broken)
        assert 7 in hub.rooms
        await hub.leave(7, b)
        assert 7 not in hub.rooms and group not in layer.groups
        await hub.leave(7, b)  # twice: nothing
        # Joining again opens a new subscription.
        await hub.join(7, a)
        assert len(layer.groups[group]) == 1
        await hub.leave(7, a)
        await hub.leave(8, other)
        assert hub.rooms == {}

    asyncio.run(scenario())


def test_a_failed_subscription_is_retried_by_the_next_socket() -> None:
    class Flaky(InMemoryChannelLayer):
        failures = 1

        async def group_add(self, group: str, channel: str) -> None:
            if self.failures:
                self.failures -= 1
                await asyncio.sleep(0.01)
                raise ConnectionError("Redis is restarting")
            await super().group_add(group, channel)

    async def scenario() -> None:
        hub = Hub(Flaky())
        first, second = Recorder(), Recorder()
        results = await asyncio.gather(
            hub.join(1, first), hub.join(1, second), return_exceptions=True
        )
        assert isinstance(results[0], ConnectionError) and results[1] is None
        assert hub.rooms[1].members == {second}
        await hub.leave(1, second)
        assert hub.rooms == {}

    asyncio.run(scenario())


def test_the_hub_belongs_to_the_running_loop(settings) -> None:
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

    async def get() -> Hub:
        return hub_module.hub()

    async def twice() -> tuple[Hub, Hub]:
        return hub_module.hub(), hub_module.hub()

    one, same = asyncio.run(twice())
    assert one is same
    assert asyncio.run(get()) is not one


# --- a socket's outbox ------------------------------------------------------------------------


def consumer(seq: int = 5) -> tuple[MeetingConsumer, list[Any]]:
    """A consumer past its first snapshot at `seq`, whose writes are recorded."""
    socket = MeetingConsumer()
    socket.meeting_id, socket.staff_id, socket.seq = 1, 42, seq
    socket.outbox = deque()
    socket.pump_task = None
    socket.started = True
    sent: list[Any] = []

    async def send(text_data: str | None = None, **_: Any) -> None:
        sent.append(text_data)

    async def send_snapshot(snapshot=None) -> None:
        socket.seq = 99
        sent.append("snapshot")

    async def close(code: int | None = None) -> None:
        sent.append(("close", code))

    socket.send, socket.send_snapshot, socket.close = send, send_snapshot, close
    return socket, sent


def position(seq: int) -> dict[str, Any]:
    return live.event({"type": "position", "seq": seq, "page": seq})


def test_in_order_events_are_written_at_once_without_a_task() -> None:
    async def scenario() -> None:
        socket, sent = consumer(seq=5)
        socket.deliver(position(5))  # already in the snapshot
        socket.deliver(position(6))
        assert sent == [position(6)["text"]] and socket.seq == 6
        assert socket.pump_task is None  # finished without waiting
        socket.deliver(position(8))  # one went missing: a snapshot instead
        assert sent[-1] == "snapshot" and socket.seq == 99
        socket.deliver({"type": "meeting.kick", "staff_id": 7})  # someone else
        socket.deliver({"type": "something.else"})
        assert len(sent) == 2

    asyncio.run(scenario())


def test_a_stalled_socket_queues_collapses_and_holds_up_no_one() -> None:
    async def scenario() -> None:
        stalled, stalled_sent = consumer(seq=0)
        healthy, healthy_sent = consumer(seq=0)
        unblock = asyncio.Event()

        async def slow_send(text_data: str | None = None, **_: Any) -> None:
            await unblock.wait()  # its network buffer is full
            stalled_sent.append(text_data)

        stalled.send = slow_send
        for seq in range(1, OUTBOX_MAX + 3):
            for socket in (stalled, healthy):  # the hub's loop, in order
                socket.deliver(position(seq))
        # The healthy socket got everything at once; the stalled one has a task waiting.
        assert len(healthy_sent) == OUTBOX_MAX + 2 and healthy.pump_task is None
        assert stalled.pump_task is not None and not stalled.pump_task.done()
        # Its queue collapsed to one snapshot instead of growing without bound.
        assert list(stalled.outbox) == [RESYNC]
        unblock.set()
        await asyncio.wait_for(stalled.pump_task, 2)
        assert stalled_sent == [position(1)["text"], "snapshot"]
        assert not stalled.pumping

    asyncio.run(scenario())


def test_a_kick_jumps_the_queue_and_closes_the_socket() -> None:
    async def scenario() -> None:
        socket, sent = consumer(seq=0)
        socket.started = False  # still sending its first snapshot: events wait
        socket.deliver(position(1))
        socket.deliver({"type": "meeting.kick", "staff_id": 42})
        socket.deliver(position(2))  # after the kick: ignored
        assert list(socket.outbox) == [KICK] and sent == []
        socket.started = True
        socket.enqueue(RESYNC)  # the next request wakes the pump; the kick goes first
        assert sent == [("close", 4403)]

    asyncio.run(scenario())


def test_cancelling_a_waiting_pump_stops_it_cleanly() -> None:
    async def scenario() -> None:
        socket, _sent = consumer(seq=0)
        never = asyncio.Event()

        async def stuck(text_data: str | None = None, **_: Any) -> None:
            await never.wait()

        socket.send = stuck
        socket.deliver(position(1))
        task = socket.pump_task
        assert task is not None
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not socket.pumping

    asyncio.run(scenario())

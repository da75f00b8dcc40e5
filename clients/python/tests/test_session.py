"""The asyncio API against a real 3-daemon site (one site shared by these tests; every test
uses group and session names of its own)."""

from __future__ import annotations

import asyncio
import re
from typing import Dict, List

import pytest
from cluster import Site, require_chorusd
from conftest import run, unique
from helpers import join_all, messages, next_event, wait_for

import chorus
from chorus import Membership, Message, Reason, Service, ViewKind

require_chorusd()

PRIVATE_GROUP = re.compile(r"^#[^#]+#d\d+$")


def test_connect_over_tcp_and_unix(site: Site) -> None:
    async def scenario() -> None:
        for daemon in site.daemons:
            for address in (daemon.tcp, daemon.unix):
                name = unique("conn")
                async with chorus.connect(address, name=name) as session:
                    assert PRIVATE_GROUP.match(session.private_group), session.private_group
                    # Spread's shape: the connect name, then the daemon's name.
                    assert session.private_group == f"#{name}#{daemon.name}", session.private_group
                    assert session.private_group.endswith("#d" + daemon.name[1:])
                    assert session.daemon_name == daemon.name
                    assert session.max_payload == 16 << 20
                    assert session.welcome.version == 3
                    status = await session.status(timeout=5)
                    assert status["daemon"] == daemon.name
                    assert sorted(status["ring"]["members"]) == ["d1", "d2", "d3"]
                    mine = [s for s in status["sessions"] if s["name"] == name]
                    assert len(mine) == 1 and mine[0]["privateGroup"] == session.private_group
                    identity = mine[0]["identity"]
                    assert identity.startswith("unix" if address == daemon.unix else "tcp"), identity
                assert session.closed
        # Awaiting connect() without `async with` works too.
        session = await chorus.connect(site["d1"].tcp, name=unique("await"))
        assert not session.closed
        await session.close()
        assert session.closed

    run(scenario())


def test_join_and_leave_give_membership_events_field_by_field(site: Site) -> None:
    group = unique("g")

    async def scenario() -> None:
        async with chorus.connect(site["d1"].tcp, name=unique("a")) as a, chorus.connect(
            site["d2"].unix, name=unique("b")
        ) as b, chorus.connect(site["d3"].tcp, name=unique("c")) as c:
            pa, pb, pc = a.private_group, b.private_group, c.private_group

            await a.join(group)
            first = await next_event(a, Membership)
            assert first.group == group
            assert first.kind == ViewKind.REGULAR and first.is_regular and not first.is_transitional
            assert first.reason == Reason.JOIN
            assert first.members == (pa,)
            assert first.changed == (pa,)
            assert first.added == (pa,)  # a session's first view adds every member
            assert first.removed == ()
            assert first.view_id.index >= 1

            await b.join(group)
            at_a = await next_event(a, Membership)
            at_b = await next_event(b, Membership)
            assert at_a.view_id == at_b.view_id and at_a.view_id > first.view_id
            assert at_a.members == at_b.members and set(at_a.members) == {pa, pb}
            assert at_a.kind == at_b.kind == ViewKind.REGULAR
            assert at_a.reason == at_b.reason == Reason.JOIN
            assert at_a.changed == at_b.changed == (pb,)
            assert at_a.added == (pb,) and at_a.removed == ()
            assert set(at_b.added) == {pa, pb} and at_b.removed == ()  # b's first view: everyone

            await c.join(group)
            views = [await next_event(s, Membership) for s in (a, b, c)]
            assert len({v.view_id for v in views}) == 1
            assert len({v.members for v in views}) == 1  # the same order at every daemon
            assert set(views[0].members) == {pa, pb, pc}
            assert [v.changed for v in views] == [(pc,)] * 3
            assert [v.added for v in views[:2]] == [(pc,)] * 2 and set(views[2].added) == {pa, pb, pc}

            await b.leave(group)
            left = [await next_event(s, Membership) for s in (a, c)]
            for view in left:
                assert view.reason == Reason.LEAVE and view.kind == ViewKind.REGULAR
                assert set(view.members) == {pa, pc}
                assert view.changed == (pb,) and view.removed == (pb,) and view.added == ()
                assert view.view_id > views[0].view_id
            assert left[0] == left[1]
            # A session gets no view of a group it has left.
            with pytest.raises(asyncio.TimeoutError):
                await b.receive(0.3)

            await c.close()
            gone = await next_event(a, Membership)
            assert gone.reason == Reason.DISCONNECT and gone.kind == ViewKind.REGULAR
            assert gone.members == (pa,) and gone.changed == (pc,) and gone.removed == (pc,) and gone.added == ()

            # Joining a group twice, or leaving one not joined, is no error.
            await a.join(group)
            await a.leave(unique("never-joined"))
            status = await a.status(timeout=5)
            assert [g["members"] for g in status["groups"] if g["name"] == group] == [[pa]]

    run(scenario())


def test_membership_events_can_be_turned_off(site: Site) -> None:
    group = unique("g")

    async def scenario() -> None:
        async with chorus.connect(site["d1"].unix, name=unique("quiet"), membership=False) as quiet:
            await quiet.join(group)
            await quiet.multicast(group, b"only this")
            message = await next_event(quiet, Message)
            assert message.payload == b"only this"

    run(scenario())


def test_every_service_reaches_every_member(site: Site) -> None:
    group = unique("g")

    async def scenario() -> None:
        async with chorus.connect(site["d1"].tcp, name=unique("s")) as a, chorus.connect(
            site["d2"].unix, name=unique("r")
        ) as b, chorus.connect(site["d3"].tcp, name=unique("r")) as c:
            await join_all(group, [a, b, c])
            for service in Service:
                await a.multicast(group, f"svc {service.name}".encode(), service=service, message_type=100 + service)
            for receiver in (a, b, c):
                got = await messages(receiver, len(Service))
                by_service: Dict[Service, Message] = {m.service: m for m in got}
                assert set(by_service) == set(Service)
                for service, message in by_service.items():
                    assert type(message.service) is Service
                    assert message.sender == a.private_group
                    assert message.groups == (group,)
                    assert message.message_type == 100 + service
                    assert message.payload == f"svc {service.name}".encode()
                    assert message.text == f"svc {service.name}"
                # fifo and stronger keep the sender's order.
                ordered = [m.service for m in got if m.service >= Service.FIFO]
                assert ordered == [Service.FIFO, Service.CAUSAL, Service.AGREED, Service.SAFE]

    run(scenario())


def test_agreed_order_is_identical_at_three_receivers_under_concurrent_senders(site: Site) -> None:
    group = unique("g")
    per_sender = 300

    async def scenario() -> None:
        async with chorus.connect(site["d1"].tcp, name=unique("p")) as a, chorus.connect(
            site["d2"].tcp, name=unique("p")
        ) as b, chorus.connect(site["d3"].unix, name=unique("p")) as c:
            sessions = [a, b, c]
            await join_all(group, sessions)

            async def send(session: chorus.Session) -> None:
                for seq in range(per_sender):
                    await session.multicast(group, f"{session.private_group}:{seq}".encode() + b"x" * 90)
                    if seq % 25 == 0:
                        await asyncio.sleep(0)  # let the three senders interleave

            receiving = [asyncio.ensure_future(messages(s, 3 * per_sender, timeout=25)) for s in sessions]
            await asyncio.gather(*(send(s) for s in sessions))
            orders: List[List[bytes]] = [[m.payload for m in got] for got in await asyncio.gather(*receiving)]
            assert orders[0] == orders[1] == orders[2]
            # Each sender's messages are in its own order, and the senders did interleave.
            for session in sessions:
                mine = [p for p in orders[0] if p.startswith(session.private_group.encode() + b":")]
                assert [int(p.split(b":")[1][: p.split(b":")[1].index(b"x")]) for p in mine] == list(range(per_sender))
            senders = [p.split(b":")[0] for p in orders[0]]
            switches = sum(1 for x, y in zip(senders, senders[1:]) if x != y)
            assert switches >= 2, "the senders did not run concurrently"

    run(scenario(), timeout=40)


def test_self_discard(site: Site) -> None:
    group = unique("g")

    async def scenario() -> None:
        async with chorus.connect(site["d1"].tcp, name=unique("a")) as a, chorus.connect(
            site["d2"].tcp, name=unique("b")
        ) as b:
            await join_all(group, [a, b])
            await a.multicast(group, b"discarded at a", self_discard=True)
            await a.multicast(group, b"kept", self_discard=False)
            assert [m.payload for m in await messages(a, 1)] == [b"kept"]
            assert [m.payload for m in await messages(b, 2)] == [b"discarded at a", b"kept"]
            with pytest.raises(asyncio.TimeoutError):
                await a.receive(0.3)

    run(scenario())


def test_multigroup_send_is_delivered_once_per_session(site: Site) -> None:
    g1, g2 = unique("g1"), unique("g2")

    async def scenario() -> None:
        async with chorus.connect(site["d1"].tcp, name=unique("both")) as both, chorus.connect(
            site["d2"].unix, name=unique("one")
        ) as one, chorus.connect(site["d3"].tcp, name=unique("two")) as two, chorus.connect(
            site["d1"].unix, name=unique("out"), membership=False
        ) as outsider:
            await join_all(g1, [both, one])
            await two.join(g2)
            await both.join(g2)
            for session in (two, both):
                await wait_for(session, Membership, lambda v: v.group == g2 and len(v.members) == 2)
            # An outsider may send to open groups, several at once.
            await outsider.multicast([g1, g2], b"to both groups", service=Service.SAFE, message_type=7)
            await outsider.multicast([g1, g2], b"marker")
            for session in (both, one, two):
                got = await messages(session, 2)
                assert [m.payload for m in got] == [b"to both groups", b"marker"]
                assert got[0].groups == (g1, g2) and got[0].sender == outsider.private_group
                assert got[0].service == Service.SAFE and got[0].message_type == 7
            with pytest.raises(asyncio.TimeoutError):
                await both.receive(0.3)
            with pytest.raises(asyncio.TimeoutError):
                await outsider.receive(0.1)  # not a member: gets nothing

    run(scenario())


def test_private_group_send_reaches_one_session(site: Site) -> None:
    group = unique("g")

    async def scenario() -> None:
        async with chorus.connect(site["d1"].tcp, name=unique("a")) as a, chorus.connect(
            site["d3"].unix, name=unique("b")
        ) as b, chorus.connect(site["d2"].tcp, name=unique("c")) as c:
            await a.multicast(b.private_group, b"just for b", service=Service.RELIABLE)
            message = await next_event(b, Message)
            assert message.payload == b"just for b" and message.groups == (b.private_group,)
            assert message.sender == a.private_group and message.service == Service.RELIABLE
            # A session reply goes to the sender's private group.
            await b.multicast(message.sender, b"reply")
            assert (await next_event(a, Message)).payload == b"reply"
            # A group and a private group in one message: b, a member of both, gets it once.
            await join_all(group, [b, c])
            await a.multicast([group, b.private_group], b"once")
            assert [m.payload for m in await messages(b, 1)] == [b"once"]
            assert [m.payload for m in await messages(c, 1)] == [b"once"]
            await a.multicast(b.private_group, b"after")
            assert [m.payload for m in await messages(b, 1)] == [b"after"]
            with pytest.raises(asyncio.TimeoutError):
                await c.receive(0.2)

    run(scenario())


def test_large_payload_and_client_side_checks(site: Site) -> None:
    group = unique("g")

    async def scenario() -> None:
        async with chorus.connect(site["d1"].unix, name=unique("big")) as a:
            await a.join(group)
            await next_event(a, Membership)
            big = bytes(range(256)) * 4096  # 1 MiB
            await a.multicast(group, big)
            assert (await next_event(a, Message)).payload == big
            with pytest.raises(ValueError):
                await a.multicast(group, b"x" * (a.max_payload + 1))
            with pytest.raises(ValueError):
                await a.join("#1#d1")
            with pytest.raises(ValueError):
                await a.multicast(group, b"x", service=9)
            with pytest.raises(ValueError):
                await a.multicast([], b"x")
            # The session survived every refusal made here.
            await a.multicast(group, "text is sent as UTF-8: é")
            assert (await next_event(a, Message)).text == "text is sent as UTF-8: é"

    run(scenario())


def test_refused_connects_raise_typed_errors(site: Site) -> None:
    async def scenario() -> None:
        for bad in ["bad name!", "x" * 33, ""]:
            with pytest.raises(chorus.InvalidNameError) as caught:
                await chorus.connect(site["d1"].tcp, name=bad)
            assert caught.value.code == chorus.ErrorCode.INVALID_NAME == 6
            assert isinstance(caught.value, chorus.DaemonError) and isinstance(caught.value, chorus.ChorusError)
            assert caught.value.text
        name = unique("taken")
        async with chorus.connect(site["d2"].unix, name=name):
            with pytest.raises(chorus.NameInUseError) as in_use:
                await chorus.connect(site["d2"].tcp, name=name)
            assert in_use.value.code == 7 and name in in_use.value.text
            # Names are per daemon: another daemon takes it.
            async with chorus.connect(site["d3"].tcp, name=name):
                pass
        with pytest.raises(ValueError):
            await chorus.connect(site["d1"].tcp, name="n" * 300)  # cannot even be encoded

    run(scenario())


def test_an_error_frame_ends_the_session_with_its_exception(site: Site) -> None:
    group = unique("g")

    async def scenario() -> None:
        async with chorus.connect(site["d1"].tcp, name=unique("err")) as a:
            await a.join(group)
            # The join's view comes after a trip round the ring, the refusal below at once: wait
            # until the view is here (received, not taken) so that it is surely before the error.
            for _ in range(1000):
                if a._protocol.core.events:
                    break
                await asyncio.sleep(0.01)
            await a.join("x" * 200)  # longer than the daemon's 128-byte limit: the daemon ends the session
            events = []
            with pytest.raises(chorus.InvalidGroupNameError) as caught:
                async for event in a:
                    events.append(event)
            assert caught.value.code == 8
            assert [type(e) for e in events] == [Membership]  # what came before the error comes first
            with pytest.raises(chorus.InvalidGroupNameError):
                await a.multicast(group, b"too late")
            assert a.closed and isinstance(a.failure, chorus.InvalidGroupNameError)

    run(scenario())


def test_close_delivers_everything_written_before_it(site: Site) -> None:
    group = unique("g")

    async def scenario() -> None:
        async with chorus.connect(site["d2"].tcp, name=unique("rx")) as receiver:
            sender = await chorus.connect(site["d1"].tcp, name=unique("tx"), membership=False)
            await join_all(group, [receiver])
            for seq in range(500):
                await sender.multicast(group, seq.to_bytes(4, "big") + b"y" * 200)
            await sender.close()  # right after the last write: the daemon still takes everything
            got = await messages(receiver, 500)
            assert [int.from_bytes(m.payload[:4], "big") for m in got] == list(range(500))
            with pytest.raises(chorus.SessionClosed):
                await sender.multicast(group, b"after close")

    run(scenario())


def test_status_requests_and_events_interleave(site: Site) -> None:
    group = unique("g")

    async def scenario() -> None:
        async with chorus.connect(site["d3"].unix, name=unique("st")) as a:
            await a.join(group)
            await a.multicast(group, b"m1")
            document = await a.status(timeout=5)
            assert document["daemon"] == "d3" and "counters" in document
            await a.request_status()
            # The status reply is answered at once, the join view and message once the ring
            # ordered them: whatever status() read meanwhile stayed queued, in order.
            events = [await a.receive(5) for _ in range(3)]
            assert sorted(type(e).__name__ for e in events) == ["Membership", "Message", "StatusReply"]
            assert [type(e) for e in events if not isinstance(e, chorus.StatusReply)] == [Membership, Message]
            reply = [e for e in events if isinstance(e, chorus.StatusReply)][0]
            assert reply.document["daemon"] == "d3" and reply.text.startswith("{")
            # reloadKeys in plain mode is refused; the session goes on.
            with pytest.raises(chorus.ReloadFailedError):
                await a.reload_keys(timeout=5)
            await a.multicast(group, b"m2")
            assert (await next_event(a, Message)).payload == b"m2"

    run(scenario())


def test_multicast_many_is_the_same_as_one_multicast_each(site: Site) -> None:
    group = unique("g")

    async def scenario() -> None:
        async with chorus.connect(site["d1"].tcp, name=unique("tx")) as a, chorus.connect(
            site["d3"].unix, name=unique("rx")
        ) as b:
            await join_all(group, [a, b])
            await a.multicast_many(group, [b"one", bytearray(b"two"), "three"], service=Service.FIFO, message_type=9)
            await a.multicast_many([group], [], service=Service.SAFE)  # nothing to send: nothing sent
            with pytest.raises(ValueError):
                await a.multicast_many(group, [b"ok", b"x" * (a.max_payload + 1)])  # checked before any is sent
            await a.multicast(group, b"four", service=Service.FIFO)
            for session in (a, b):
                got = await messages(session, 4)
                assert [m.payload for m in got] == [b"one", b"two", b"three", b"four"]
                assert {(m.service, m.sender) for m in got} == {(Service.FIFO, a.private_group)}
                assert [m.message_type for m in got] == [9, 9, 9, 0]

    run(scenario())


def test_a_reader_that_falls_behind_pauses_and_catches_up(site: Site) -> None:
    """More than the 4 MiB inbox arrives while the application does not read: the session stops
    reading its socket (the daemon holds the rest), status() still answers, and every message
    comes through in order once the application reads again."""
    group = unique("g")
    count, size = 1200, 8192  # 9.4 MiB

    async def scenario() -> None:
        async with chorus.connect(site["d2"].tcp, name=unique("slow")) as slow, chorus.connect(
            site["d1"].unix, name=unique("fast"), membership=False
        ) as fast:
            await join_all(group, [slow])
            for seq in range(count):
                await fast.multicast(group, seq.to_bytes(4, "big") + bytes(size - 4))
            protocol = slow._protocol
            for _ in range(100):  # the messages pile up at the slow reader
                if protocol.read_paused:
                    break
                await asyncio.sleep(0.1)
            assert protocol.read_paused, "the inbox should have stopped reading"
            assert protocol.core.pending_bytes >= 4 << 20
            document = await slow.status(timeout=5)  # answered although reading was paused
            mine = [s for s in document["sessions"] if s["privateGroup"] == slow.private_group]
            assert mine and mine[0]["unreadBytes"] >= 0
            got = await messages(slow, count, timeout=20)
            assert [int.from_bytes(m.payload[:4], "big") for m in got] == list(range(count))
            assert all(len(m.payload) == size for m in got)
            assert not protocol.read_paused

    run(scenario(), timeout=40)

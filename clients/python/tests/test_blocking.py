"""The blocking API against the real site."""

from __future__ import annotations

import time

import pytest
from cluster import Site, require_chorusd
from conftest import unique

import chorus
import chorus.blocking
from chorus import Membership, Message, Reason, Service

require_chorusd()


def next_message(session: chorus.blocking.BlockingSession, timeout: float = 10) -> Message:
    deadline = time.monotonic() + timeout
    while True:
        event = session.receive(max(0.0, deadline - time.monotonic()))
        if isinstance(event, Message):
            return event


def test_blocking_session_end_to_end(site: Site) -> None:
    group = unique("g")
    with chorus.blocking.connect(site["d1"].unix, name=unique("ba")) as a, chorus.blocking.connect(
        site["d2"].tcp, name=unique("bb")
    ) as b:
        assert a.daemon_name == "d1" and b.daemon_name == "d2"
        assert a.private_group.endswith("#d1") and a.max_payload == 16 << 20
        a.join(group)
        view = a.receive(10)
        assert isinstance(view, Membership) and view.members == (a.private_group,) and view.reason == Reason.JOIN
        b.join(group)
        for session in (a, b):
            view = session.receive(10)
            assert isinstance(view, Membership) and set(view.members) == {a.private_group, b.private_group}
            assert view.changed == (b.private_group,)

        for service in Service:
            a.multicast(group, f"blocking {service.name}", service=service, message_type=3)
        for session in (a, b):
            got = [next_message(session) for _ in Service]
            assert {m.service for m in got} == set(Service)
            assert all(m.sender == a.private_group and m.groups == (group,) and m.message_type == 3 for m in got)

        b.multicast([group, a.private_group], b"once", self_discard=True)
        assert next_message(a).payload == b"once"
        with pytest.raises(TimeoutError):
            b.receive(0.3)  # self-discarded
        assert a.poll() is None

        status = a.status(timeout=5)
        assert sorted(status["ring"]["members"]) == ["d1", "d2", "d3"]
        with pytest.raises(ValueError):
            a.join("#0#d1")

        b.leave(group)
        left = a.receive(10)
        assert isinstance(left, Membership) and left.reason == Reason.LEAVE and left.removed == (b.private_group,)
        b.close()
        assert b.closed
        with pytest.raises(chorus.SessionClosed):
            b.multicast(group, b"after close")
        with pytest.raises(chorus.SessionClosed):
            b.receive(1)
        assert list(b) == []  # iteration just ends once this client has closed


def test_blocking_sender_does_not_lose_messages_on_close(site: Site) -> None:
    group = unique("g")
    with chorus.blocking.connect(site["d3"].tcp, name=unique("rx")) as receiver:
        receiver.join(group)
        assert isinstance(receiver.receive(10), Membership)
        sender = chorus.blocking.connect(site["d1"].tcp, name=unique("tx"))
        sender.join(group)  # its own messages come back too: it must not block on them
        for seq in range(2000):
            sender.multicast(group, seq.to_bytes(4, "big") + b"z" * 500)
        sender.multicast_many(group, [seq.to_bytes(4, "big") for seq in range(2000, 3000)])
        sender.close()
        got = [int.from_bytes(next_message(receiver).payload[:4], "big") for _ in range(3000)]
        assert got == list(range(3000))


def test_blocking_refused_connect(site: Site) -> None:
    with pytest.raises(chorus.InvalidNameError) as caught:
        chorus.blocking.connect(site["d2"].unix, name="no spaces")
    assert caught.value.code == 6
    with pytest.raises(chorus.ConnectionFailed):
        chorus.blocking.connect(site["d2"].unix + ".missing", name="x")


def test_blocking_error_frame(site: Site) -> None:
    with chorus.blocking.connect(site["d1"].tcp, name=unique("err")) as a:
        a.join("y" * 129)
        with pytest.raises(chorus.InvalidGroupNameError):
            for _ in a:
                pass
        with pytest.raises(chorus.InvalidGroupNameError):
            a.join("fine")


def test_blocking_sender_in_its_own_group_reads_while_it_writes(site: Site) -> None:
    """9 MiB to a group the sender is in: its own messages come back while it writes; the session
    reads them into its inbox (up to 4 MiB, then leaves the rest to the daemon) and the writes never
    block on them. Everything then arrives, in order."""
    group = unique("g")
    count, size = 1200, 8192
    with chorus.blocking.connect(site["d3"].unix, name=unique("self")) as session:
        session.join(group)
        assert isinstance(session.receive(10), Membership)
        for seq in range(count):
            session.multicast(group, seq.to_bytes(4, "big") + bytes(size - 4))
        assert session._core.pending_bytes > 0  # some were read while writing
        got = [int.from_bytes(next_message(session).payload[:4], "big") for _ in range(count)]
        assert got == list(range(count))

"""Faults with real daemons: kill -9 of a daemon under listening clients."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from typing import List, Optional

import pytest
from cluster import Site, require_chorusd
from conftest import run, unique
from helpers import join_all, messages, wait_for

import chorus
import chorus.blocking
from chorus import Membership, Reason, ViewKind

require_chorusd()


def test_killed_daemon_gives_network_views_and_its_clients_connection_lost(fresh_site: Site) -> None:
    group = unique("g")
    site = fresh_site
    outcome: dict = {}

    def blocked_reader(session: chorus.blocking.BlockingSession) -> None:
        # Blocked in receive() when the daemon dies: must come back with ConnectionLost.
        try:
            while True:
                session.receive(timeout=15)
        except BaseException as error:  # noqa: BLE001 - reported to the test
            outcome["error"] = error
            outcome["at"] = time.monotonic()

    async def scenario() -> None:
        async with chorus.connect(site["d1"].tcp, name=unique("a")) as a, chorus.connect(
            site["d2"].unix, name=unique("b")
        ) as b, chorus.connect(site["d3"].unix, name=unique("c")) as c:
            full_views = await join_all(group, [a, b, c])
            full = await a.status(timeout=5)
            assert sorted(full["ring"]["members"]) == ["d1", "d2", "d3"]

            # Traffic before the kill, delivered in the old view.
            for seq in range(20):
                await c.multicast(group, f"from c {seq}".encode())
            for session in (a, b):
                assert len(await messages(session, 20)) == 20

            # A blocking client of the doomed daemon, blocked in receive().
            doomed = chorus.blocking.connect(site["d3"].tcp, name=unique("blk"))
            reader = threading.Thread(target=blocked_reader, args=(doomed,), daemon=True)
            reader.start()

            # The view every survivor had before the kill.
            before = (await a.status(timeout=5))["groups"]
            assert [sorted(g["members"]) for g in before if g["name"] == group] == [
                sorted([a.private_group, b.private_group, c.private_group])
            ]

            killed_at = time.monotonic()
            site.kill("d3", signal.SIGKILL)

            # The session on the dead daemon: a prompt, clean ConnectionLost.
            with pytest.raises(chorus.ConnectionLost):
                while True:
                    await c.receive(5)
            lost_after = time.monotonic() - killed_at
            assert lost_after < 2.0, f"ConnectionLost after {lost_after:.2f} s"
            with pytest.raises(chorus.ConnectionLost):
                await c.multicast(group, b"to a dead daemon")

            # The survivors: a transitional view without c, then the regular view without c.
            survivors = {a.private_group, b.private_group}
            seen: List[List[Membership]] = []
            for session in (a, b):
                skipped: List[chorus.Event] = []
                transitional = await wait_for(session, Membership, lambda v: v.group == group, 10, skipped)
                assert all(isinstance(e, chorus.Message) for e in skipped), skipped
                assert transitional.kind == ViewKind.TRANSITIONAL and transitional.is_transitional
                assert transitional.reason == Reason.NETWORK
                assert transitional.view_id.index == 0
                assert set(transitional.members) == survivors
                assert set(transitional.changed) == survivors
                assert transitional.removed == (c.private_group,)
                assert transitional.added == ()

                regular = await wait_for(session, Membership, lambda v: v.group == group, 10, skipped)
                assert regular.kind == ViewKind.REGULAR and regular.reason == Reason.NETWORK
                assert set(regular.members) == survivors
                assert set(regular.changed) == survivors  # both moved on together
                assert regular.added == () and regular.removed == ()
                # The transitional view's id is the new configuration's ring with index 0; the
                # regular view follows it in that ring.
                assert transitional.view_id > full_views[0].view_id
                assert transitional.view_id.ring_seq > full_views[0].view_id.ring_seq
                assert regular.view_id.ring_seq == transitional.view_id.ring_seq
                assert regular.view_id > transitional.view_id and regular.view_id.index >= 1
                seen.append([transitional, regular])
            view_after = time.monotonic() - killed_at
            assert seen[0][0].view_id == seen[1][0].view_id and seen[0][1].view_id == seen[1][1].view_id
            assert seen[0][1].members == seen[1][1].members

            # The survivors go on in the new configuration.
            await a.multicast(group, b"after the kill")
            for session in (a, b):
                got = await messages(session, 1)
                assert got[0].payload == b"after the kill"
            ring = (await a.status(timeout=5))["ring"]
            assert sorted(ring["members"]) == ["d1", "d2"] and ring["kind"] == "regular"
            print(f"kill -9 -> ConnectionLost {lost_after * 1000:.0f} ms, regular view {view_after * 1000:.0f} ms")

            reader.join(5)
            assert not reader.is_alive(), "the blocking reader hung"
            assert isinstance(outcome.get("error"), chorus.ConnectionLost), outcome
            assert outcome["at"] - killed_at < 2.0
            with pytest.raises(chorus.ConnectionLost):
                doomed.multicast(group, b"x")
            doomed.close()

    run(scenario(), timeout=40)


def test_daemon_stopping_gracefully_is_seen_by_its_client(fresh_site: Site) -> None:
    """SIGTERM: the daemon leaves the ring; its clients get an error frame (shuttingDown) or
    lose the connection, promptly; the others see the network views."""
    group = unique("g")
    site = fresh_site

    async def scenario() -> None:
        async with chorus.connect(site["d1"].tcp, name=unique("a")) as a, chorus.connect(
            site["d2"].tcp, name=unique("b")
        ) as b:
            await join_all(group, [a, b])
            stopped_at = time.monotonic()
            site.kill("d2", signal.SIGTERM)
            failure: Optional[BaseException] = None
            try:
                while True:
                    await b.receive(5)
            except chorus.ChorusError as error:
                failure = error
            assert isinstance(failure, chorus.ShuttingDownError), failure
            print(f"SIGTERM: the daemon's own client got {failure!r}")
            assert time.monotonic() - stopped_at < 5
            transitional = await wait_for(a, Membership, lambda v: v.group == group)
            regular = await wait_for(a, Membership, lambda v: v.group == group)
            assert (transitional.kind, regular.kind) == (ViewKind.TRANSITIONAL, ViewKind.REGULAR)
            assert regular.members == (a.private_group,) and transitional.removed == (b.private_group,)
            print(f"SIGTERM: the other daemon's client got {transitional!r} then {regular!r}")

    run(scenario(), timeout=30)
    assert site["d2"].process is not None
    site["d2"].process.wait(10)

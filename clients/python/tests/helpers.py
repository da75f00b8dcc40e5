"""Waiting for events, with a timeout on every wait."""

from __future__ import annotations

import asyncio
from typing import Callable, List, Optional, Type, TypeVar

import chorus

E = TypeVar("E")

TIMEOUT = 10.0


async def next_event(session: chorus.Session, cls: Type[E], timeout: float = TIMEOUT) -> E:
    """The next event, which must be a ``cls``."""
    event = await session.receive(timeout)
    assert isinstance(event, cls), f"expected {cls.__name__}, got {event!r}"
    return event


async def wait_for(
    session: chorus.Session,
    cls: Type[E],
    predicate: Callable[[E], bool] = lambda _: True,
    timeout: float = TIMEOUT,
    skipped: Optional[List[chorus.Event]] = None,
) -> E:
    """Skips events until one of type ``cls`` satisfies ``predicate``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        left = deadline - loop.time()
        if left <= 0:
            raise asyncio.TimeoutError(f"no matching {cls.__name__} within {timeout} s")
        event = await session.receive(left)
        if isinstance(event, cls) and predicate(event):
            return event
        if skipped is not None:
            skipped.append(event)


async def messages(session: chorus.Session, count: int, timeout: float = TIMEOUT) -> List[chorus.Message]:
    """The next ``count`` messages (membership events in between are skipped)."""
    got: List[chorus.Message] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while len(got) < count:
        left = deadline - loop.time()
        if left <= 0:
            raise asyncio.TimeoutError(f"{len(got)} of {count} messages within {timeout} s")
        event = await session.receive(left)
        if isinstance(event, chorus.Message):
            got.append(event)
    return got


async def join_all(group: str, sessions: List[chorus.Session], timeout: float = TIMEOUT) -> List[chorus.Membership]:
    """Joins every session to ``group``, waits until each has seen the full view; returns those views."""
    for session in sessions:
        await session.join(group)
    everyone = {s.private_group for s in sessions}
    return [
        await wait_for(session, chorus.Membership, lambda v: v.group == group and set(v.members) == everyone, timeout)
        for session in sessions
    ]

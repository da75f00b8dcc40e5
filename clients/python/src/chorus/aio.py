"""The asyncio client.

.. code-block:: python

    async with chorus.connect("127.0.0.1:4800", name="alice") as session:
        await session.join("chat")
        await session.multicast("chat", b"hello")
        async for event in session:
            print(event)
"""

from __future__ import annotations

import asyncio
import itertools
import os
import ssl as _ssl
from types import TracebackType
from typing import Any, Dict, Generator, Iterable, List, Optional, Sequence, Type, Union

from ._core import REPLY_RELOAD, REPLY_STATUS, SessionCore
from .address import AddressLike, parse_address
from .errors import ConnectionFailed, SessionClosed
from .events import Event, FrameType, Service, Welcome
from .protocol import (
    _HEADER,
    encode_connect,
    encode_disconnect,
    encode_join,
    encode_leave,
    encode_reload_keys,
    encode_status,
    multicast_head,
)

__all__ = ["Session", "connect", "Payload", "Groups", "SSLOption"]

#: What a multicast payload may be: bytes-like, or text (sent as UTF-8).
Payload = Union[bytes, bytearray, memoryview, str]
#: One group name or several.
Groups = Union[str, Sequence[str]]
#: ``None``: plain TCP; ``True``: TLS with the system's trust roots; or an ``SSLContext``.
SSLOption = Union[None, bool, _ssl.SSLContext]

_names = itertools.count(1)


def default_name() -> str:
    """A session name unique in this process: ``python-<pid>-<n>``."""
    return f"python-{os.getpid()}-{next(_names)}"


def ssl_context(option: SSLOption) -> Optional[_ssl.SSLContext]:
    if option is None or option is False:
        return None
    if option is True:
        return _ssl.create_default_context()
    if isinstance(option, _ssl.SSLContext):
        return option
    raise TypeError("ssl is None, True or an ssl.SSLContext")


def payload_bytes(payload: Payload) -> bytes:
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode("utf-8")
    if isinstance(payload, (bytearray, memoryview)):
        return bytes(payload)
    raise TypeError(f"a payload is bytes-like or str, not {type(payload).__name__}")


def group_list(groups: Groups) -> Sequence[str]:
    if isinstance(groups, str):
        return (groups,)
    if isinstance(groups, (bytes, bytearray)):
        raise TypeError("group names are str")
    return tuple(groups)


def frames_for(head: bytes, payloads: Iterable[Payload], max_payload: int) -> bytes:
    """Multicast frames with one body head and several payloads, checked before any is sent."""
    parts: List[bytes] = []
    pack = _HEADER.pack
    for payload in payloads:
        data = payload_bytes(payload)
        if len(data) > max_payload:
            raise ValueError(f"payload of {len(data)} bytes exceeds the daemon's limit of {max_payload}")
        parts.append(pack(1 + len(head) + len(data), FrameType.MULTICAST))
        parts.append(head)
        parts.append(data)
    return b"".join(parts)


class _Protocol(asyncio.Protocol):
    """The connection's callbacks: feeds the core, wakes waiters, flow control both ways."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.core = SessionCore()
        self.transport: Optional[asyncio.Transport] = None
        self.welcome: "asyncio.Future[Welcome]" = loop.create_future()
        self.closed: "asyncio.Future[None]" = loop.create_future()
        self.waiters: List["asyncio.Future[None]"] = []
        self.write_paused = False
        self.drain_waiters: List["asyncio.Future[None]"] = []
        self.read_paused = False

    # MARK: asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=1 << 20)

    def data_received(self, data: bytes) -> None:
        core = self.core
        core.receive_bytes(data)
        if not self.welcome.done():
            if core.welcome is not None:
                self.welcome.set_result(core.welcome)
            elif core.failure is not None:
                self.welcome.set_exception(core.end_error())
                self.welcome.exception()  # retrieved, even if the opener gave up waiting
        if core.failure is not None:
            # An error frame ends the session (the daemon closes too), a malformed stream
            # cannot be trusted any further: close now rather than wait for the daemon.
            if self.transport is not None:
                self.transport.abort()
        elif core.wants_pause and not self.read_paused and self.transport is not None:
            self.read_paused = True
            self.transport.pause_reading()
        if core.events or core.failure is not None:
            self._wake()

    def eof_received(self) -> bool:
        return False  # the transport closes; connection_lost follows

    def connection_lost(self, exc: Optional[BaseException]) -> None:
        core = self.core
        core.connection_ended(exc)
        if not self.welcome.done():
            self.welcome.set_exception(core.end_error())
            # Nobody may be waiting any more (a timeout): do not report it as unretrieved.
            self.welcome.exception()
        for waiter in self.drain_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self.drain_waiters.clear()
        self._wake()
        if not self.closed.done():
            self.closed.set_result(None)

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        for waiter in self.drain_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self.drain_waiters.clear()

    # MARK: helpers

    def _wake(self) -> None:
        waiters, self.waiters = self.waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def maybe_resume_reading(self) -> None:
        if self.read_paused and self.core.may_resume and self.transport is not None and not self.core.ended:
            self.read_paused = False
            self.transport.resume_reading()

    async def wait_for_input(self) -> None:
        waiter = self.loop.create_future()
        self.waiters.append(waiter)
        try:
            await waiter
        finally:
            if waiter in self.waiters:
                self.waiters.remove(waiter)

    async def drain(self) -> None:
        if self.core.ended:
            raise self.core.end_error()
        if not self.write_paused:
            return
        waiter = self.loop.create_future()
        self.drain_waiters.append(waiter)
        await waiter
        if self.core.ended:
            raise self.core.end_error()


class Session:
    """One session with a daemon. Get one with :func:`connect`.

    Requests (:meth:`join`, :meth:`leave`, :meth:`multicast`) are written in order and return
    once written; they wait only while the daemon applies backpressure. Events come from
    ``async for event in session`` or :meth:`receive`: :class:`~chorus.Message`,
    :class:`~chorus.Membership`, :class:`~chorus.Refused` and :class:`~chorus.StatusReply`.
    When the daemon ends the session, iteration raises why (a
    :class:`~chorus.DaemonError` subclass for an error frame, :class:`~chorus.ConnectionLost`
    when the connection went away, :class:`~chorus.ProtocolError` for bytes that make no
    sense) after the events received before it; requests raise it too.
    """

    def __init__(self, protocol: _Protocol, transport: asyncio.Transport, welcome: Welcome, name: str) -> None:
        self._protocol = protocol
        self._transport = transport
        self.welcome = welcome
        #: The session's name, as given to connect.
        self.name = name
        self._head_key: Any = None
        self._head = b""

    # MARK: What the daemon said

    @property
    def private_group(self) -> str:
        """The session's private group (``#<n>#d<daemon id>``): a message sent to it reaches
        this session only, and it names the session as sender and member."""
        return self.welcome.private_group

    @property
    def daemon_name(self) -> str:
        """The configured name of the daemon the session is connected to."""
        return self.welcome.daemon

    @property
    def max_payload(self) -> int:
        """The largest multicast payload the daemon accepts."""
        return self.welcome.max_payload

    @property
    def closed(self) -> bool:
        """Whether the session is over (closed by this client, or ended by the daemon)."""
        return self._protocol.core.finished

    @property
    def failure(self) -> Optional[BaseException]:
        """Why the daemon ended the session, or None."""
        return self._protocol.core.failure

    # MARK: Requests

    async def _send(self, frame: bytes) -> None:
        core = self._protocol.core
        core.check_open()
        self._transport.write(frame)
        await self._protocol.drain()

    async def join(self, group: str) -> None:
        """Joins ``group``; its membership event (with ``membership=True``) shows where the
        join took effect."""
        await self._send(encode_join(group))

    async def leave(self, group: str) -> None:
        """Leaves ``group`` (leaving a group the session is not in is not an error)."""
        await self._send(encode_leave(group))

    async def multicast(
        self,
        groups: Groups,
        payload: Payload,
        service: Union[Service, int] = Service.AGREED,
        message_type: int = 0,
        self_discard: bool = False,
    ) -> None:
        """Sends ``payload`` to every member of ``groups`` (a group name, a list of them, or
        a private group name to reach one session). Waits only while the daemon cannot take
        more. ``self_discard``: this session does not get its own message."""
        data = payload_bytes(payload)
        if len(data) > self.welcome.max_payload:
            raise ValueError(f"payload of {len(data)} bytes exceeds the daemon's limit of {self.welcome.max_payload}")
        names = group_list(groups)
        key = (names, service, message_type, bool(self_discard))
        if key != self._head_key:
            self._head = multicast_head(names, service, message_type, self_discard)
            self._head_key = key
        head = self._head
        await self._send(_HEADER.pack(1 + len(head) + len(data), FrameType.MULTICAST) + head + data)

    async def multicast_many(
        self,
        groups: Groups,
        payloads: Iterable[Payload],
        service: Union[Service, int] = Service.AGREED,
        message_type: int = 0,
        self_discard: bool = False,
    ) -> None:
        """Sends several messages with the same groups and service in one write (for high
        rates): the same as calling :meth:`multicast` for each payload, in order."""
        names = group_list(groups)
        head = multicast_head(names, service, message_type, self_discard)
        await self._send(frames_for(head, payloads, self.welcome.max_payload))

    async def status(self, timeout: Optional[float] = None) -> Dict[str, Any]:
        """Asks the daemon for its state and returns its JSON document (docs/protocol.md,
        statusReply). Events that arrive meanwhile stay queued for iteration."""
        return await self._request(REPLY_STATUS, encode_status(), timeout)

    async def reload_keys(self, timeout: Optional[float] = None) -> Dict[str, Any]:
        """Asks the daemon to read its key file again; returns its status document, or raises
        :class:`~chorus.AccessDeniedError` / :class:`~chorus.ReloadFailedError`."""
        return await self._request(REPLY_RELOAD, encode_reload_keys(), timeout)

    async def request_status(self) -> None:
        """Asks for a status reply without waiting: it arrives as a :class:`StatusReply` event."""
        self._protocol.core.check_open()
        self._protocol.core.replies.append((REPLY_STATUS, None))
        await self._send(encode_status())

    async def _request(self, kind: str, frame: bytes, timeout: Optional[float]) -> Dict[str, Any]:
        protocol = self._protocol
        protocol.core.check_open()
        reply: "asyncio.Future[Dict[str, Any]]" = protocol.loop.create_future()
        protocol.core.replies.append((kind, reply))
        protocol.maybe_resume_reading()
        try:
            await self._send(frame)
            return await asyncio.wait_for(reply, timeout)
        finally:
            if not reply.done():
                reply.cancel()  # the answer, when it comes, is dropped

    # MARK: Events

    def __aiter__(self) -> "Session":
        return self

    async def __anext__(self) -> Event:
        try:
            return await self._next()
        except SessionClosed:
            raise StopAsyncIteration from None

    async def receive(self, timeout: Optional[float] = None) -> Event:
        """The next event. Raises ``asyncio.TimeoutError`` after ``timeout`` seconds without
        one, and why the session ended once it has (``SessionClosed`` if this client closed it)."""
        event = self._protocol.core.take()
        if event is not None:  # no task or timer for an event already here
            self._protocol.maybe_resume_reading()
            return event
        if timeout is None:
            return await self._next()
        return await asyncio.wait_for(self._next(), timeout)

    def receive_nowait(self) -> Optional[Event]:
        """An event already received, or None."""
        event = self._protocol.core.take()
        if event is not None:
            self._protocol.maybe_resume_reading()
        return event

    async def _next(self) -> Event:
        protocol = self._protocol
        core = protocol.core
        while True:
            event = core.take()
            if event is not None:
                protocol.maybe_resume_reading()
                return event
            if core.finished:
                raise core.end_error()
            await protocol.wait_for_input()

    # MARK: Ending

    async def close(self, timeout: float = 5.0) -> None:
        """Ends the session gracefully: shuts down the write side (or sends disconnect, over
        TLS) so the daemon processes every request written before, then reads until the
        daemon closes, dropping what arrives. Waits at most ``timeout`` seconds, then aborts.
        Never raises for a session that is already over."""
        protocol = self._protocol
        core = protocol.core
        if not core.closing:
            core.closing = True
            core.drop_events()
            core.fail_replies(SessionClosed("the session is closed"))
            protocol._wake()
            if not core.ended:
                if protocol.read_paused:
                    protocol.read_paused = False
                    self._transport.resume_reading()
                try:
                    if self._transport.can_write_eof():
                        self._transport.write_eof()
                    else:
                        self._transport.write(encode_disconnect())
                except (OSError, RuntimeError):
                    self._transport.abort()
        try:
            await asyncio.wait_for(asyncio.shield(protocol.closed), timeout)
        except asyncio.TimeoutError:
            self._transport.abort()
            await protocol.closed

    def abort(self) -> None:
        """Closes the connection at once (requests still buffered here are lost)."""
        protocol = self._protocol
        if not protocol.core.closing:
            protocol.core.closing = True
            protocol.core.drop_events()
            protocol.core.fail_replies(SessionClosed("the session is closed"))
            protocol._wake()
        self._transport.abort()

    async def __aenter__(self) -> "Session":
        return self

    async def __aexit__(
        self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        if exc_type is None:
            await self.close()
        else:
            self.abort()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<chorus.Session {self.name!r} {self.private_group} on {self.daemon_name} ({state})>"


async def open_session(
    address: Optional[AddressLike] = None,
    *,
    name: Optional[str] = None,
    membership: bool = True,
    token: Optional[str] = None,
    ssl: SSLOption = None,
    server_hostname: Optional[str] = None,
    timeout: float = 10.0,
) -> Session:
    """Connects and waits for the daemon's welcome; see :func:`connect`."""
    where = parse_address(address)
    name = default_name() if name is None else name
    connect_frame = encode_connect(name, membership, token)
    context = ssl_context(ssl)
    loop = asyncio.get_running_loop()
    try:
        if where.path is not None:
            opening = loop.create_unix_connection(lambda: _Protocol(loop), where.path)
        else:
            assert where.host is not None and where.port is not None
            opening = loop.create_connection(
                lambda: _Protocol(loop),
                where.host,
                where.port,
                ssl=context,
                server_hostname=(server_hostname or where.host) if context is not None else None,
            )
        transport, protocol = await asyncio.wait_for(opening, timeout)
    except asyncio.TimeoutError:
        raise ConnectionFailed(f"{where}: no connection within {timeout} s") from None
    except (OSError, _ssl.SSLError) as error:
        raise ConnectionFailed(f"{where}: {error}") from error
    assert isinstance(transport, asyncio.Transport)
    try:
        transport.write(connect_frame)
        try:
            welcome = await asyncio.wait_for(asyncio.shield(protocol.welcome), timeout)
        except asyncio.TimeoutError:
            raise ConnectionFailed(f"{where}: no welcome from the daemon within {timeout} s") from None
    except BaseException:
        transport.abort()
        raise
    # A failure right after the welcome (in the same read) is reported to the session's reader,
    # after the events that came before it.
    return Session(protocol, transport, welcome, name)


class connect:
    """Opens a session with the daemon at ``address``: await it, or use it with ``async with``
    (the session closes gracefully at the end of the block, or is aborted if the block raises).

    :param address: ``"host:port"``, ``"[v6]:port"``, a port, a Unix socket path (starting
        with ``/``), a ``PathLike`` or a ``(host, port)`` tuple; default ``127.0.0.1:4800``
        (the daemon's default, as in the Swift library and CLI).
    :param name: the session's name, unique on its daemon: 1 to 32 of ``A-Z a-z 0-9 _ - .``
        (default ``python-<pid>-<n>``).
    :param membership: whether the session gets membership events.
    :param token: a token of the daemon's tokens file (send it over TLS or the Unix socket).
    :param ssl: TLS for TCP: ``True`` or an ``ssl.SSLContext``; ignored for a Unix socket.
    :param server_hostname: with TLS, the name the daemon's certificate must carry.
    :param timeout: seconds to wait for the connection and for the welcome.
    :raises ConnectionFailed: nothing could be reached.
    :raises DaemonError: the daemon refused the session (e.g. :class:`InvalidNameError`).
    """

    def __init__(
        self,
        address: Optional[AddressLike] = None,
        *,
        name: Optional[str] = None,
        membership: bool = True,
        token: Optional[str] = None,
        ssl: SSLOption = None,
        server_hostname: Optional[str] = None,
        timeout: float = 10.0,
    ) -> None:
        self._arguments: Dict[str, Any] = dict(
            name=name, membership=membership, token=token, ssl=ssl, server_hostname=server_hostname, timeout=timeout
        )
        self._address = address
        self._session: Optional[Session] = None

    def __await__(self) -> Generator[Any, None, Session]:
        return open_session(self._address, **self._arguments).__await__()

    async def __aenter__(self) -> Session:
        self._session = await open_session(self._address, **self._arguments)
        return self._session

    async def __aexit__(
        self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.__aexit__(exc_type, exc, tb)


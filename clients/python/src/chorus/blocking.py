"""A blocking client for scripts, on the ``socket`` module (no event loop, no threads).

.. code-block:: python

    import chorus.blocking

    with chorus.blocking.connect("/tmp/chorusd.4800.sock", name="script") as session:
        session.join("chat")
        session.multicast("chat", b"hello")
        event = session.receive(timeout=5)

While a request waits for the socket to take it (the daemon applies backpressure), the
session keeps reading what the daemon sends into its inbox (up to 4 MiB unread), so a script
that only sends does not block itself.
"""

from __future__ import annotations

import selectors
import socket
import ssl as _ssl
import time
from types import TracebackType
from typing import Any, Dict, Iterable, Iterator, Optional, Tuple, Type, Union

from ._core import REPLY_RELOAD, REPLY_STATUS, SessionCore
from .address import AddressLike, parse_address
from .aio import Groups, Payload, SSLOption, default_name, frames_for, group_list, payload_bytes, ssl_context
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

__all__ = ["BlockingSession", "connect"]

_WOULD_BLOCK = (BlockingIOError, InterruptedError, _ssl.SSLWantReadError, _ssl.SSLWantWriteError)
_READ_SIZE = 256 << 10


class _Slot:
    """Where a status reply lands (the blocking counterpart of a future)."""

    __slots__ = ("_done", "result", "error")

    def __init__(self) -> None:
        self._done = False
        self.result: Any = None
        self.error: Optional[BaseException] = None

    def done(self) -> bool:
        return self._done

    def set_result(self, value: Any) -> None:
        self._done = True
        self.result = value

    def set_exception(self, error: BaseException) -> None:
        self._done = True
        self.error = error


def _remaining(deadline: Optional[float]) -> Optional[float]:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


class BlockingSession:
    """One session with a daemon, for code without an event loop. Get one with :func:`connect`.

    The methods mirror :class:`chorus.aio.Session`; :meth:`receive` takes a timeout and raises
    ``TimeoutError`` when it passes. Not thread-safe: use a session from one thread.
    """

    def __init__(self, sock: socket.socket, name: str) -> None:
        self._sock: Optional[socket.socket] = sock
        self._core = SessionCore()
        self._selector = selectors.DefaultSelector()
        self._selector.register(sock, selectors.EVENT_READ)
        self._registered = selectors.EVENT_READ
        self._head_key: Any = None
        self._head = b""
        #: The session's name, as given to connect.
        self.name = name
        self.welcome: Welcome = Welcome(0, "", "", 0)

    # MARK: What the daemon said

    @property
    def private_group(self) -> str:
        return self.welcome.private_group

    @property
    def daemon_name(self) -> str:
        return self.welcome.daemon

    @property
    def max_payload(self) -> int:
        return self.welcome.max_payload

    @property
    def closed(self) -> bool:
        return self._core.finished

    @property
    def failure(self) -> Optional[BaseException]:
        return self._core.failure

    # MARK: Socket

    def _wait(self, read: bool, write: bool, deadline: Optional[float]) -> Tuple[bool, bool]:
        """Waits until the socket is readable or writable (as asked) or the deadline passes."""
        sock = self._sock
        if sock is None:
            return (False, False)
        if read and isinstance(sock, _ssl.SSLSocket) and sock.pending():
            return (True, False)
        events = (selectors.EVENT_READ if read else 0) | (selectors.EVENT_WRITE if write else 0)
        if events == 0:
            return (False, False)
        if events != self._registered:
            self._selector.modify(sock, events)
            self._registered = events
        ready = self._selector.select(_remaining(deadline))
        mask = 0
        for _, event_mask in ready:
            mask |= event_mask
        return (bool(mask & selectors.EVENT_READ), bool(mask & selectors.EVENT_WRITE))

    def _read_available(self) -> None:
        """Reads what the socket has (without blocking) into the core."""
        core = self._core
        while self._sock is not None and not core.ended:
            try:
                data = self._sock.recv(_READ_SIZE)
            except _WOULD_BLOCK:
                return
            except OSError as error:
                self._lost(error)
                return
            if not data:
                self._lost(None)
                return
            core.receive_bytes(data)
            if core.failure is not None:
                # An error frame or a malformed stream: the session is over.
                self._lost(None)
                return
            sock = self._sock
            if not (isinstance(sock, _ssl.SSLSocket) and sock.pending()) and len(data) < _READ_SIZE:
                return

    def _lost(self, error: Optional[BaseException]) -> None:
        self._core.connection_ended(error)
        self._close_socket()

    def _close_socket(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                self._selector.unregister(sock)
            except (KeyError, ValueError):  # pragma: no cover
                pass
            self._selector.close()
            sock.close()

    def _write(self, frame: bytes, deadline: Optional[float] = None) -> None:
        """Writes a whole frame, reading input meanwhile; raises why the session ended if it did."""
        core = self._core
        core.check_open()
        view = memoryview(frame)
        while view:
            sock = self._sock
            if sock is None:
                raise core.end_error()
            try:
                sent = sock.send(view)
            except _WOULD_BLOCK:
                sent = 0
            except OSError as error:
                # The daemon closed: read what it said last (an error frame, maybe) first.
                self._read_available()
                self._lost(error)
                raise core.end_error() from None
            view = view[sent:]
            if not view:
                return
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError("the daemon did not take the request in time")
            readable, _ = self._wait(not core.wants_pause, True, deadline)
            if readable:
                self._read_available()
                if core.ended:
                    raise core.end_error()

    # MARK: Requests

    def join(self, group: str) -> None:
        """Joins ``group``."""
        self._write(encode_join(group))

    def leave(self, group: str) -> None:
        """Leaves ``group``."""
        self._write(encode_leave(group))

    def multicast(
        self,
        groups: Groups,
        payload: Payload,
        service: Union[Service, int] = Service.AGREED,
        message_type: int = 0,
        self_discard: bool = False,
    ) -> None:
        """Sends ``payload`` to every member of ``groups``; blocks only while the daemon cannot
        take more."""
        data = payload_bytes(payload)
        if len(data) > self.welcome.max_payload:
            raise ValueError(f"payload of {len(data)} bytes exceeds the daemon's limit of {self.welcome.max_payload}")
        names = group_list(groups)
        key = (names, service, message_type, bool(self_discard))
        if key != self._head_key:
            self._head = multicast_head(names, service, message_type, self_discard)
            self._head_key = key
        head = self._head
        self._write(_HEADER.pack(1 + len(head) + len(data), FrameType.MULTICAST) + head + data)

    def multicast_many(
        self,
        groups: Groups,
        payloads: Iterable[Payload],
        service: Union[Service, int] = Service.AGREED,
        message_type: int = 0,
        self_discard: bool = False,
    ) -> None:
        """Sends several messages with the same groups and service in one write (for high
        rates): the same as calling :meth:`multicast` for each payload, in order."""
        head = multicast_head(group_list(groups), service, message_type, self_discard)
        self._write(frames_for(head, payloads, self.welcome.max_payload))

    def status(self, timeout: Optional[float] = None) -> Dict[str, Any]:
        """The daemon's status document; events arriving meanwhile stay queued."""
        return self._request(REPLY_STATUS, encode_status(), timeout)

    def reload_keys(self, timeout: Optional[float] = None) -> Dict[str, Any]:
        """Asks the daemon to read its key file again (see :meth:`chorus.aio.Session.reload_keys`)."""
        return self._request(REPLY_RELOAD, encode_reload_keys(), timeout)

    def request_status(self) -> None:
        """Asks for a status reply that arrives as a :class:`StatusReply` event."""
        self._core.check_open()
        self._core.replies.append((REPLY_STATUS, None))
        self._write(encode_status())

    def _request(self, kind: str, frame: bytes, timeout: Optional[float]) -> Dict[str, Any]:
        core = self._core
        core.check_open()
        deadline = None if timeout is None else time.monotonic() + timeout
        slot = _Slot()
        core.replies.append((kind, slot))
        self._write(frame, deadline)
        while not slot.done():
            if core.ended:
                raise core.end_error()
            readable, _ = self._wait(True, False, deadline)
            if readable:
                self._read_available()
            elif deadline is not None and time.monotonic() >= deadline:
                slot.set_exception(TimeoutError())  # the reply, when it comes, is dropped
                raise TimeoutError(f"no reply from the daemon within {timeout} s")
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[no-any-return]

    # MARK: Events

    def receive(self, timeout: Optional[float] = None) -> Event:
        """The next event, waiting at most ``timeout`` seconds (``TimeoutError``) or forever
        (None). Once the session is over, raises why (``SessionClosed`` if this client closed it)."""
        core = self._core
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            event = core.take()
            if event is not None:
                return event
            if core.finished:
                raise core.end_error()
            readable, _ = self._wait(True, False, deadline)
            if readable:
                self._read_available()
            elif deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"no event within {timeout} s")

    def poll(self) -> Optional[Event]:
        """An event if one can be had without waiting, else None."""
        try:
            return self.receive(timeout=0)
        except TimeoutError:
            return None

    def __iter__(self) -> Iterator[Event]:
        """Events until this client closes the session; raises why the daemon ended it."""
        while True:
            try:
                yield self.receive()
            except SessionClosed:
                return

    # MARK: Ending

    def close(self, timeout: float = 5.0) -> None:
        """Ends the session gracefully: the daemon processes every request written, then
        closes; what arrives meanwhile is dropped. At most ``timeout`` seconds."""
        core = self._core
        if self._sock is None:
            core.closing = True
            return
        if not core.closing:
            core.closing = True
            core.drop_events()
            core.fail_replies(SessionClosed("the session is closed"))
        deadline = time.monotonic() + timeout
        sock = self._sock
        try:
            if isinstance(sock, _ssl.SSLSocket):
                view = memoryview(encode_disconnect())
                while view and time.monotonic() < deadline:
                    try:
                        view = view[sock.send(view) :]
                    except _WOULD_BLOCK:
                        self._wait(True, True, deadline)
                        self._read_available()
                    if self._sock is None:
                        break
            else:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._lost(None)
        while self._sock is not None and time.monotonic() < deadline:
            readable, _ = self._wait(True, False, deadline)
            if readable:
                self._read_available()
        self._close_socket()
        core.ended = True

    def abort(self) -> None:
        """Closes the connection at once."""
        self._core.closing = True
        self._core.drop_events()
        self._core.fail_replies(SessionClosed("the session is closed"))
        self._close_socket()
        self._core.ended = True

    def __enter__(self) -> "BlockingSession":
        return self

    def __exit__(
        self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<chorus.blocking.BlockingSession {self.name!r} {self.private_group} on {self.daemon_name} ({state})>"


def connect(
    address: Optional[AddressLike] = None,
    *,
    name: Optional[str] = None,
    membership: bool = True,
    token: Optional[str] = None,
    ssl: SSLOption = None,
    server_hostname: Optional[str] = None,
    timeout: float = 10.0,
) -> BlockingSession:
    """Opens a session; the arguments are those of :func:`chorus.connect`. Use the result with
    ``with`` or call its ``close()``."""
    where = parse_address(address)
    name = default_name() if name is None else name
    connect_frame = encode_connect(name, membership, token)
    context = ssl_context(ssl)
    deadline = time.monotonic() + timeout
    sock: Optional[socket.socket] = None
    try:
        if where.path is not None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(where.path)
        else:
            assert where.host is not None and where.port is not None
            sock = socket.create_connection((where.host, where.port), timeout=timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if context is not None:
                sock = context.wrap_socket(sock, server_hostname=server_hostname or where.host)
    except (OSError, _ssl.SSLError) as error:
        if sock is not None:
            sock.close()
        raise ConnectionFailed(f"{where}: {error}") from error
    sock.setblocking(False)
    session = BlockingSession(sock, name)
    core = session._core
    try:
        session._write(connect_frame, deadline)
        while core.welcome is None:
            if core.finished:
                raise core.end_error()
            readable, _ = session._wait(True, False, deadline)
            if readable:
                session._read_available()
            elif time.monotonic() >= deadline:
                raise ConnectionFailed(f"{where}: no welcome from the daemon within {timeout} s")
    except BaseException:
        session.abort()
        raise
    session.welcome = core.welcome
    return session

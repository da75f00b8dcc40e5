"""The state of one session, without I/O: shared by the asyncio and the blocking client.

The I/O layer feeds received bytes to :meth:`SessionCore.receive_bytes` and reports the end of
the connection with :meth:`SessionCore.connection_ended`; it then looks at the state (a welcome,
new events, a failure) and wakes whoever waits.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Deque, List, Optional, Tuple

from .errors import ChorusError, ConnectionLost, DaemonError, ProtocolError, SessionClosed, error_for_code
from .events import Event, FrameType, Refused, StatusReply, Welcome
from .protocol import MAX_FIRST_FRAME_LENGTH, ErrorFrame, FrameDecoder, MessageDecoder, decode_frame

#: Unread event bytes above which a session stops reading its connection (the daemon then
#: holds the rest, and disconnects a reader that never catches up as a slow receiver).
HIGH_WATER = 4 << 20
#: ... and below which it reads again.
LOW_WATER = 1 << 20

REPLY_STATUS = "status"
REPLY_RELOAD = "reload"


def fresh(error: BaseException) -> BaseException:
    """A new exception like ``error`` (raising one instance again and again grows its traceback)."""
    if isinstance(error, DaemonError):
        return type(error)(error.code, error.text)
    try:
        return type(error)(*error.args)
    except Exception:  # pragma: no cover - an exception type with an unusual constructor
        return error


class SessionCore:
    """Decoded input of one connection: the welcome, the inbox of events, pending replies to
    status and reloadKeys requests, and why the session ended."""

    def __init__(self) -> None:
        self.decoder = FrameDecoder(max_first_frame_length=MAX_FIRST_FRAME_LENGTH)
        self.messages = MessageDecoder()
        self.welcome: Optional[Welcome] = None
        #: Events not yet taken, with their frame body sizes.
        self.events: Deque[Tuple[Event, int]] = deque()
        self.pending_bytes = 0
        #: Why the session ended (error frame, protocol violation, connection lost); None while
        #: it runs or when this client closed it.
        self.failure: Optional[ChorusError] = None
        #: The connection is gone.
        self.ended = False
        #: This client is closing the session: later input is dropped.
        self.closing = False
        #: Requests waiting for a statusReply (or a refused reloadKeys), in order: (kind, slot).
        #: A slot is a future-like object (done, set_result, set_exception) or None, which
        #: means that the answer goes to the inbox as an event.
        self.replies: Deque[Tuple[str, Any]] = deque()

    # MARK: Input

    def receive_bytes(self, data: bytes) -> None:
        """Cuts and decodes ``data``; a malformed stream records a :class:`ProtocolError`."""
        if self.failure is not None or self.ended:
            return
        try:
            frames = self.decoder.feed(data)
            if self.welcome is not None and not self.closing:
                # The common case, messages to an open session, without the general dispatch.
                decode = self.messages.decode
                events = self.events
                for index, (frame_type, body) in enumerate(frames):
                    if frame_type != 0x82:
                        frames = frames[index:]
                        break
                    events.append((decode(body), len(body)))
                    self.pending_bytes += len(body)
                else:
                    frames = []
            for frame_type, body in frames:
                self._dispatch(decode_frame(frame_type, body, self.messages), len(body))
                if self.failure is not None:
                    return
            if self.decoder.error is not None:
                raise self.decoder.error
        except ProtocolError as error:
            self.fail(error)

    def _dispatch(self, frame: object, size: int) -> None:
        if isinstance(frame, Welcome):
            if self.welcome is not None:
                raise ProtocolError("a second welcome frame")
            self.welcome = frame
            return
        if isinstance(frame, ErrorFrame):
            self.fail(error_for_code(int(frame.code), frame.text))
            return
        if self.welcome is None:
            raise ProtocolError(f"the daemon's first frame was {type(frame).__name__}, not welcome or error")
        if self.closing:
            return
        if isinstance(frame, StatusReply):
            if self.replies:
                _, slot = self.replies.popleft()
                if slot is not None:
                    if not slot.done():
                        slot.set_result(frame.document)
                    return
            self._enqueue(frame, size)
            return
        if isinstance(frame, Refused) and frame.request == FrameType.RELOAD_KEYS and self.replies and self.replies[0][0] == REPLY_RELOAD:
            _, slot = self.replies.popleft()
            if slot is not None:
                if not slot.done():
                    slot.set_exception(frame.error())
                return
        self._enqueue(frame, size)  # type: ignore[arg-type]

    def _enqueue(self, event: Event, size: int) -> None:
        self.events.append((event, size))
        self.pending_bytes += size

    def fail(self, error: ChorusError) -> None:
        """Records why the session ended (the first reason stays) and fails waiting replies."""
        if self.failure is None and not self.closing:
            self.failure = error
        self.fail_replies(error)

    def connection_ended(self, error: Optional[BaseException] = None) -> None:
        """The connection is gone: end of stream (``error`` None) or an OS error."""
        if self.ended:
            return
        self.ended = True
        if self.failure is None and not self.closing:
            if error is not None:
                self.failure = ConnectionLost(f"connection to the daemon lost: {error}")
            elif not self.decoder.at_frame_boundary():
                self.failure = ConnectionLost(f"the daemon closed the connection in the middle of a frame ({self.decoder.buffered} bytes of it)")
            else:
                self.failure = ConnectionLost("the daemon closed the connection")
        self.fail_replies(self.failure or SessionClosed("the session is closed"))

    def fail_replies(self, error: BaseException) -> None:
        while self.replies:
            _, slot = self.replies.popleft()
            if slot is not None and not slot.done():
                slot.set_exception(fresh(error))

    # MARK: Output to the application

    def take(self) -> Optional[Event]:
        """The next event, or None if none is waiting."""
        if not self.events:
            return None
        event, size = self.events.popleft()
        self.pending_bytes -= size
        return event

    @property
    def finished(self) -> bool:
        """No more events will come (after those waiting)."""
        return self.ended or self.failure is not None or self.closing

    def end_error(self) -> BaseException:
        """What to raise to a caller once the session is over."""
        if self.failure is not None:
            return fresh(self.failure)
        return SessionClosed("the session is closed")

    def check_open(self) -> None:
        """Raises why the session cannot take requests any more, if it cannot."""
        if self.failure is not None or self.closing or self.ended:
            raise self.end_error()

    @property
    def wants_pause(self) -> bool:
        """Whether reading should stop: too many unread bytes and no reply awaited."""
        return self.pending_bytes >= HIGH_WATER and not self.replies

    @property
    def may_resume(self) -> bool:
        return self.pending_bytes < LOW_WATER or bool(self.replies) or self.closing

    def drop_events(self) -> List[Event]:
        dropped = [event for event, _ in self.events]
        self.events.clear()
        self.pending_bytes = 0
        return dropped

"""The wire format of the Chorus client protocol, version 3 (docs/protocol.md), without I/O.

Encoding functions build whole client frames as ``bytes`` and refuse, with ``ValueError``,
what the format cannot carry. :class:`FrameDecoder` cuts a byte stream into frames with
every length checked before anything is allocated, and :func:`decode_frame` turns one
daemon frame into an event; anything malformed raises :class:`~chorus.errors.ProtocolError`.
"""

from __future__ import annotations

import struct
from typing import List, Optional, Sequence, Tuple, Union

from .errors import ProtocolError
from .events import (
    FrameType,
    Membership,
    Message,
    Reason,
    Refused,
    Service,
    StatusReply,
    ViewId,
    ViewKind,
    Welcome,
    code_value,
    request_value,
)

__all__ = [
    "PROTOCOL_VERSION",
    "MAX_FRAME_LENGTH",
    "MAX_FIRST_FRAME_LENGTH",
    "MAX_NAME_LENGTH",
    "ErrorFrame",
    "DaemonFrame",
    "FrameDecoder",
    "decode_frame",
    "MessageDecoder",
    "encode_connect",
    "encode_join",
    "encode_leave",
    "encode_multicast",
    "encode_multicast_header",
    "multicast_head",
    "encode_disconnect",
    "encode_status",
    "encode_reload_keys",
    "check_group",
]

#: The protocol version this client speaks.
PROTOCOL_VERSION = 3
#: Largest frame length (type byte and body) either side accepts: 16 MiB + 64 KiB.
MAX_FRAME_LENGTH = (1 << 24) + (1 << 16)
#: Largest first frame a daemon may send: a welcome, or an error with the longest text a
#: str16 can hold (1 type + 2 code + 2 length + 65535).
MAX_FIRST_FRAME_LENGTH = 1 + 2 + 2 + 0xFFFF
#: Longest session name, in UTF-8 bytes (the daemon checks the characters).
MAX_NAME_LENGTH = 32

_HEADER = struct.Struct(">IB")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_MEMBERSHIP_FIXED = struct.Struct(">QIQBB")
_MESSAGE_FIXED = struct.Struct(">BHB")  # service, message type, sender length


class ErrorFrame:
    """A decoded error frame: the daemon ends the session."""

    __slots__ = ("code", "text")

    def __init__(self, code: int, text: str) -> None:
        self.code = code
        self.text = text

    def __repr__(self) -> str:
        return f"ErrorFrame(code={self.code!r}, text={self.text!r})"


DaemonFrame = Union[Welcome, Message, Membership, ErrorFrame, StatusReply, Refused]


# MARK: Encoding


def _str8(text: str, what: str) -> bytes:
    data = text.encode("utf-8")
    if len(data) > 0xFF:
        raise ValueError(f"{what} {text!r} is {len(data)} bytes; at most 255 fit")
    return bytes((len(data),)) + data


def _frame(frame_type: int, body: bytes) -> bytes:
    return _HEADER.pack(len(body) + 1, frame_type) + body


def check_group(group: str, joinable: bool) -> bytes:
    """A group name as ``str8``; refuses (``ValueError``) an empty one, one over 255 bytes, and,
    for join and leave, a private group name (``#...``)."""
    if not isinstance(group, str):
        raise TypeError(f"a group name is a str, not {type(group).__name__}")
    data = group.encode("utf-8")
    if not 1 <= len(data) <= 0xFF:
        raise ValueError(f"group name {group!r} must be 1 to 255 bytes of UTF-8, not {len(data)}")
    if joinable and group.startswith("#"):
        raise ValueError(f"{group!r} is a private group name; it cannot be joined or left")
    return bytes((len(data),)) + data


def encode_connect(name: str, membership: bool, token: Optional[str] = None, version: int = PROTOCOL_VERSION) -> bytes:
    """The connect frame. The name's characters are left to the daemon to judge (it answers
    ``invalidName``); a name or token too long for the format raises ``ValueError``."""
    if not isinstance(name, str):
        raise TypeError("the session name is a str")
    body = _U16.pack(version) + bytes((1 if membership else 0,)) + _str8(name, "session name")
    if version >= 3:
        body += _str8(token or "", "token")
    if len(body) + 1 > 1024:
        raise ValueError("the connect frame would exceed 1024 bytes")
    return _frame(FrameType.CONNECT, body)


def encode_join(group: str) -> bytes:
    return _frame(FrameType.JOIN, check_group(group, joinable=True))


def encode_leave(group: str) -> bytes:
    return _frame(FrameType.LEAVE, check_group(group, joinable=True))


def multicast_head(groups: Sequence[str], service: int, message_type: int, self_discard: bool) -> bytes:
    """The body of a multicast frame before its payload: service, flags, message type, groups."""
    try:
        service_value = Service(service)
    except ValueError:
        raise ValueError(f"service {service!r} is not one of 0 to 5") from None
    if not isinstance(message_type, int) or not 0 <= message_type <= 0xFFFF:
        raise ValueError(f"message type {message_type!r} is not a u16")
    if not 1 <= len(groups) <= 0xFF:
        raise ValueError(f"a message goes to 1 to 255 groups, not {len(groups)}")
    parts = [bytes((service_value, 1 if self_discard else 0)), _U16.pack(message_type), bytes((len(groups),))]
    for group in groups:
        parts.append(check_group(group, joinable=False))
    return b"".join(parts)


def encode_multicast_header(
    groups: Sequence[str], payload_length: int, service: int, message_type: int, self_discard: bool
) -> bytes:
    """A multicast frame up to its payload (``payload_length`` bytes must follow)."""
    head = multicast_head(groups, service, message_type, self_discard)
    return _HEADER.pack(1 + len(head) + payload_length, FrameType.MULTICAST) + head


def encode_multicast(
    groups: Sequence[str], payload: bytes, service: int = Service.AGREED, message_type: int = 0, self_discard: bool = False
) -> bytes:
    header = encode_multicast_header(groups, len(payload), service, message_type, self_discard)
    return header + bytes(payload)


def encode_disconnect() -> bytes:
    return _frame(FrameType.DISCONNECT, b"")


def encode_status() -> bytes:
    return _frame(FrameType.STATUS, b"")


def encode_reload_keys() -> bytes:
    return _frame(FrameType.RELOAD_KEYS, b"")


# MARK: Decoding


class FrameDecoder:
    """Cuts a byte stream into ``(type, body)`` frames.

    The length field is checked as soon as its 4 bytes are in: 0 or more than the limit is a
    :class:`ProtocolError` at once, before the body is awaited, so the buffer never holds more
    than one frame's worth plus what the last read brought. ``max_first_frame_length`` is a
    lower limit for the stream's first frame (a welcome or an error is small).
    """

    __slots__ = ("_buffer", "_offset", "max_frame_length", "max_first_frame_length", "_seen_first", "error")

    def __init__(self, max_frame_length: int = MAX_FRAME_LENGTH, max_first_frame_length: Optional[int] = None) -> None:
        self._buffer = bytearray()
        self._offset = 0
        self.max_frame_length = max_frame_length
        self.max_first_frame_length = max_first_frame_length
        self._seen_first = False
        #: The error that ended the stream, once one did.
        self.error: Optional[ProtocolError] = None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet cut into frames."""
        return len(self._buffer) - self._offset

    def feed(self, data: bytes) -> List[Tuple[int, bytes]]:
        """Adds ``data`` and returns every frame now complete, in order.

        A bad length raises :class:`ProtocolError`; when good frames came before it in the
        same data, they are returned first and the error is raised by the next call (and kept
        in :attr:`error`), so that a reader can deliver what preceded the fault.
        """
        if self.error is not None:
            raise self.error
        buffer = self._buffer
        if self._offset and self._offset == len(buffer):
            buffer.clear()
            self._offset = 0
        buffer += data
        frames: List[Tuple[int, bytes]] = []
        offset = self._offset
        end = len(buffer)
        try:
            while end - offset >= 4:
                (length,) = _U32.unpack_from(buffer, offset)
                if length == 0:
                    self.error = ProtocolError("frame length 0 (a frame holds at least its type byte)")
                else:
                    limit = self.max_frame_length
                    if not self._seen_first and self.max_first_frame_length is not None:
                        limit = min(limit, self.max_first_frame_length)
                    if length > limit:
                        which = "frame" if self._seen_first else "first frame"
                        self.error = ProtocolError(f"{which} length {length} exceeds the limit of {limit}")
                if self.error is not None:
                    # Nothing more of this stream can be trusted: drop what is buffered.
                    buffer.clear()
                    offset = 0
                    if not frames:
                        raise self.error
                    return frames
                if end - offset - 4 < length:
                    break
                frame_type = buffer[offset + 4]
                frames.append((frame_type, bytes(buffer[offset + 5 : offset + 4 + length])))
                offset += 4 + length
                self._seen_first = True
        finally:
            self._offset = offset
        if offset > 65536 and offset * 2 > end:
            del buffer[:offset]
            self._offset = 0
        return frames

    def at_frame_boundary(self) -> bool:
        """Whether no partial frame is buffered (an end of stream here is clean)."""
        return self._offset == len(self._buffer)


class _Reader:
    """Reads the fields of one frame body; every shortfall is a ProtocolError."""

    __slots__ = ("data", "pos", "frame")

    def __init__(self, data: bytes, frame: str) -> None:
        self.data = data
        self.pos = 0
        self.frame = frame

    def _need(self, count: int, field: str) -> int:
        pos = self.pos
        if len(self.data) - pos < count:
            raise ProtocolError(f"{self.frame} frame truncated at {field}: {count} bytes needed, {len(self.data) - pos} left")
        self.pos = pos + count
        return pos

    def u8(self, field: str) -> int:
        pos = self._need(1, field)
        return self.data[pos]

    def u16(self, field: str) -> int:
        pos = self._need(2, field)
        return int.from_bytes(self.data[pos : pos + 2], "big")

    def u32(self, field: str) -> int:
        pos = self._need(4, field)
        return int.from_bytes(self.data[pos : pos + 4], "big")

    def u64(self, field: str) -> int:
        pos = self._need(8, field)
        return int.from_bytes(self.data[pos : pos + 8], "big")

    def _text(self, length: int, field: str) -> str:
        pos = self._need(length, field)
        try:
            return self.data[pos : pos + length].decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError(f"{self.frame} frame: {field} is not valid UTF-8") from None

    def str8(self, field: str) -> str:
        return self._text(self.u8(field), field)

    def str16(self, field: str) -> str:
        return self._text(self.u16(field), field)

    def list16(self, field: str) -> Tuple[str, ...]:
        count = self.u16(field)
        # Every entry takes at least its length byte: check before building anything.
        if count > len(self.data) - self.pos:
            raise ProtocolError(f"{self.frame} frame: {field} claims {count} entries, only {len(self.data) - self.pos} bytes left")
        return tuple(self.str8(field) for _ in range(count))

    def rest(self) -> bytes:
        pos = self.pos
        self.pos = len(self.data)
        return self.data[pos:]

    def end(self) -> None:
        left = len(self.data) - self.pos
        if left:
            raise ProtocolError(f"{left} bytes left over after the {self.frame} frame's last field")


_SERVICES = tuple(Service)
_KINDS = tuple(ViewKind)
_REASONS = tuple(Reason)


class MessageDecoder:
    """Decodes message frame bodies (``service u8 | type u16 | sender str8 | u8 count, groups
    str8... | payload rest``), reusing the sender and group names of the previous message when
    their bytes are the same (a stream of messages from one sender to one group list builds
    its strings once). Results and errors are those of a plain decode."""

    __slots__ = ("_sender_bytes", "_sender", "_groups_bytes", "_groups")

    def __init__(self) -> None:
        self._sender_bytes = b""
        self._sender = ""
        self._groups_bytes = b""
        self._groups: Tuple[str, ...] = ()

    def decode(self, body: bytes) -> Message:
        size = len(body)
        if size < 5:
            raise ProtocolError(f"message frame truncated: {size} bytes")
        service = body[0]
        if service > 5:
            raise ProtocolError(f"message frame: service byte {service} (expected 0 to 5)")
        pos = 4 + body[3]
        if pos >= size:
            raise ProtocolError("message frame truncated in the sender or at the group count")
        sender_bytes = body[4:pos]
        if sender_bytes == self._sender_bytes:
            sender = self._sender
        else:
            sender = _utf8(sender_bytes, "message", "sender")
            self._sender_bytes, self._sender = sender_bytes, sender
        start = pos
        count = body[pos]
        pos += 1
        for _ in range(count):
            if pos >= size:
                raise ProtocolError(f"message frame truncated in its {count} groups")
            pos += 1 + body[pos]
        if pos > size:
            raise ProtocolError(f"message frame truncated in its {count} groups")
        groups_bytes = body[start:pos]
        if groups_bytes == self._groups_bytes:
            groups = self._groups
        else:
            names = []
            at = start + 1
            for _ in range(count):
                length = body[at]
                names.append(_utf8(body[at + 1 : at + 1 + length], "message", "group"))
                at += 1 + length
            groups = tuple(names)
            self._groups_bytes, self._groups = groups_bytes, groups
        return Message(sender, groups, _SERVICES[service], (body[1] << 8) | body[2], body[pos:])


def _utf8(data: bytes, frame: str, field: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError(f"{frame} frame: {field} is not valid UTF-8") from None


def decode_message(body: bytes) -> Message:
    """The body of a message frame (without a name cache)."""
    return MessageDecoder().decode(body)


def decode_frame(frame_type: int, body: bytes, messages: Optional[MessageDecoder] = None) -> DaemonFrame:
    """Decodes one daemon frame. Raises :class:`ProtocolError` for an unknown type, a field that
    runs past the body, bad UTF-8, an out-of-range enumeration or bytes left over.
    ``messages`` keeps names between message frames of one stream."""
    if frame_type == 0x82:
        return (messages or MessageDecoder()).decode(body)
    if frame_type == FrameType.MEMBERSHIP:
        reader = _Reader(body, "membership")
        group = reader.str8("group")
        pos = reader._need(_MEMBERSHIP_FIXED.size, "view id, kind and reason")
        ring_seq, representative, index, kind, reason = _MEMBERSHIP_FIXED.unpack_from(body, pos)
        if kind >= len(_KINDS):
            raise ProtocolError(f"membership frame: kind {kind} (expected 0 or 1)")
        if reason >= len(_REASONS):
            raise ProtocolError(f"membership frame: reason {reason} (expected 0 to 3)")
        members = reader.list16("members")
        changed = reader.list16("changed")
        added = reader.list16("added")
        removed = reader.list16("removed")
        reader.end()
        return Membership(
            group, ViewId(ring_seq, representative, index), _KINDS[kind], _REASONS[reason], members, changed, added, removed
        )
    if frame_type == FrameType.WELCOME:
        reader = _Reader(body, "welcome")
        version = reader.u16("version")
        private_group = reader.str8("private group")
        daemon = reader.str8("daemon")
        max_payload = reader.u32("max payload")
        reader.end()
        if not private_group:
            raise ProtocolError("welcome frame: empty private group")
        return Welcome(version, private_group, daemon, max_payload)
    if frame_type == FrameType.ERROR:
        reader = _Reader(body, "error")
        code = reader.u16("code")
        text = reader.str16("text")
        reader.end()
        return ErrorFrame(code_value(code), text)
    if frame_type == FrameType.STATUS_REPLY:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("statusReply frame: the JSON is not valid UTF-8") from None
        try:
            return StatusReply.parse(text)
        except (ValueError, RecursionError) as error:
            raise ProtocolError(f"statusReply frame: not a JSON object ({error})") from None
    if frame_type == FrameType.REFUSED:
        reader = _Reader(body, "refused")
        code = reader.u16("code")
        request = reader.u8("request")
        group = reader.str8("group")
        text = reader.str16("text")
        reader.end()
        return Refused(code_value(code), request_value(request), group, text)
    raise ProtocolError(f"frame type 0x{frame_type:02x} is not a daemon frame")

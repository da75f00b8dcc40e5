"""What a session receives, and the enumerations of the protocol."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any, Dict, Tuple, Union

__all__ = [
    "Service",
    "ViewKind",
    "Reason",
    "ErrorCode",
    "FrameType",
    "ViewId",
    "Message",
    "Membership",
    "Refused",
    "StatusReply",
    "Welcome",
    "Event",
]


class Service(enum.IntEnum):
    """The delivery guarantee of a multicast (docs/protocol.md, multicast)."""

    UNRELIABLE = 0
    RELIABLE = 1
    FIFO = 2
    CAUSAL = 3
    AGREED = 4
    SAFE = 5


class ViewKind(enum.IntEnum):
    """Whether a membership event is a regular or a transitional view."""

    REGULAR = 0
    TRANSITIONAL = 1


class Reason(enum.IntEnum):
    """Why a view changed."""

    JOIN = 0
    LEAVE = 1
    DISCONNECT = 2
    NETWORK = 3


class ErrorCode(enum.IntEnum):
    """The codes of error and refused frames. New codes may be added by later daemons."""

    MALFORMED_FRAME = 1
    UNKNOWN_FRAME_TYPE = 2
    FRAME_TOO_LARGE = 3
    UNSUPPORTED_VERSION = 4
    NOT_CONNECTED = 5
    INVALID_NAME = 6
    NAME_IN_USE = 7
    INVALID_GROUP_NAME = 8
    RESERVED_GROUP_NAME = 9
    TOO_MANY_GROUPS = 10
    TOO_MANY_GROUPS_FOR_SESSION = 11
    PAYLOAD_TOO_LARGE = 12
    TOO_MANY_SESSIONS = 13
    SLOW_RECEIVER = 14
    SHUTTING_DOWN = 15
    INVALID_SERVICE = 16
    AUTHENTICATION_FAILED = 17
    ACCESS_DENIED = 18
    RELOAD_FAILED = 19


class FrameType(enum.IntEnum):
    """Frame type bytes: client frames below 0x80, daemon frames at or above."""

    CONNECT = 0x01
    JOIN = 0x02
    LEAVE = 0x03
    MULTICAST = 0x04
    DISCONNECT = 0x05
    STATUS = 0x06
    RELOAD_KEYS = 0x07
    WELCOME = 0x81
    MESSAGE = 0x82
    MEMBERSHIP = 0x83
    ERROR = 0x84
    STATUS_REPLY = 0x86
    REFUSED = 0x87


@dataclass(frozen=True, order=True)
class ViewId:
    """A view's id: equal at every daemon for the same view, increasing per group.

    ``<`` compares ids as docs/protocol.md says: as the tuple (ring seq, ring representative,
    index). Hashable, so ids can key a dict.
    """

    __slots__ = ("ring_seq", "ring_representative", "index")

    ring_seq: int
    ring_representative: int
    index: int

    def __str__(self) -> str:
        # The Swift library's form: representative/seq:index.
        return f"{self.ring_representative}/{self.ring_seq}:{self.index}"


@dataclass
class Message:
    """A group message delivered to the session. (Events are plain dataclasses with
    ``__slots__``, cheap to make at high rates; treat them as read-only.)"""

    __slots__ = ("sender", "groups", "service", "message_type", "payload")

    #: The sending session's private group, e.g. ``#3#d1``.
    sender: str
    #: The groups the sender addressed (in its order).
    groups: Tuple[str, ...]
    service: Service
    message_type: int
    payload: bytes

    @property
    def text(self) -> str:
        """The payload as UTF-8 text (invalid bytes replaced)."""
        return self.payload.decode("utf-8", "replace")

    def __repr__(self) -> str:
        shown = self.payload if len(self.payload) <= 32 else self.payload[:32] + b"..."
        return (
            f"Message(sender={self.sender!r}, groups={self.groups!r}, service={self.service.name}, "
            f"message_type={self.message_type}, payload={shown!r} ({len(self.payload)} bytes))"
        )


@dataclass
class Membership:
    """A new view of a group the session is in (sent only with ``membership=True``).

    ``members``, ``changed``, ``added`` and ``removed`` hold private group names; ``members``
    is in the same order at every daemon. See docs/protocol.md for the meaning of ``changed``
    in network views and for the order of events around a configuration change.
    """

    __slots__ = ("group", "view_id", "kind", "reason", "members", "changed", "added", "removed")

    group: str
    view_id: ViewId
    kind: ViewKind
    reason: Reason
    members: Tuple[str, ...]
    changed: Tuple[str, ...]
    added: Tuple[str, ...]
    removed: Tuple[str, ...]

    @property
    def is_transitional(self) -> bool:
        return self.kind == ViewKind.TRANSITIONAL

    @property
    def is_regular(self) -> bool:
        return self.kind == ViewKind.REGULAR


@dataclass
class Refused:
    """A join, multicast or reloadKeys the daemon did not carry out (its access rules did not
    allow it). The session stays open."""

    __slots__ = ("code", "request", "group", "text")

    #: Why: ``ErrorCode.ACCESS_DENIED`` (or ``RELOAD_FAILED``); a plain int for a code this
    #: library does not know.
    code: int
    #: The refused request's frame type (``FrameType.JOIN``, ``MULTICAST`` or ``RELOAD_KEYS``),
    #: a plain int if unknown.
    request: int
    #: The group it was refused for (of a multicast to several groups, the first refused).
    group: str
    text: str

    def error(self) -> "Exception":
        """The :class:`~chorus.errors.DaemonError` subclass for this refusal."""
        from .errors import error_for_code

        return error_for_code(int(self.code), self.text)


@dataclass(repr=False)
class StatusReply:
    """A status reply no :meth:`status` call was waiting for (see :meth:`request_status`)."""

    __slots__ = ("text", "document")

    #: The daemon's JSON document as text.
    text: str
    #: The same, decoded (a JSON object).
    document: Dict[str, Any]

    def __repr__(self) -> str:
        return f"StatusReply(daemon={self.document.get('daemon')!r}, {len(self.text)} bytes)"

    @staticmethod
    def parse(text: str) -> "StatusReply":
        value = json.loads(text)
        if not isinstance(value, dict):
            raise ValueError("the status reply is not a JSON object")
        return StatusReply(text, value)


@dataclass
class Welcome:
    """The daemon's answer to connect."""

    __slots__ = ("version", "private_group", "daemon", "max_payload")

    version: int
    private_group: str
    daemon: str
    max_payload: int


#: What iterating a session yields.
Event = Union[Message, Membership, Refused, StatusReply]


def _enum_or_int(cls: Any, value: int) -> int:
    try:
        return cls(value)  # type: ignore[no-any-return]
    except ValueError:
        return value


def code_value(code: int) -> int:
    """An :class:`ErrorCode` if the code is known, else the plain int."""
    return _enum_or_int(ErrorCode, code)


def request_value(request: int) -> int:
    """A :class:`FrameType` if the type is known, else the plain int."""
    return _enum_or_int(FrameType, request)

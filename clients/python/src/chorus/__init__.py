"""Chorus client: sessions with a Chorus daemon (``chorusd``) over TCP or a Unix socket.

The asyncio API::

    import chorus

    async with chorus.connect("127.0.0.1:4800", name="alice") as session:
        await session.join("chat")
        await session.multicast("chat", b"hello", service=chorus.Service.AGREED)
        async for event in session:
            ...

The blocking API is :mod:`chorus.blocking`. The wire format, without I/O, is
:mod:`chorus.protocol`. docs/protocol.md of the Chorus repository is the specification.
"""

from . import blocking, protocol
from .address import DEFAULT_ADDRESS, Address, parse_address
from .aio import Session, connect, open_session
from .errors import (
    AccessDeniedError,
    AuthenticationFailedError,
    ChorusError,
    ConnectionFailed,
    ConnectionLost,
    DaemonError,
    FrameTooLargeError,
    InvalidGroupNameError,
    InvalidNameError,
    InvalidServiceError,
    MalformedFrameError,
    NameInUseError,
    NotConnectedError,
    PayloadTooLargeError,
    ProtocolError,
    ReloadFailedError,
    ReservedGroupNameError,
    SessionClosed,
    ShuttingDownError,
    SlowReceiverError,
    TooManyGroupsError,
    TooManyGroupsForSessionError,
    TooManySessionsError,
    UnknownFrameTypeError,
    UnsupportedVersionError,
    error_for_code,
)
from .events import (
    ErrorCode,
    Event,
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
)
from .protocol import PROTOCOL_VERSION

__version__ = "0.1.0"

__all__ = [
    "connect",
    "open_session",
    "Session",
    "blocking",
    "protocol",
    "Address",
    "parse_address",
    "DEFAULT_ADDRESS",
    "PROTOCOL_VERSION",
    "Service",
    "ViewKind",
    "Reason",
    "ErrorCode",
    "FrameType",
    "ViewId",
    "Event",
    "Message",
    "Membership",
    "Refused",
    "StatusReply",
    "Welcome",
    "ChorusError",
    "ConnectionFailed",
    "ConnectionLost",
    "SessionClosed",
    "ProtocolError",
    "DaemonError",
    "MalformedFrameError",
    "UnknownFrameTypeError",
    "FrameTooLargeError",
    "UnsupportedVersionError",
    "NotConnectedError",
    "InvalidNameError",
    "NameInUseError",
    "InvalidGroupNameError",
    "ReservedGroupNameError",
    "TooManyGroupsError",
    "TooManyGroupsForSessionError",
    "PayloadTooLargeError",
    "TooManySessionsError",
    "SlowReceiverError",
    "ShuttingDownError",
    "InvalidServiceError",
    "AuthenticationFailedError",
    "AccessDeniedError",
    "ReloadFailedError",
    "error_for_code",
]

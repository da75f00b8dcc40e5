"""Exceptions raised by the Chorus client.

Every exception the library raises on purpose derives from :class:`ChorusError`:

* :class:`DaemonError` and one subclass per error code of docs/protocol.md: the daemon
  sent an ``error`` frame (the session is over) or, for :meth:`Session.reload_keys`, a
  ``refused`` frame. ``code`` is the protocol's number, ``text`` the daemon's explanation.
* :class:`ConnectionFailed`: the daemon could not be reached.
* :class:`ConnectionLost`: the daemon went away (end of stream or reset) without an error frame.
* :class:`SessionClosed`: the session was closed by this client and cannot be used any more.
* :class:`ProtocolError`: the daemon sent bytes that are not a valid frame.

Arguments that cannot be sent at all (a group name of 300 bytes, a service of 9) raise
``ValueError`` or ``TypeError`` before anything is written; the session goes on.
"""

from __future__ import annotations

from typing import Dict, Optional, Type

__all__ = [
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


class ChorusError(Exception):
    """Base class of every error of the Chorus client."""


class ConnectionFailed(ChorusError):
    """The daemon could not be reached (nothing listens there, permission denied, TLS failed...)."""


class ConnectionLost(ChorusError):
    """The connection to the daemon ended (end of stream or reset) without an error frame."""


class SessionClosed(ChorusError):
    """The session was closed by this client; it cannot be used any more."""


class ProtocolError(ChorusError):
    """The daemon sent something that is not a valid frame of the client protocol.

    The connection is closed when this is raised: a byte stream that went wrong once cannot
    be trusted to resynchronise.
    """


class DaemonError(ChorusError):
    """The daemon refused something: an ``error`` frame (the session is over), or a ``refused``
    frame answering :meth:`reload_keys`.

    ``code`` is the protocol's error code and ``text`` the daemon's explanation for people.
    Codes this library does not know (the protocol may add some) come as ``DaemonError``
    itself.
    """

    #: The protocol's code for this class (0 for the base class).
    CODE: int = 0
    #: The protocol's name of the code.
    NAME: str = "error"

    def __init__(self, code: int, text: str) -> None:
        super().__init__(code, text)
        self.code = code
        self.text = text

    def __str__(self) -> str:
        name = _NAMES.get(self.code, f"error {self.code}")
        return f"{name} ({self.code}): {self.text}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, text={self.text!r})"


class MalformedFrameError(DaemonError):
    """1: a frame this client sent was truncated, had a bad field or trailing bytes."""

    CODE = 1
    NAME = "malformedFrame"


class UnknownFrameTypeError(DaemonError):
    """2: the type byte of a frame this client sent is not a client frame type."""

    CODE = 2
    NAME = "unknownFrameType"


class FrameTooLargeError(DaemonError):
    """3: a frame's length exceeded the daemon's limit."""

    CODE = 3
    NAME = "frameTooLarge"


class UnsupportedVersionError(DaemonError):
    """4: the daemon does not speak the protocol version this client asked for."""

    CODE = 4
    NAME = "unsupportedVersion"


class NotConnectedError(DaemonError):
    """5: the first frame was not connect, connect came twice, or it came too late."""

    CODE = 5
    NAME = "notConnected"


class InvalidNameError(DaemonError):
    """6: the session name is not 1 to 32 of ``A-Z a-z 0-9 _ - .``."""

    CODE = 6
    NAME = "invalidName"


class NameInUseError(DaemonError):
    """7: another session on this daemon has that name."""

    CODE = 7
    NAME = "nameInUse"


class InvalidGroupNameError(DaemonError):
    """8: a group name is empty or longer than the daemon allows."""

    CODE = 8
    NAME = "invalidGroupName"


class ReservedGroupNameError(DaemonError):
    """9: join or leave of a name starting with ``#``."""

    CODE = 9
    NAME = "reservedGroupName"


class TooManyGroupsError(DaemonError):
    """10: a multicast named no group or more than the daemon allows."""

    CODE = 10
    NAME = "tooManyGroups"


class TooManyGroupsForSessionError(DaemonError):
    """11: a join would exceed the number of groups a session may be in."""

    CODE = 11
    NAME = "tooManyGroupsForSession"


class PayloadTooLargeError(DaemonError):
    """12: a payload exceeded the daemon's ``max payload``."""

    CODE = 12
    NAME = "payloadTooLarge"


class TooManySessionsError(DaemonError):
    """13: the daemon has its maximum number of sessions."""

    CODE = 13
    NAME = "tooManySessions"


class SlowReceiverError(DaemonError):
    """14: the session did not read its messages fast enough."""

    CODE = 14
    NAME = "slowReceiver"


class ShuttingDownError(DaemonError):
    """15: the daemon is stopping."""

    CODE = 15
    NAME = "shuttingDown"


class InvalidServiceError(DaemonError):
    """16: the service byte of a multicast was above 5."""

    CODE = 16
    NAME = "invalidService"


class AuthenticationFailedError(DaemonError):
    """17: the token matched none of the daemon's, or one was required and none came."""

    CODE = 17
    NAME = "authenticationFailed"


class AccessDeniedError(DaemonError):
    """18: the access rules do not allow the request (refused frames only)."""

    CODE = 18
    NAME = "accessDenied"


class ReloadFailedError(DaemonError):
    """19: a reloadKeys request could not be carried out (refused frames only)."""

    CODE = 19
    NAME = "reloadFailed"


_CLASSES: Dict[int, Type[DaemonError]] = {
    cls.CODE: cls
    for cls in (
        MalformedFrameError,
        UnknownFrameTypeError,
        FrameTooLargeError,
        UnsupportedVersionError,
        NotConnectedError,
        InvalidNameError,
        NameInUseError,
        InvalidGroupNameError,
        ReservedGroupNameError,
        TooManyGroupsError,
        TooManyGroupsForSessionError,
        PayloadTooLargeError,
        TooManySessionsError,
        SlowReceiverError,
        ShuttingDownError,
        InvalidServiceError,
        AuthenticationFailedError,
        AccessDeniedError,
        ReloadFailedError,
    )
}
_NAMES: Dict[int, str] = {code: cls.NAME for code, cls in _CLASSES.items()}


def error_for_code(code: int, text: str) -> DaemonError:
    """The exception for a daemon error code: its subclass, or ``DaemonError`` for an unknown code."""
    cls: Optional[Type[DaemonError]] = _CLASSES.get(code)
    return (cls or DaemonError)(code, text)

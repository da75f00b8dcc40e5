"""Where a daemon listens: parsing of addresses as the Swift library and CLI take them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional, Tuple, Union

__all__ = ["Address", "AddressLike", "DEFAULT_ADDRESS", "parse_address"]

#: The daemon's default client address with no configuration (the Swift library's
#: ``ChorusEndpoint.local`` and the ``chorus`` CLI's ``--daemon`` default).
DEFAULT_ADDRESS = "127.0.0.1:4800"


@dataclass(frozen=True)
class Address:
    """A TCP endpoint (``host``, ``port``) or a Unix socket (``path``)."""

    host: Optional[str] = None
    port: Optional[int] = None
    path: Optional[str] = None

    @property
    def is_unix(self) -> bool:
        return self.path is not None

    def __str__(self) -> str:
        if self.path is not None:
            return self.path
        host = self.host or ""
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"


AddressLike = Union[str, "os.PathLike[str]", Tuple[str, int], Address]


def parse_address(address: Optional[AddressLike]) -> Address:
    """Parses ``host:port``, ``[v6]:port``, a bare port (on 127.0.0.1), a path starting with
    ``/`` or a ``PathLike`` (a Unix socket), or a ``(host, port)`` tuple. ``None`` is
    :data:`DEFAULT_ADDRESS`."""
    if address is None:
        address = DEFAULT_ADDRESS
    if isinstance(address, Address):
        return address
    if isinstance(address, tuple):
        host, port = address
        return Address(host=str(host), port=_port(str(port), address))
    if isinstance(address, os.PathLike):
        return Address(path=os.fspath(address))
    if not isinstance(address, str):
        raise TypeError(f"an address is a str, a path or a (host, port) tuple, not {type(address).__name__}")
    text = address.strip()
    if text.startswith("/"):
        return Address(path=text)
    if text.isdigit():
        return Address(host="127.0.0.1", port=_port(text, address))
    name, colon, port_text = text.rpartition(":")
    if not colon or not name:
        raise ValueError(f"address {address!r}: expected host:port, a port number, or a Unix socket path")
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    return Address(host=name, port=_port(port_text, address))


def _port(text: str, address: object) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"address {address!r}: port {text!r} is not 1 to 65535")
    return int(text)

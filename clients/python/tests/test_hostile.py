"""A fake daemon that misbehaves: the client must end with a typed error, promptly, never hang
or allocate what a length field claims."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
from pathlib import Path
from typing import List, Optional

import pytest
from conftest import run

import chorus
import chorus.blocking


def frame(frame_type: int, body: bytes) -> bytes:
    return struct.pack(">IB", len(body) + 1, frame_type) + body


def str8(text: str) -> bytes:
    return bytes((len(text),)) + text.encode()


WELCOME = frame(0x81, struct.pack(">H", 3) + str8("#1#d9") + str8("fake") + struct.pack(">I", 1000))
MESSAGE = frame(0x82, bytes((4,)) + b"\x00\x00" + str8("#2#d9") + bytes((1,)) + str8("g") + b"hi")


class FakeDaemon:
    """Serves each connection: reads the connect frame, sends ``script``, then closes (or
    holds the connection open with ``hold``, or resets it with ``reset``)."""

    def __init__(self, path: Path, script: bytes, hold: bool = False, reset: bool = False, tcp: bool = False) -> None:
        self.script = script
        self.hold = hold
        self.reset = reset
        if tcp:
            self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.listener.bind(("127.0.0.1", 0))
            self.address = f"127.0.0.1:{self.listener.getsockname()[1]}"
        else:
            self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.listener.bind(str(path))
            self.address = str(path)
        self.listener.listen(8)
        self.listener.settimeout(0.05)
        self.stopping = threading.Event()
        self.connections: List[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                continue
            self.connections.append(connection)
            connection.settimeout(5)
            try:
                header = self._read(connection, 4)
                if header is None:
                    continue
                (length,) = struct.unpack(">I", header)
                if self._read(connection, length) is None:
                    continue
                connection.sendall(self.script)
                if self.reset:
                    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    connection.close()
                elif not self.hold:
                    connection.close()
            except OSError:
                pass

    @staticmethod
    def _read(connection: socket.socket, count: int) -> Optional[bytes]:
        data = b""
        while len(data) < count:
            chunk = connection.recv(count - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(5)
        self.listener.close()
        for connection in self.connections:
            connection.close()


@pytest.fixture()
def fake(tmp_path: Path):  # type: ignore[no-untyped-def]
    made: List[FakeDaemon] = []

    def make(script: bytes, **options: bool) -> FakeDaemon:
        daemon = FakeDaemon(tmp_path / f"fake{len(made)}.sock", script, **options)
        made.append(daemon)
        return daemon

    yield make
    for daemon in made:
        daemon.stop()


async def first_failure(address: str, timeout: float = 5.0) -> BaseException:
    """Connects, then reads events until the session fails; returns the exception (a failure
    may also come while connecting, e.g. a reset that overtakes the welcome)."""
    try:
        async with chorus.connect(address, name="victim", timeout=2) as session:
            while True:
                await session.receive(timeout)
    except chorus.ChorusError as error:
        return error
    raise AssertionError("unreachable")


def blocking_failure(address: str, timeout: float = 5.0) -> BaseException:
    try:
        session = chorus.blocking.connect(address, name="victim", timeout=2)
    except chorus.ChorusError as error:
        return error
    try:
        while True:
            session.receive(timeout)
    except chorus.ChorusError as error:
        return error
    finally:
        session.abort()


def test_a_message_before_welcome_is_a_protocol_error(fake) -> None:  # type: ignore[no-untyped-def]
    daemon = fake(MESSAGE, hold=True)
    with pytest.raises(chorus.ProtocolError, match="first frame"):
        run(chorus.connect(daemon.address, name="x", timeout=2), timeout=10)
    with pytest.raises(chorus.ProtocolError):
        chorus.blocking.connect(daemon.address, name="x", timeout=2)


def test_a_huge_first_frame_is_refused_at_its_length(fake) -> None:  # type: ignore[no-untyped-def]
    daemon = fake(struct.pack(">IB", 10 << 20, 0x81), hold=True)
    with pytest.raises(chorus.ProtocolError, match="first frame length"):
        run(chorus.connect(daemon.address, name="x", timeout=2), timeout=10)


@pytest.mark.parametrize(
    "tail, error",
    [
        (struct.pack(">I", 0xFFFFFFFF), chorus.ProtocolError),  # 4 GiB claimed: refused, not awaited
        (struct.pack(">I", 0), chorus.ProtocolError),
        (WELCOME, chorus.ProtocolError),  # a second welcome
        (frame(0x83, str8("g") + b"\x00" * 22 + b"\xff\xff"), chorus.ProtocolError),  # 65535 members in 2 bytes
        (frame(0x87, b"\x00\x12\x02" + str8("g") + b"\x00\x01x" + b"junk"), chorus.ProtocolError),  # leftover bytes
        (frame(0x85, b""), chorus.ProtocolError),  # unknown frame type
        (MESSAGE[:9], chorus.ConnectionLost),  # half a frame, then the end
        (b"", chorus.ConnectionLost),
    ],
)
def test_hostile_stream_after_welcome_ends_cleanly(fake, tail: bytes, error: type) -> None:  # type: ignore[no-untyped-def]
    daemon = fake(WELCOME + MESSAGE + tail, hold=error is chorus.ProtocolError)
    started = time.monotonic()
    failure = run(first_failure(daemon.address), timeout=10)
    assert type(failure) is error, failure
    failure = blocking_failure(daemon.address)
    assert type(failure) is error, failure
    assert time.monotonic() - started < 5


def test_messages_before_the_failure_are_delivered_first(fake) -> None:  # type: ignore[no-untyped-def]
    daemon = fake(WELCOME + MESSAGE + MESSAGE + struct.pack(">I", 0), hold=True)

    async def scenario() -> None:
        async with chorus.connect(daemon.address, name="x", timeout=2) as session:
            assert session.private_group == "#1#d9" and session.daemon_name == "fake" and session.max_payload == 1000
            events = []
            with pytest.raises(chorus.ProtocolError):
                async for event in session:
                    events.append(event)
            assert [e.payload for e in events] == [b"hi", b"hi"]  # type: ignore[union-attr]
            with pytest.raises(chorus.ProtocolError):
                await session.join("g")  # the session is over: requests say why

    run(scenario(), timeout=10)


def test_error_frames_become_typed_exceptions(fake) -> None:  # type: ignore[no-untyped-def]
    refused = fake(frame(0x84, struct.pack(">H", 7) + b"\x00\x05taken"), hold=True)
    with pytest.raises(chorus.NameInUseError) as caught:
        run(chorus.connect(refused.address, name="x", timeout=2), timeout=10)
    assert caught.value.code == 7 and caught.value.text == "taken"
    with pytest.raises(chorus.NameInUseError):
        chorus.blocking.connect(refused.address, name="x", timeout=2)

    unknown = fake(frame(0x84, struct.pack(">H", 999) + b"\x00\x03new"), hold=True)
    with pytest.raises(chorus.DaemonError) as caught_unknown:
        run(chorus.connect(unknown.address, name="x", timeout=2), timeout=10)
    assert type(caught_unknown.value) is chorus.DaemonError and caught_unknown.value.code == 999

    later = fake(WELCOME + MESSAGE + frame(0x84, struct.pack(">H", 14) + b"\x00\x04slow"), hold=True)
    failure = run(first_failure(later.address), timeout=10)
    assert isinstance(failure, chorus.SlowReceiverError) and failure.text == "slow"


def test_a_silent_daemon_is_a_connection_failure(fake) -> None:  # type: ignore[no-untyped-def]
    silent = fake(b"", hold=True)
    started = time.monotonic()
    with pytest.raises(chorus.ConnectionFailed, match="no welcome"):
        run(chorus.connect(silent.address, name="x", timeout=0.5), timeout=10)
    with pytest.raises(chorus.ConnectionFailed, match="no welcome"):
        chorus.blocking.connect(silent.address, name="x", timeout=0.5)
    assert time.monotonic() - started < 3


def test_a_reset_is_connection_lost(fake) -> None:  # type: ignore[no-untyped-def]
    daemon = fake(WELCOME, reset=True, tcp=True)
    assert isinstance(run(first_failure(daemon.address), timeout=10), chorus.ConnectionLost)
    assert isinstance(blocking_failure(daemon.address), chorus.ConnectionLost)


def test_nothing_listening_is_a_connection_failure(tmp_path: Path) -> None:
    with pytest.raises(chorus.ConnectionFailed):
        run(chorus.connect(str(tmp_path / "none.sock"), name="x", timeout=2), timeout=10)
    with pytest.raises(chorus.ConnectionFailed):
        chorus.blocking.connect(str(tmp_path / "none.sock"), name="x", timeout=2)


def test_status_waits_are_bounded(fake) -> None:  # type: ignore[no-untyped-def]
    daemon = fake(WELCOME, hold=True)

    async def scenario() -> None:
        async with chorus.connect(daemon.address, name="x", timeout=2) as session:
            with pytest.raises(asyncio.TimeoutError):
                await session.status(timeout=0.3)
            with pytest.raises(asyncio.TimeoutError):
                await session.receive(timeout=0.1)
            await session.close(timeout=0.3)  # the fake never closes: close gives up and aborts
            assert session.closed
            with pytest.raises(chorus.SessionClosed):
                await session.receive(timeout=1)

    run(scenario(), timeout=10)
    session = chorus.blocking.connect(daemon.address, name="x", timeout=2)
    with pytest.raises(TimeoutError):
        session.status(timeout=0.3)
    session.close(timeout=0.3)
    with pytest.raises(chorus.SessionClosed):
        session.receive(timeout=1)

"""The wire format without a daemon: encoding against docs/protocol.md's example, and a decoder
fed truncated, oversized, leftover and random bytes."""

from __future__ import annotations

import random
import struct

import pytest

import chorus
from chorus import protocol
from chorus.events import FrameType, Membership, Message, Reason, Refused, Service, StatusReply, ViewId, ViewKind, Welcome
from chorus.protocol import ErrorFrame, FrameDecoder, decode_frame


def frame(frame_type: int, body: bytes) -> bytes:
    return struct.pack(">IB", len(body) + 1, frame_type) + body


def str8(text: str) -> bytes:
    data = text.encode()
    return bytes((len(data),)) + data


def str16(text: str) -> bytes:
    data = text.encode()
    return struct.pack(">H", len(data)) + data


def list16(items: list) -> bytes:
    return struct.pack(">H", len(items)) + b"".join(str8(item) for item in items)


WELCOME = frame(0x81, struct.pack(">H", 3) + str8("#1#d1") + str8("d1") + struct.pack(">I", 1 << 24))
MESSAGE = frame(0x82, bytes((4,)) + struct.pack(">H", 7) + str8("#1#d1") + bytes((2,)) + str8("a") + str8("b") + b"payload")
MEMBERSHIP = frame(
    0x83,
    str8("chat")
    + struct.pack(">QIQBB", 5, 1, 2, 0, 0)
    + list16(["#1#d1", "#2#d2"])
    + list16(["#2#d2"])
    + list16(["#2#d2"])
    + list16([]),
)
ERROR = frame(0x84, struct.pack(">H", 6) + str16("bad name"))
STATUS = frame(0x86, b'{"daemon": "d1", "ring": {"members": ["d1"]}}')
REFUSED = frame(0x87, struct.pack(">H", 18) + bytes((2,)) + str8("billing") + str16("may not join"))
VALID = [WELCOME, MESSAGE, MEMBERSHIP, ERROR, STATUS, REFUSED]


def decode_one(data: bytes) -> object:
    frames = FrameDecoder().feed(data)
    assert len(frames) == 1
    return decode_frame(*frames[0])


# MARK: Encoding


def test_encoding_matches_the_documented_example() -> None:
    assert protocol.encode_connect("a", True) == bytes.fromhex("00000007 01 0003 01 0161 00".replace(" ", ""))
    assert protocol.encode_join("chat") == bytes.fromhex("00000006 02 04 63686174".replace(" ", ""))
    assert protocol.encode_multicast(["chat"], b"hi", Service.AGREED) == bytes.fromhex(
        "0000000d 04 04 00 0000 01 0463686174 6869".replace(" ", "")
    )
    assert protocol.encode_connect("a", False, "tok") == bytes.fromhex("0000000a 01 0003 00 0161 03746f6b".replace(" ", ""))
    assert protocol.encode_leave("g") == frame(0x03, str8("g"))
    assert protocol.encode_disconnect() == frame(0x05, b"")
    assert protocol.encode_status() == frame(0x06, b"")
    assert protocol.encode_reload_keys() == frame(0x07, b"")
    assert protocol.encode_multicast(["a", "#3#d2"], b"", Service.SAFE, 0x1234, True) == frame(
        0x04, bytes((5, 1)) + b"\x12\x34" + bytes((2,)) + str8("a") + str8("#3#d2")
    )


def test_encoding_refuses_what_the_format_cannot_carry() -> None:
    with pytest.raises(ValueError):
        protocol.encode_join("")
    with pytest.raises(ValueError):
        protocol.encode_join("x" * 256)
    with pytest.raises(ValueError):
        protocol.encode_join("#1#d1")  # private groups cannot be joined
    with pytest.raises(ValueError):
        protocol.encode_multicast([], b"x")
    with pytest.raises(ValueError):
        protocol.encode_multicast(["g"] * 256, b"x")
    with pytest.raises(ValueError):
        protocol.encode_multicast(["g"], b"x", service=6)
    with pytest.raises(ValueError):
        protocol.encode_multicast(["g"], b"x", message_type=1 << 16)
    with pytest.raises(ValueError):
        protocol.encode_connect("n" * 256, True)
    with pytest.raises(TypeError):
        protocol.encode_join(b"bytes")  # type: ignore[arg-type]


def test_addresses_parse_as_the_swift_library_does() -> None:
    assert chorus.parse_address(None) == chorus.Address(host="127.0.0.1", port=4800)
    assert chorus.parse_address("10.1.2.3:99") == chorus.Address(host="10.1.2.3", port=99)
    assert chorus.parse_address("4801") == chorus.Address(host="127.0.0.1", port=4801)
    assert chorus.parse_address("[::1]:4800") == chorus.Address(host="::1", port=4800)
    assert chorus.parse_address("/tmp/chorusd.4800.sock") == chorus.Address(path="/tmp/chorusd.4800.sock")
    assert chorus.parse_address(("localhost", 5)) == chorus.Address(host="localhost", port=5)
    for bad in ["nohost", "host:", "host:0", "host:70000", ":12"]:
        with pytest.raises(ValueError):
            chorus.parse_address(bad)


# MARK: Decoding valid frames


def test_valid_frames_decode_field_by_field() -> None:
    assert decode_one(WELCOME) == Welcome(3, "#1#d1", "d1", 1 << 24)
    assert decode_one(MESSAGE) == Message("#1#d1", ("a", "b"), Service.AGREED, 7, b"payload")
    assert decode_one(MEMBERSHIP) == Membership(
        "chat", ViewId(5, 1, 2), ViewKind.REGULAR, Reason.JOIN, ("#1#d1", "#2#d2"), ("#2#d2",), ("#2#d2",), ()
    )
    error = decode_one(ERROR)
    assert isinstance(error, ErrorFrame) and error.code == 6 and error.text == "bad name"
    status = decode_one(STATUS)
    assert isinstance(status, StatusReply) and status.document["ring"]["members"] == ["d1"]
    assert decode_one(REFUSED) == Refused(chorus.ErrorCode.ACCESS_DENIED, FrameType.JOIN, "billing", "may not join")


def test_stream_cut_anywhere_gives_the_same_frames() -> None:
    stream = b"".join(VALID)
    whole = FrameDecoder().feed(stream)
    assert len(whole) == len(VALID)
    for cut in range(1, len(stream)):
        decoder = FrameDecoder()
        frames = decoder.feed(stream[:cut]) + decoder.feed(stream[cut:])
        assert frames == whole
    decoder = FrameDecoder()
    byte_by_byte = [f for i in range(len(stream)) for f in decoder.feed(stream[i : i + 1])]
    assert byte_by_byte == whole
    assert decoder.at_frame_boundary()


def test_message_with_empty_payload_and_max_service() -> None:
    body = bytes((5,)) + b"\xff\xff" + str8("#9#d3") + bytes((1,)) + str8("g")
    assert decode_one(frame(0x82, body)) == Message("#9#d3", ("g",), Service.SAFE, 0xFFFF, b"")


# MARK: Hostile bytes


def expect_protocol_error(data: bytes, **decoder_options: int) -> None:
    with pytest.raises(chorus.ProtocolError):
        for frame_type, body in FrameDecoder(**decoder_options).feed(data):
            decode_frame(frame_type, body)


def test_zero_length_is_an_error() -> None:
    expect_protocol_error(b"\x00\x00\x00\x00")


def test_oversized_length_is_refused_before_the_body_arrives() -> None:
    decoder = FrameDecoder()
    with pytest.raises(chorus.ProtocolError, match="exceeds"):
        decoder.feed(struct.pack(">I", protocol.MAX_FRAME_LENGTH + 1))  # only the length: nothing allocated
    with pytest.raises(chorus.ProtocolError):
        FrameDecoder().feed(b"\xff\xff\xff\xff\x82")
    # The largest legal length is accepted and simply waits for its body.
    decoder = FrameDecoder()
    assert decoder.feed(struct.pack(">IB", protocol.MAX_FRAME_LENGTH, 0x82)) == []
    assert decoder.buffered == 5


def test_first_frame_limit() -> None:
    # A daemon's first frame is a welcome or an error: a 1 MiB one is refused at once.
    with pytest.raises(chorus.ProtocolError, match="first frame"):
        FrameDecoder(max_first_frame_length=protocol.MAX_FIRST_FRAME_LENGTH).feed(struct.pack(">IB", 1 << 20, 0x81))
    decoder = FrameDecoder(max_first_frame_length=protocol.MAX_FIRST_FRAME_LENGTH)
    assert len(decoder.feed(WELCOME)) == 1
    assert decoder.feed(struct.pack(">IB", 1 << 20, 0x82)) == []  # later frames may be large


def test_truncated_fields_are_errors() -> None:
    for valid in [WELCOME, MESSAGE, MEMBERSHIP, ERROR, REFUSED]:
        body = valid[5:]
        for cut in range(len(body)):
            if valid is MESSAGE and cut >= len(body) - len(b"payload"):
                continue  # the payload is "rest": any length is valid
            with pytest.raises(chorus.ProtocolError):
                decode_frame(valid[4], body[:cut])


def test_leftover_bytes_are_errors() -> None:
    for valid in [WELCOME, MEMBERSHIP, ERROR, REFUSED]:
        with pytest.raises(chorus.ProtocolError, match="left over"):
            decode_frame(valid[4], valid[5:] + b"\x00")


def test_declared_lengths_past_the_body_are_errors() -> None:
    # A str8 claiming 200 bytes where 3 are left.
    expect_protocol_error(frame(0x84, struct.pack(">H", 1) + b"\x00\xc8abc"))
    # A list16 claiming 65535 members in a tiny frame: refused before any list is built.
    body = str8("g") + struct.pack(">QIQBB", 1, 1, 1, 0, 0) + b"\xff\xff" + b"\x01a"
    with pytest.raises(chorus.ProtocolError, match="65535 entries"):
        decode_frame(0x83, body)
    # A group count larger than the groups present.
    expect_protocol_error(frame(0x82, bytes((4,)) + b"\x00\x00" + str8("#1#d1") + bytes((9,)) + str8("g")))


def test_bad_values_are_errors() -> None:
    expect_protocol_error(frame(0x82, bytes((6,)) + b"\x00\x00" + str8("#1#d1") + bytes((1,)) + str8("g")))  # service 6
    membership = bytearray(MEMBERSHIP)
    kind_at = 5 + 5 + 8 + 4 + 8
    membership[kind_at] = 2
    expect_protocol_error(bytes(membership))
    membership = bytearray(MEMBERSHIP)
    membership[kind_at + 1] = 4  # reason
    expect_protocol_error(bytes(membership))
    expect_protocol_error(frame(0x84, struct.pack(">H", 1) + b"\x00\x02\xc3\x28"))  # bad UTF-8
    expect_protocol_error(frame(0x86, b"not json"))
    expect_protocol_error(frame(0x86, b"[1, 2]"))  # JSON, but not an object
    expect_protocol_error(frame(0x86, b"[" * 100000))  # nesting deep enough to overflow a recursive parser
    expect_protocol_error(frame(0x86, b"\xff"))
    expect_protocol_error(frame(0x81, struct.pack(">H", 3) + str8("") + str8("d1") + b"\x00\x00\x00\x01"))  # no private group


def test_unknown_and_client_frame_types_are_errors() -> None:
    for frame_type in [0x00, 0x01, 0x04, 0x7F, 0x80, 0x85, 0x88, 0xFF]:
        with pytest.raises(chorus.ProtocolError, match="not a daemon frame"):
            decode_frame(frame_type, b"")


def test_random_corruption_only_ever_raises_protocol_error() -> None:
    rng = random.Random(20240601)
    for _ in range(4000):
        data = bytearray(rng.choice(VALID))
        for _ in range(rng.randint(1, 4)):
            choice = rng.random()
            if choice < 0.5 and data:
                data[rng.randrange(len(data))] = rng.randrange(256)
            elif choice < 0.75 and data:
                del data[rng.randrange(len(data)) :]
            else:
                data += bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        decoder = FrameDecoder()
        try:
            for frame_type, body in decoder.feed(bytes(data)):
                decode_frame(frame_type, body)
        except chorus.ProtocolError:
            pass
        assert decoder.buffered <= len(data)

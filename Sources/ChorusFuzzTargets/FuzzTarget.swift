import ChorusDaemon
import ChorusProtocol
import ChorusSeal
import ChorusSpread
import ChorusWire
import Crypto
import NIOCore

/// Every decoder that reads input from outside the process, as a fuzz target: `run` must never
/// trap, whatever the bytes. Where a decoder accepts the input, what it decoded is encoded again
/// and must decode to the same value (so a decoder that accepts what its encoder cannot write,
/// or reads it differently, fails too).
///
/// `chorus-fuzz` runs them under libFuzzer (docs/fuzzing.md); `FuzzCorpusTests` replays the
/// committed corpus of each in the normal test run.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// A ring datagram (data, token, join, commit token, leave, wake).
    case ring
    /// A hop datagram between sites' representatives.
    case hop
    /// A hop message (link state, routed message) inside a hop packet.
    case hopMessage = "hop-message"
    /// A group-layer message inside a ring message (client data, joins, state announcements).
    case group
    /// A wide-area message (data, heartbeats, proposals, installs, state) inside a ring message.
    case wideArea = "wide-area"
    /// Bytes a client sends: cut into frames, each decoded as a client request.
    case clientFrames = "client-frames"
    /// Bytes a daemon sends, as a client library reads them.
    case daemonFrames = "daemon-frames"
    /// A configuration file.
    case config
    /// A key file and a tokens file.
    case keyFile = "key-file"
    /// A sealed datagram, opened with a fixed key.
    case sealed
    /// Bytes a Spread client sends to the Spread-compatible listener: the handshake, then messages.
    case spread

    /// Runs the target on `bytes`. Traps only on a bug (a decoder that traps, or a round trip
    /// that does not give back what was decoded).
    public func run(_ bytes: UnsafeRawBufferPointer) {
        var buffer = ByteBufferAllocator().buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        switch self {
        case .ring:
            // As sent, and with its checksum made right (a hostile peer computes it: a CRC stops
            // accidents only), so mutations reach the fields behind it.
            for bytes in [buffer, Self.withChecksum(buffer)] {
                guard let packet = try? PacketCodec.decode(bytes) else { continue }
                Self.same(try? PacketCodec.decode(PacketCodec.encode(packet)), packet)
            }
        case .hop:
            for bytes in [buffer, Self.withChecksum(buffer)] {
                guard let packet = try? HopPacketCodec.decode(bytes) else { continue }
                Self.same(try? HopPacketCodec.decode(HopPacketCodec.encode(packet)), packet)
            }
        case .hopMessage:
            guard let message = try? HopMessageCodec.decode(buffer) else { return }
            Self.same(try? HopMessageCodec.decode(HopMessageCodec.encode(message)), message)
        case .group:
            var names = GroupNameCache()
            let plain = try? GroupMessageCodec.decode(buffer)
            let cached = try? GroupMessageCodec.decode(buffer, names: &names)
            Self.same(cached, plain)  // the fast path reads what the plain one reads
            guard let message = plain else { return }
            Self.same(try? GroupMessageCodec.decode(GroupMessageCodec.encode(message)), message)
        case .wideArea:
            guard let message = try? WideAreaMessageCodec.decode(buffer) else { return }
            Self.same(try? WideAreaMessageCodec.decode(WideAreaMessageCodec.encode(message)), message)
        case .clientFrames:
            var decoder = FrameDecoder(maxFrameLength: 1 << 20, maxFirstFrameLength: ClientProtocol.maxConnectFrameLength)
            var groups = GroupListCache()
            while let frame = try? decoder.decode(buffer: &buffer) {
                guard let request = try? ClientRequest.decode(frame, groups: &groups) else { continue }
                var again = ByteBuffer()
                request.encode(into: &again)
                var redecoder = FrameDecoder()
                guard let reframed = try? redecoder.decode(buffer: &again) else { preconditionFailure("re-encoded request does not frame") }
                Self.same(try? ClientRequest.decode(reframed), request)
            }
        case .daemonFrames:
            var decoder = FrameDecoder(maxFrameLength: 1 << 20)
            while let frame = try? decoder.decode(buffer: &buffer) {
                guard let event = try? DaemonEvent.decode(frame) else { continue }
                var again = ByteBuffer()
                event.encode(into: &again)
                var redecoder = FrameDecoder()
                guard let reframed = try? redecoder.decode(buffer: &again) else { preconditionFailure("re-encoded event does not frame") }
                Self.same(try? DaemonEvent.decode(reframed), event)
            }
        case .config:
            _ = try? DaemonConfig.parse(String(decoding: bytes, as: UTF8.self), file: "fuzz.toml")
        case .keyFile:
            let text = String(decoding: bytes, as: UTF8.self)
            _ = try? KeyFile.parse(text, file: "keys")
            _ = try? TokenFile.parse(text, file: "tokens")
        case .sealed:
            var sealer = Self.sealer
            _ = sealer.open(buffer, channel: .ring, now: 0)
            _ = sealer.open(buffer, channel: .hop, now: 0)
        case .spread:
            // One session from its first byte: once its handshake is in, it is accepted (as
            // `#fuzz#d1`) and the rest is read as messages. What is read keeps Spread's limits.
            var reader = SpreadSessionReader(maxData: 1 << 16)
            while let event = try? reader.next(&buffer) {
                switch event {
                case .connect(let connect):
                    precondition(connect.name.utf8.count <= Spread.maxPrivateName, "a private name beyond Spread's limit")
                case .authentication(let methods):
                    precondition(!methods.isEmpty && methods.count <= 3)
                    reader.accepted(privateGroup: "#fuzz#d1")
                case .request(.multicast(let message)):
                    precondition((1...Spread.maxGroupsPerMessage).contains(message.groups.count), "\(message.groups.count) groups")
                    precondition(message.groups.allSatisfy { $0.utf8.count < Spread.groupNameSize } && message.service <= 5)
                    precondition(message.payload.readableBytes <= 1 << 16, "data beyond the reader's limit")
                case .request(.join(let group)), .request(.leave(let group)):
                    precondition(!group.isEmpty && group.utf8.count < Spread.groupNameSize)
                case .request(.disconnect): break
                }
            }
        }
    }

    /// A sealer with a fixed key, for `sealed` (a fuzzer cannot forge a tag; it explores the
    /// checks before it).
    static let sealer = DatagramSealer(
        me: 1, incarnation: 1, keys: SealKeys([1: SymmetricKey(data: [UInt8](repeating: 7, count: 32))]), members: [1, 2, 3])

    /// Datagrams sealed with `sealer`'s key (seeds for `sealed`): a ring packet, an empty key
    /// announcement, a hop datagram.
    public static func sealedSamples() -> [[UInt8]] {
        var peer = DatagramSealer(
            me: 2, incarnation: 5, keys: SealKeys([1: SymmetricKey(data: [UInt8](repeating: 7, count: 32))]), members: [1, 2, 3])
        let allocator = ByteBufferAllocator()
        return [
            peer.seal(PacketCodec.encode(.wake(WakeMessage(sender: NodeID(2), ringID: .none))), channel: .ring, allocator: allocator),
            peer.seal(allocator.buffer(capacity: 0), channel: .ring, allocator: allocator),
            peer.seal(allocator.buffer(string: "hop"), channel: .hop, allocator: allocator),
        ].map { Array($0.readableBytesView) }
    }

    /// Spread client sessions (seeds for `spread`): the handshake, then a join, multicasts in
    /// either byte order, a leave and a disconnect, laid out as libspread sends them.
    public static func spreadSamples() -> [[UInt8]] {
        func int(_ value: UInt32, _ little: Bool) -> [UInt8] {
            let bytes = [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 24)]
            return little ? bytes : bytes.reversed()
        }
        func name(_ text: String) -> [UInt8] { Array(text.utf8) + [UInt8](repeating: 0, count: 32 - text.utf8.count) }
        func message(_ type: UInt32, _ groups: [String], _ data: [UInt8] = [], little: Bool = true, messageType: UInt32 = 0) -> [UInt8] {
            let marker: UInt32 = little ? 0x8000_0080 : 0
            return int(type | marker, little) + name("#fuzz#d1") + int(UInt32(groups.count), little)
                + int((messageType << 8) & 0x00FF_FF00 | marker, little) + int(UInt32(data.count), little)
                + groups.flatMap(name) + data
        }
        let handshake: [UInt8] = [4, 4, 0, 1, 4] + Array("fuzz".utf8) + name("NULL") + [UInt8](repeating: 0, count: 58)
        return [
            handshake + message(0x0001_0000, ["chat"]) + message(0x10, ["chat", "#x#d2"], Array("hello".utf8), messageType: 7),
            handshake + message(0x20 | 0x40, ["a", "b", "c"], [1, 2, 3], little: false) + message(0x0002_0000, ["a"], little: false),
            handshake + message(0x02, ["g"], [UInt8](repeating: 9, count: 300)) + message(0x0004_0000, ["#fuzz#d1"]),
            [3, 16, 0, 0, 0] + name("NULL") + name("") + name(""),
        ]
    }

    /// `buffer` with its last 4 bytes replaced by the CRC32C of the bytes before them.
    public static func withChecksum(_ buffer: ByteBuffer) -> ByteBuffer {
        guard buffer.readableBytes > 4 else { return buffer }
        var fixed = buffer
        let crc = buffer.withUnsafeReadableBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0.dropLast(4))) }
        fixed.setInteger(crc, at: fixed.writerIndex - 4)
        return fixed
    }

    static func same<T: Equatable>(_ again: T?, _ original: T?) {
        precondition(again == original, "decoded \(String(describing: original)), re-encoded and decoded \(String(describing: again))")
    }

    /// The target named `name` (its raw value).
    public static func named(_ name: String) -> FuzzTarget? { FuzzTarget(rawValue: name) }
}

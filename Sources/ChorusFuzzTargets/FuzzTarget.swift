import ChorusDaemon
import ChorusProtocol
import ChorusSeal
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

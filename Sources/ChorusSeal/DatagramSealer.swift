import Crypto
import Foundation
import NIOCore

/// Why an incoming datagram was dropped.
public enum SealRejection: String, Error, Sendable, CaseIterable, CustomStringConvertible {
    /// Too short, or a sealed datagram's header this build does not read.
    case malformed
    /// A plain (unsealed) ring or hop datagram, while keys are on.
    case unsealed
    /// Sealed with a key id this daemon does not hold.
    case unknownKey
    /// The tag did not verify: a forgery, corruption, or another key under the same id.
    case badTag
    /// A counter taken before or too old for the window, or an older incarnation of its sender.
    case replay
    /// The sender is not a daemon of the configuration.
    case notMember
    /// The header names another channel than the socket it came in on.
    case wrongChannel
    public var description: String {
        switch self {
        case .malformed: "malformed"
        case .unsealed: "unsealed"
        case .unknownKey: "unknown key"
        case .badTag: "bad tag"
        case .replay: "replay"
        case .notMember: "not a member"
        case .wrongChannel: "wrong channel"
        }
    }
}

/// What a sealer counts.
public struct SealCounters: Sendable, Equatable {
    public var sealed = 0
    public var opened = 0
    /// Dropped datagrams by cause.
    public var rejected: [SealRejection: Int] = [:]
    /// Times the sealing key changed (a rotation went through, or a peer holding only an older
    /// key was heard).
    public var keyChanges = 0
    public init() {}
    public var rejectedTotal: Int { rejected.values.reduce(0, +) }
}

/// Seals a daemon's outgoing datagrams and opens incoming ones, as a sans-IO state machine:
/// AES-256-GCM with a key derived per (configured key, sender, incarnation), a counter per
/// incarnation as the nonce, and a replay window per sender and channel.
///
/// Key choice: every datagram says which keys its sender holds (oldest and newest id). A daemon
/// seals with the newest of its keys that every peer heard within `peerMemory` holds, so after a
/// new key is added everywhere (and the key files reloaded) the daemons move to it by themselves,
/// and a daemon that has not reloaded yet keeps the others on the old one.
///
/// Replays: a counter taken before, or more than `ReplayWindow.size` below the highest, is
/// refused; so is an incarnation of a sender older than the newest one heard from it (its
/// datagrams from before a restart). State changes only after the tag verified.
public struct DatagramSealer: Sendable {
    public let me: UInt32
    public let incarnation: UInt64
    public private(set) var keys: SealKeys
    /// Daemons whose datagrams are opened (every daemon of the configuration).
    public let members: Set<UInt32>
    /// A peer's held keys count for the choice of key while it was heard this recently (ns).
    public var peerMemory: UInt64 = 10_000_000_000
    public private(set) var counters = SealCounters()
    /// The key id sealing now.
    public private(set) var sealingKeyID: UInt16

    private var counter: UInt64 = 0
    /// This daemon's derived keys, by key id.
    private var ownKeys: [UInt16: AESGCMContext] = [:]
    private let allocator = ByteBufferAllocator()
    private var peers: [UInt32: PeerState] = [:]

    struct PeerState: Sendable {
        var incarnation: UInt64
        var windows: [SealChannel: ReplayWindow] = [:]
        /// Derived keys of this incarnation, by key id.
        var derived: [UInt16: AESGCMContext] = [:]
        var oldest: UInt16
        var newest: UInt16
        var heardAt: UInt64

        /// Takes an authentic datagram's header; returns whether the choice of key may change
        /// (the keys it holds changed, or it had been quiet longer than `memory`).
        mutating func take(_ header: SealHeader, key: AESGCMContext, now: UInt64, memory: UInt64) -> Bool {
            derived[header.keyID] = key
            windows[header.channel, default: ReplayWindow()].take(header.counter)
            let changed = oldest != header.oldestKeyID || newest != header.newestKeyID || now &- heardAt > memory
            oldest = header.oldestKeyID
            newest = header.newestKeyID
            heardAt = now
            return changed
        }
    }

    /// `incarnation`: this daemon's start in µs since 1970 (larger after every restart).
    public init(me: UInt32, incarnation: UInt64, keys: SealKeys, members: Set<UInt32>) {
        self.me = me
        self.incarnation = incarnation
        self.keys = keys
        self.members = members
        sealingKeyID = keys.newest
    }

    /// The incarnation for a daemon starting now.
    public static func incarnationNow() -> UInt64 { UInt64(max(1, Date().timeIntervalSince1970 * 1_000_000)) }

    /// Takes a new key set (the key file was reloaded): keys no longer in it neither seal nor open.
    public mutating func replaceKeys(_ keys: SealKeys, now: UInt64) {
        self.keys = keys
        ownKeys = [:]
        for id in Array(peers.keys) { peers[id]!.derived = [:] }
        chooseKey(now: now)
    }

    // MARK: Sealing

    /// `plaintext` sealed for `channel`: header, ciphertext and tag in a new buffer.
    public mutating func seal(_ plaintext: ByteBuffer, channel: SealChannel, allocator: ByteBufferAllocator) -> ByteBuffer {
        var out = allocator.buffer(capacity: plaintext.readableBytes + SealFormat.overhead)
        seal(plaintext, channel: channel, into: &out)
        return out
    }

    /// Appends `plaintext` sealed for `channel` to `out` (`plaintext.readableBytes +
    /// SealFormat.overhead` bytes), so a datagram can be sealed straight into a send buffer.
    public mutating func seal(_ plaintext: ByteBuffer, channel: SealChannel, into out: inout ByteBuffer) {
        let keyID = sealingKeyID
        let key = ownKey(keyID)
        let header = nextHeader(channel: channel, keyID: keyID)
        let start = out.writerIndex
        header.write(into: &out)
        let headerEnd = out.writerIndex
        let sealedSize = plaintext.readableBytes + SealFormat.tagSize
        out.reserveCapacity(minimumWritableBytes: sealedSize)
        // The header already ends in the nonce: the ciphertext and the tag follow it, encrypted
        // straight from the packet into the send buffer.
        let written = plaintext.withUnsafeReadableBytes { message in
            // The buffer's storage, indexed like the buffer (writer index and all).
            out.withVeryUnsafeMutableBytes { storage in
                key.seal(
                    message, nonce: UnsafeRawBufferPointer(rebasing: storage[(start + SealFormat.associatedSize)..<headerEnd]),
                    authenticating: UnsafeRawBufferPointer(rebasing: storage[start..<(start + SealFormat.associatedSize)]),
                    into: UnsafeMutableRawBufferPointer(rebasing: storage[headerEnd..<(headerEnd + sealedSize)]))
            }
        }
        // AES-GCM with a 12-byte nonce and room for the output never fails.
        precondition(written == sealedSize, "AES-GCM seal failed")
        out.moveWriterIndex(forwardBy: sealedSize)
    }

    /// Appends a sealed datagram to `out` whose packet `writePlaintext` writes straight into
    /// `out` (after the header): the packet is then encrypted where it lies, so encoding and
    /// sealing cost one pass over the bytes and no buffer of their own.
    public mutating func seal(channel: SealChannel, into out: inout ByteBuffer, writePlaintext: (inout ByteBuffer) -> Void) {
        let keyID = sealingKeyID
        let key = ownKey(keyID)
        let header = nextHeader(channel: channel, keyID: keyID)
        let start = out.writerIndex
        header.write(into: &out)
        let plaintextStart = out.writerIndex
        writePlaintext(&out)
        let plaintextEnd = out.writerIndex
        out.reserveCapacity(minimumWritableBytes: SealFormat.tagSize)
        let sealedSize = plaintextEnd - plaintextStart + SealFormat.tagSize
        let written = out.withVeryUnsafeMutableBytes { storage in
            key.seal(
                UnsafeRawBufferPointer(rebasing: storage[plaintextStart..<plaintextEnd]),
                nonce: UnsafeRawBufferPointer(rebasing: storage[(start + SealFormat.associatedSize)..<plaintextStart]),
                authenticating: UnsafeRawBufferPointer(rebasing: storage[start..<(start + SealFormat.associatedSize)]),
                into: UnsafeMutableRawBufferPointer(rebasing: storage[plaintextStart..<(plaintextStart + sealedSize)]))
        }
        precondition(written == sealedSize, "AES-GCM seal failed")
        out.moveWriterIndex(forwardBy: SealFormat.tagSize)
    }

    /// The next datagram's header (its counter taken).
    private mutating func nextHeader(channel: SealChannel, keyID: UInt16) -> SealHeader {
        let header = SealHeader(
            channel: channel, keyID: keyID, oldestKeyID: keys.oldest, newestKeyID: keys.newest, sender: me,
            incarnation: incarnation, counter: counter)
        counter &+= 1
        counters.sealed += 1
        return header
    }

    // MARK: Opening

    /// The packet inside `datagram`, which came in on `channel`, or why it was dropped (counted).
    public mutating func open(_ datagram: ByteBuffer, channel: SealChannel, now: UInt64) -> Result<ByteBuffer, SealRejection> {
        switch verify(datagram, channel: channel, now: now) {
        case .success(let plaintext):
            counters.opened += 1
            return .success(plaintext)
        case .failure(let cause):
            counters.rejected[cause, default: 0] += 1
            return .failure(cause)
        }
    }

    private mutating func verify(_ datagram: ByteBuffer, channel: SealChannel, now: UInt64) -> Result<ByteBuffer, SealRejection> {
        guard let header = SealHeader.read(datagram) else {
            return .failure(SealHeader.isPlain(datagram) ? .unsealed : .malformed)
        }
        guard header.channel == channel else { return .failure(.wrongChannel) }
        // Its own come back too: a ring of one passes the token to itself, multicast loops back.
        guard members.contains(header.sender) else { return .failure(.notMember) }
        guard let configured = keys.keys[header.keyID] else { return .failure(.unknownKey) }
        // Only scalars are read before the tag verifies: a copy of the sender's state held here
        // would make the in-place update below copy its windows on every datagram.
        let knownIncarnation = peers[header.sender]?.incarnation
        if let knownIncarnation {
            if header.incarnation < knownIncarnation { return .failure(.replay) }
            if header.incarnation == knownIncarnation, peers[header.sender]!.windows[channel].map({ !$0.admits(header.counter) }) ?? false {
                return .failure(.replay)
            }
        }
        let cached = knownIncarnation == header.incarnation ? peers[header.sender]!.derived[header.keyID] : nil
        guard let key = cached ?? Self.derive(configured, sender: header.sender, incarnation: header.incarnation) else {
            return .failure(.unknownKey)
        }
        // Decrypted straight into a buffer of its own: the datagram may be a slice of a large
        // read buffer that the ring must not keep alive.
        let plaintextSize = datagram.readableBytes - SealFormat.overhead
        var plaintext = allocator.buffer(capacity: plaintextSize)
        let opened = datagram.withUnsafeReadableBytes { bytes in
            plaintext.writeWithUnsafeMutableBytes(minimumWritableBytes: plaintextSize) { out in
                key.open(
                    UnsafeRawBufferPointer(rebasing: bytes[SealFormat.headerSize...]),
                    nonce: UnsafeRawBufferPointer(rebasing: bytes[SealFormat.associatedSize..<SealFormat.headerSize]),
                    authenticating: UnsafeRawBufferPointer(rebasing: bytes[..<SealFormat.associatedSize]),
                    into: UnsafeMutableRawBufferPointer(rebasing: out[..<plaintextSize])) ?? 0
            }
        }
        guard opened == plaintextSize else { return .failure(.badTag) }
        // Authentic: only now may it move the sender's state.
        var rechoose = false
        if knownIncarnation.map({ header.incarnation > $0 }) ?? true {
            peers[header.sender] = PeerState(
                incarnation: header.incarnation, oldest: header.oldestKeyID, newest: header.newestKeyID, heardAt: now)
            rechoose = true
        }
        if peers[header.sender]!.take(header, key: key, now: now, memory: peerMemory) { rechoose = true }
        if rechoose { chooseKey(now: now) }
        return .success(plaintext)
    }

    // MARK: Keys

    /// Seals with the newest key every recently heard peer holds (by the ids it says it holds);
    /// with none in common, the newest here.
    public mutating func chooseKey(now: UInt64) {
        // Its own datagrams (which come back in a ring of one) say only what it held then.
        let recent = peers.filter { $0.key != me && now &- $0.value.heardAt <= peerMemory }.values
        let choice = keys.ids.reversed().first { id in recent.allSatisfy { $0.oldest <= id && id <= $0.newest } } ?? keys.newest
        if choice != sealingKeyID {
            sealingKeyID = choice
            counters.keyChanges += 1
        }
    }

    /// Looks again at which peers count (call now and then: one that went quiet stops holding
    /// the others back).
    public mutating func tick(now: UInt64) { chooseKey(now: now) }

    private mutating func ownKey(_ id: UInt16) -> AESGCMContext {
        if let key = ownKeys[id] { return key }
        // A configured key is 32 bytes (`KeyFile`), and so is every derived one.
        let key = Self.derive(keys.keys[id]!, sender: me, incarnation: incarnation)!
        ownKeys[id] = key
        return key
    }

    /// The AES-256-GCM key of (`key`, `sender`, `incarnation`), set up for use.
    static func derive(_ key: SymmetricKey, sender: UInt32, incarnation: UInt64) -> AESGCMContext? {
        AESGCMContext(key: derivedKey(key, sender: sender, incarnation: incarnation))
    }

    static func derivedKey(_ key: SymmetricKey, sender: UInt32, incarnation: UInt64) -> SymmetricKey {
        var info = [UInt8]("chorus seal v1".utf8)
        withUnsafeBytes(of: sender.bigEndian) { info += $0 }
        withUnsafeBytes(of: incarnation.bigEndian) { info += $0 }
        return HKDF<SHA256>.deriveKey(inputKeyMaterial: key, info: info, outputByteCount: 32)
    }
}

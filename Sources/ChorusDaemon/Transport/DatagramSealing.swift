import ChorusSeal
import Logging
import NIOCore

/// The daemon's sealing of its ring and hop datagrams (`[security] key_file`): one
/// `DatagramSealer` for both sockets, the key file it reloads, and logs of what it drops that an
/// attacker cannot turn into a flood (per cause: the 1st, 2nd, 4th, 8th… drop only).
///
/// Confined to the daemon's event loop, like `DaemonCore` (hence `@unchecked Sendable`).
final class DatagramSealing: @unchecked Sendable {
    private(set) var sealer: DatagramSealer
    let keyFile: String
    private let logger: Logger
    private let allocator = ByteBufferAllocator()
    /// When the daemon last announced its keys to its site (`RingTransport.announceKeys`); 0: never.
    private var announcedAt: UInt64 = 0
    /// How often the keys are announced; a quarter of the sealer's `peerMemory`, so a live peer
    /// is never forgotten for want of news.
    var announceInterval: UInt64 { sealer.peerMemory / 4 }

    init(keyFile: String, keys: SealKeys, me: UInt32, members: Set<UInt32>, logger: Logger) {
        self.keyFile = keyFile
        self.logger = logger
        sealer = DatagramSealer(me: me, incarnation: DatagramSealer.incarnationNow(), keys: keys, members: members)
        logger.notice("daemon traffic sealed (AES-256-GCM), keys \(keys.ids.map(String.init).joined(separator: ", ")) from \(keyFile)")
    }

    func seal(_ packet: ByteBuffer, channel: SealChannel) -> ByteBuffer {
        sealer.seal(packet, channel: channel, allocator: allocator)
    }

    /// Seals `packet` straight into `out` (a send run's buffer).
    func seal(_ packet: ByteBuffer, channel: SealChannel, into out: inout ByteBuffer) {
        sealer.seal(packet, channel: channel, into: &out)
    }

    /// Seals the packet `writePlaintext` writes straight into `out`, in place (a send run's buffer).
    func seal(channel: SealChannel, into out: inout ByteBuffer, writePlaintext: (inout ByteBuffer) -> Void) {
        sealer.seal(channel: channel, into: &out, writePlaintext: writePlaintext)
    }

    /// The packet inside `datagram`, or nil (dropped, counted, and now and then logged).
    func open(_ datagram: ByteBuffer, channel: SealChannel, now: UInt64) -> ByteBuffer? {
        let keyBefore = sealer.sealingKeyID
        switch sealer.open(datagram, channel: channel, now: now) {
        case .success(let packet):
            if sealer.sealingKeyID != keyBefore { logKeyChange(from: keyBefore) }
            return packet
        case .failure(let cause):
            let count = sealer.counters.rejected[cause] ?? 0
            if count & (count - 1) == 0 {
                logger.warning("dropped a \(channel) datagram: \(cause) (\(count) so far for this cause)")
            }
            return nil
        }
    }

    /// Now and then: a peer gone quiet stops holding the choice of key back.
    func tick(now: UInt64) {
        let keyBefore = sealer.sealingKeyID
        sealer.tick(now: now)
        if sealer.sealingKeyID != keyBefore { logKeyChange(from: keyBefore) }
    }

    /// Whether the keys should be announced now (and notes that they are).
    func announcementDue(now: UInt64) -> Bool {
        guard announcedAt == 0 || now &- announcedAt >= announceInterval else { return false }
        announcedAt = now
        return true
    }

    /// Reads the key file again (SIGHUP, or `chorus keys reload`). A file that does not load
    /// leaves the keys as they were; the error says why.
    @discardableResult
    func reload(now: UInt64) -> Result<[UInt16], KeyFileError> {
        do {
            let keys = try KeyFile.load(path: keyFile)
            let keyBefore = sealer.sealingKeyID
            sealer.replaceKeys(keys, now: now)
            announcedAt = 0  // announced at the next housekeeping tick
            logger.notice("key file reloaded: keys \(keys.ids.map(String.init).joined(separator: ", ")), sealing with \(sealer.sealingKeyID)")
            if sealer.sealingKeyID != keyBefore { logKeyChange(from: keyBefore) }
            return .success(keys.ids)
        } catch {
            logger.error("key file not reloaded, the keys stay as they were: \(error)")
            return .failure(error)
        }
    }

    private func logKeyChange(from before: UInt16) {
        logger.notice("sealing with key \(sealer.sealingKeyID) (was \(before)): the keys every peer holds changed")
    }
}
